"""What the verbs of the ``replay`` command share: epochs, output options, run files."""

import argparse
import glob
import json
from pathlib import Path

from replay.errors import EmptySelectionError, EpochOutOfRangeError, OptionError, RunFileError


def counted(number, noun):
    """``number`` and ``noun``, plural when ``number`` is not 1: ``"1 run"``, ``"3 runs"``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def format_bytes(size):
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def check_epoch(epoch, clock, owner):
    """Return the snapshot index of ``--epoch`` (``None`` is the last), in the CLI's words.

    The check is the run's (:meth:`replay.Run.snapshot_index`); only the
    message is reworded, to name the option and ``owner`` (e.g. "each run").
    """
    try:
        return clock.snapshot_index(-1 if epoch is None else epoch)
    except EpochOutOfRangeError as error:
        if not error.n_snapshots:
            raise  # no snapshot at all: the run's message says so
        if isinstance(epoch, float):  # an epoch value: the run's message names the nearest
            raise EpochOutOfRangeError(f"--epoch {epoch}: {error}", value=epoch,
                                       n_snapshots=error.n_snapshots, run=error.run) from None
        n = error.n_snapshots
        raise EpochOutOfRangeError(
            f"--epoch {epoch} is out of range: {owner} holds snapshots 0..{n - 1} (negative "
            f"values count from the end, down to -{n}).", value=epoch, n_snapshots=n,
            run=error.run) from None


def epoch_argument(text):
    """``--epoch``: an integer is a snapshot index, a number with a point an epoch value."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--epoch takes a snapshot index (e.g. 40, -1) or an epoch value (e.g. 2.5). "
            f"Got {text!r}.") from None


def select_epochs(text, clock, owner):
    """Return the snapshot indices of ``--epochs START:STOP:STEP`` (``None``: all), in the CLI's words."""
    from replay.run import parse_epoch_selection

    if text is not None:
        parse_epoch_selection(text, name="--epochs")  # a malformed one, in the CLI's words
    try:
        return clock.select(text)  # the string: it ends on the final snapshot (Run.select)
    except EmptySelectionError as error:
        n = error.n_snapshots
        raise EmptySelectionError(
            f"--epochs {text} selects no snapshot: {owner} holds snapshots 0..{n - 1}.",
            value=text, n_snapshots=n, run=error.run) from None


def save_and_report(scene, args, kind, epoch=None, epochs=None, what=""):
    """Render ``scene`` to ``--out`` and print one line saying what was written.

    Args:
        what: text after the opening parenthesis, e.g. ``"3 runs, "``.
    """
    sizes = [flag for flag, value in (("--dpi", args.dpi), ("--width", args.width),
                                      ("--preset", args.preset)) if value is not None]
    if len(sizes) > 1:
        raise OptionError(f"{' and '.join(sizes)} each set the size in pixels: give only one "
                          "of --dpi, --width and --preset.")
    size = {"dpi": args.dpi, "width": args.width, "preset": args.preset}
    gif_only = [flag for flag, value in (("--loop", args.loop), ("--colors", args.colors))
                if value is not None]
    if kind != "gif" and gif_only:
        raise OptionError(f"{' and '.join(gif_only)} only applies to a .gif; the output is "
                          f"a .{kind}.")
    if kind == "png":
        if args.hold_last:
            raise OptionError("--hold-last holds the last frame of an .mp4 or .gif; the "
                              "output is a .png (one epoch).")
        stats = scene.save(args.out, epoch=epoch, **size)
        print(f"wrote {stats.path} ({what}epoch {scene.epoch_}, "
              f"{stats.size[0]}x{stats.size[1]} pixels)")
    else:
        media = {"hold_last": args.hold_last}
        if kind == "gif":
            media.update(loop=args.loop, colors=args.colors)
        stats = scene.save(args.out, epochs=epochs, fps=args.fps, progress=False if args.quiet else None,
                           **size, **media)
        written = (f"{stats.bytes / 1e6:.2f} MB" if stats.bytes >= 1e5 else
                   f"{stats.bytes / 1e3:.0f} kB")  # decimal units, as file browsers show them
        print(f"wrote {stats.path} ({what}{stats.frames} frames, {stats.size[0]}x"
              f"{stats.size[1]} pixels, {written}, {stats.video_fps:g} fps video; "
              f"rendered in {stats.seconds:.1f} s at {stats.render_rate:.1f} frames/s)")
    from replay.views.base import close_figure  # here: the verbs that draw nothing skip matplotlib

    close_figure(scene.figure_)  # a command line (or a test calling main) keeps no figures
    return stats


def check_output_options(args, kind):
    """Refuse --epoch with an animation and --epochs with a still."""
    if kind == "png" and args.epochs is not None:
        raise OptionError(
            f"--epochs {args.epochs} selects the frames of an .mp4 or .gif, but the output "
            "is a .png (one epoch): use --epoch N instead."
        )
    if kind != "png" and args.epoch is not None:
        raise OptionError(
            f"--epoch picks one epoch for a .png; for an .{kind} use "
            "--epochs start:stop:step."
        )


#: Help of --model-file (info, render).
MODEL_FILE_HELP = ("for a DeepReplay run: the Keras 2 model file DeepReplay saved for it "
                   "(default: RUN_model.h5 beside FILE, if there)")


def figure_size(text):
    try:
        width, height = (float(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"figure size must look like WIDTHxHEIGHT in inches, e.g. 12x6. Got {text!r}."
        ) from error
    return width, height


RUN_FILE_SUFFIXES = (".h5", ".hdf5")


def check_run_files(files):
    """Refuse FILE arguments that name no file, directory or glob, like ``replay info`` does."""
    for spec in files:
        path = Path(spec)
        if path.exists() or glob.has_magic(spec):
            continue  # a directory or a glob: replay.Runs says when it holds no runs;
            # a pipe or a device: opening it says it is not a regular file
        file, colon, _ = spec.rpartition(":")
        if colon and file and Path(file).is_file():
            continue  # FILE:RUN; a missing run is reported when it is opened
        if colon and file and file.lower().endswith(RUN_FILE_SUFFIXES):
            spec = file
        elif colon and not spec.lower().endswith(RUN_FILE_SUFFIXES):
            raise RunFileError(
                f"No such run file: '{file}' (in '{spec}'). Give FILE or FILE:RUN with an "
                "existing run file."
            )
        raise RunFileError(
            f"No such run file: '{spec}'. Check the path, or record a run into it first "
            "with replay.Recorder."
        )


def compared_runs(args):
    """The runs of ``replay compare`` / ``replay table`` as a list of :class:`replay.Run`."""
    return list(selected_runs(args))


def selected_runs(args):
    """The :class:`replay.Runs` that FILE... (files, FILE:RUN, directories, globs), --runs
    and --where select."""
    from replay.collection import Runs

    check_run_files(args.files)
    names = getattr(args, "runs", None)
    if names and all(Path(spec).is_file() for spec in args.files):
        # Explicit files: every name must be a run of every file.
        runs = Runs([f"{file}:{name}" for file in args.files for name in names])
    else:
        runs = Runs(args.files)
        if names:
            runs = runs.named(names)
    tests = getattr(args, "where", None)
    if tests:
        runs = runs.where(**dict(tests))
        if not runs:
            raise OptionError(
                f"--where {' '.join(f'{name}={value}' for name, value in tests)} selects no "
                f"run. Values there: {_describe_values(Runs(args.files), tests)}.")
    return runs


def _describe_values(runs, tests):
    values = runs.hparam_values()
    return "; ".join(f"{name}: {', '.join(map(str, values.get(name, [])))}"
                     for name, _ in tests)


def where_argument(text):
    """``--where NAME=VALUE``: the value as JSON (0.1, true, null) or else as text (relu)."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(
            f"--where takes NAME=VALUE, e.g. activation=relu or lr=0.1. Got {text!r}.")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    if isinstance(parsed, (list, dict)):
        parsed = value
    return name, parsed


def add_run_selection(parser, *, runs_flag="--runs"):
    """The FILE... (files, FILE:RUN, directories, globs), --runs and --where arguments of
    the verbs that take several runs."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="run file(s) (.h5), FILE:RUN for one run of a file, directories "
                             "(searched recursively) or globs of run files (quote them)")
    parser.add_argument(runs_flag, nargs="+", metavar="RUN", dest="runs",
                        help="run names (in every FILE; default: all runs)")
    parser.add_argument("--where", nargs="+", metavar="NAME=VALUE", type=where_argument,
                        help="only the runs with these hyperparameters (Run.hparams), e.g. "
                             "activation=relu lr=0.1")


def add_frame_arguments(parser):
    """The options that pick and size the frames of a picture: ``--epoch``, ``--epochs``,
    ``--fps``, ``--dpi`` and the media options (``--width``, ``--preset``, ...)."""
    from replay.render.save import MEDIA_ARGUMENTS

    parser.add_argument("--epoch", type=epoch_argument,
                        help="snapshot of a .png: an index (default: the last; -1 is the last) "
                             "or an epoch value with a point, e.g. 2.5 on a per-batch run")
    parser.add_argument("--epochs", help="snapshots of an .mp4/.gif, start:stop:step "
                                         "(default: all; write --epochs=-50: for a "
                                         "negative start)")
    parser.add_argument("--fps", type=float, default=10, help="frames per second (default 10)")
    parser.add_argument("--dpi", type=float, help="pixels per inch (default 100)")
    for flag, options in MEDIA_ARGUMENTS:  # --width, --preset, --hold-last, --loop, --colors
        parser.add_argument(flag, **options)
