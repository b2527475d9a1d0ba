"""``replay watch``: follow a run while another process records it."""

import os
import sys

from replay.cli.common import counted
from replay.errors import OptionError


def _has_display():
    """Whether an interactive matplotlib window can open here."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return sys.platform in ("darwin", "win32")
    import matplotlib

    return matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo",
                                                    "template")


def run(args):
    """Follow a run while it is recorded: a window, or a PNG rewritten after every snapshot."""
    from replay import live

    if args.interval <= 0:
        raise OptionError(f"--interval must be a positive number of seconds. Got "
                          f"{args.interval:g}.")
    if args.view is not None and args.scene is not None:
        raise OptionError("--scene and --view each choose the picture: give only one.")
    if args.out is not None and not args.out.lower().endswith(".png"):
        raise OptionError(f"--out {args.out!r}: replay watch writes a .png.")
    build = live.picture_builder(args.scene or "default", args.view)
    run = live.wait_for_run(args.file, args.run, timeout=args.wait)
    size = {"dpi": args.dpi} if args.dpi is not None else {}
    out = args.out
    window = out is None and _has_display()
    if out is None and not window:
        out = f"{os.path.splitext(args.file)[0]}_{run.name}_live.png"
    try:
        with run:
            if window:
                shown = _watch_in_window(run, build, args.interval, size)
            else:
                shown = live.watch_png(run, out, build=build, interval=args.interval,
                                       on_frame=None if args.quiet else (
                                           lambda index: print(
                                               f"wrote {out} (snapshot {index}, epoch "
                                               f"{run.epochs[index]:g})", flush=True)),
                                       **size)
            state = ("complete" if run.complete else
                     "stopped without completing (the recording ended early)")
    except KeyboardInterrupt:
        print("stopped watching", file=sys.stderr)
        return 130
    print(f"run {run.name!r}: {run.n_snapshots} snapshots, {state}; drew {counted(shown, 'picture')}")
    return 0


def _watch_in_window(run, build, interval, size):
    """Show the newest snapshot in a matplotlib window, redrawn after every new one."""
    import tempfile

    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    from replay import live

    figure, image, shown = None, None, 0
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "live.png")
        for index in live.newest_snapshots(run, interval=interval):
            pixels = mpimg.imread(live.save_png(build, run, index, out, **size))
            if figure is None:
                figure = plt.figure(f"replay watch: {run.name}")
                axes = figure.add_axes((0, 0, 1, 1))
                axes.set_axis_off()
                image = axes.imshow(pixels)
                plt.show(block=False)
            else:
                image.set_data(pixels)
            figure.canvas.draw_idle()
            plt.pause(0.05)
            shown += 1
    return shown


def add(subparsers):
    from replay.views.registry import view_names  # imports (and registers) the views

    parser = subparsers.add_parser(
        "watch", help="follow a run while it is recorded",
        description="Follow a run while another process records it: an interactive window "
                    "where a display exists, otherwise (or with --out) a PNG rewritten "
                    "after every new snapshot. Ends when the run completes (or its "
                    "recording stops), or on Ctrl-C.")
    parser.add_argument("file", help="run file (.h5)")
    parser.add_argument("--run", help="run name (may be omitted when the file holds one)")
    picture = parser.add_mutually_exclusive_group()
    picture.add_argument("--scene", choices=("default", "part1"),
                         help="the scene to draw (default: default)")
    picture.add_argument("--view", choices=view_names(), help="one view instead of a scene")
    parser.add_argument("--out", help="PNG rewritten after every snapshot (default without "
                                      "a display: FILE_RUN_live.png)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between looks at the file (default 1)")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="seconds to wait for the file and run to appear (default 60)")
    parser.add_argument("--dpi", type=float, help="pixels per inch (default 100)")
    parser.add_argument("--quiet", action="store_true", help="no line per picture")
    parser.set_defaults(func=run)
