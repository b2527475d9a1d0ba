"""The ``replay`` command line.

Each verb is a function ``add_<verb>(subparsers)`` that registers its parser
and sets ``func``; :func:`main` dispatches and turns replay's own errors
into a one-line message and exit status 2.
"""

import argparse
import os
import sys

from replay.errors import (
    EmptySelectionError,
    EpochOutOfRangeError,
    OptionError,
    ReplayError,
    RunFileError,
)
from replay.io import schema
from replay.views.base import close_figure
from replay.views.registry import LIMITS, view_names, view_options


def _format_bytes(size):
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def _check_epoch(epoch, clock, owner):
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


def _epoch_argument(text):
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


def _select_epochs(text, clock, owner):
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


def _save_and_report(scene, args, kind, epoch=None, epochs=None, what=""):
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
    close_figure(scene.figure_)  # a command line (or a test calling main) keeps no figures
    return stats


def _check_output_options(args, kind):
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


def run_info(args):
    """Print the runs of a file: snapshots, layers, history keys and array sizes."""
    from replay.io.runfile import list_runs
    from replay.run import Run, format_hparams

    names = list_runs(args.file) if not args.run else [args.run]
    try:
        on_disk = f", {_format_bytes(os.path.getsize(args.file))} on disk"
    except OSError:
        on_disk = ""
    print(f"{args.file}: {len(names)} run(s){on_disk}")
    for name in names:
        with Run(args.file, name, model_file=args.model_file) as run:
            attrs = run.attrs
            status = "complete" if run.complete else "INCOMPLETE"
            if run.stopped_early:
                status += ", stopped early"
            if run.diverged_epoch is not None:
                status += f", DIVERGED at epoch {run.diverged_epoch:g} (loss not finite)"
            epochs = (f"epochs {run.epochs[0]:g}..{run.epochs[-1]:g}" if run.n_snapshots
                      else "nothing recorded yet")
            print(f"\nrun {name!r}: {run.n_snapshots} snapshots ({epochs}), {status}")
            print(f"  keras {attrs.get('keras_version')} on {attrs.get('backend')}, "
                  f"loss {attrs.get('loss')}, batch size {attrs.get('batch_size')}, "
                  f"{attrs.get('n_samples')} samples"
                  + (f", created {attrs['created']}" if attrs.get("created") else ""))
            if run.hparams:
                print(f"  hparams: {format_hparams(run.hparams)}")
            if run.trial:
                print(f"  trial: {format_hparams(run.trial)}")
            if attrs.get("format") == "DeepReplay":
                print(_describe_deepreplay(run))
            for layer in run.layers:
                role = "hidden" if layer.hidden else "output"
                print(f"  layer {layer.name:<16} {layer.class_name:<8} {layer.units:>5} units "
                      f"{layer.activation:<12} {role}{_describe_storage(layer)}")
            history = run.history
            if history:
                keys = [key for key in history if key != "epoch"]
                final = ", ".join(f"{key}={history[key][-1]:.4g}" for key in keys)
                print(f"  history ({len(history.get('epoch', []))} epochs): {final}")
            arrays = run.arrays()
            recomputed = run.attrs.get(schema.RECOMPUTED_ATTRIBUTE) or {}
            if args.arrays:
                for path, (shape, dtype, size) in sorted(arrays.items()):
                    stored = "recomputed" if path in recomputed else _format_bytes(size)
                    print(f"    {path:<40} {str(shape):<22} {str(dtype):<8} {stored}")
            print(_describe_sizes(run, arrays, recomputed))
    return 0


def _describe_storage(layer):
    """``" [activations recomputed, ...]"``: the quantities of a layer not stored as they are."""
    names = {"preactivations": "z-values"}
    parts = []
    for quantity, mode in (layer.storage or {}).items():
        name = names.get(quantity, quantity)
        if mode == "recomputed":
            parts.append(f"{name} recomputed")
        elif mode == "summary":
            parts.append(f"{name} as summaries")
        elif mode is None and quantity == "weights":
            parts.append("no weights")
    return f" [{', '.join(parts)}]" if parts else ""


def _describe_sizes(run, arrays, recomputed):
    """The lines of ``replay info`` that say what a run stores and what each quantity costs."""
    by_quantity = {}
    per_snapshot = 0
    for path, (_, _, size) in arrays.items():
        quantity = schema.quantity_of(path)[0]
        by_quantity[quantity] = by_quantity.get(quantity, 0) + size
        if quantity not in ("inputs", "targets", "samples", "history", "snapshots"):
            per_snapshot += size
    total = sum(by_quantity.values())
    snapshot = (f", {_format_bytes(per_snapshot / run.n_snapshots)} per snapshot"
                if run.n_snapshots else "")
    costs = ", ".join(f"{quantity} {_format_bytes(size)}" for quantity, size in
                      sorted(by_quantity.items(), key=lambda item: -item[1]) if size)
    lines = [f"  arrays: {len(arrays)}, stored size {_format_bytes(total)}{snapshot}"
             + (f": {costs}" if costs else "")]
    if recomputed:
        kinds = sorted({schema.quantity_of(path)[0] for path in recomputed})
        lines.append(f"  recomputed from the weights when read (not stored): {', '.join(kinds)}")
    details = []
    for source in schema.SAMPLE_SOURCES:
        if schema.sample_indices(source) in arrays:
            trained = run.attrs.get("n_train_samples", -1) if source == "train" else -1
            details.append(f"{source}: {arrays[schema.inputs(source)][0][0]:,} samples "
                           + (f"of the {trained:,} fit trained on, " if trained > 0 else "")
                           + "a fixed subset (indices in " + schema.sample_indices(source) + ")")
    dtype, compression = run.attrs.get("storage_dtype"), run.attrs.get("compression")
    if dtype or compression:
        details.append(f"storage {dtype or 'float32'}, compression {compression or 'none'}")
    if details:
        lines.append("  " + "; ".join(details))
    return "\n".join(lines)


def _describe_deepreplay(run):
    """The line of ``replay info`` that says how a DeepReplay run is read."""
    attrs = run.attrs
    source = (f"layer names from '{attrs['model_file']}'" if attrs.get("model_file")
              else "no model file beside it: generic layer names, loss assumed")
    problem = attrs.get("compute_problem")
    how = ("activations, outputs and losses computed with numpy from its weights"
           if problem is None else f"its activations cannot be computed: {problem}")
    return (f"  written by DeepReplay ({attrs.get('epochs_trained')} of "
            f"{attrs.get('epochs_planned')} epochs): {how}; {source}")


def add_info(subparsers):
    parser = subparsers.add_parser("info", help="describe the runs of a run file")
    parser.add_argument("file", help="run file (.h5)")
    parser.add_argument("--run", help="only this run")
    parser.add_argument("--model-file", help=MODEL_FILE_HELP)
    parser.add_argument("--arrays", action="store_true", help="list every array")
    parser.set_defaults(func=run_info)


def run_render(args):
    """Render a run's five-panel scene (or one epoch of it) to MP4, GIF or PNG."""
    from replay.render import Scene, output_kind
    from replay.run import Run

    kind = output_kind(args.out)
    _check_output_options(args, kind)
    with Run(args.file, args.run, model_file=args.model_file) as run:
        owner = f"run {run.name!r}"
        epoch = _check_epoch(args.epoch, run, owner) if kind == "png" else None
        epochs = _select_epochs(args.epochs, run, owner) if kind != "png" else None
        scene = Scene.default(run, layer=args.layer, figsize=args.figsize, metric=args.metric,
                              limits=args.limits,
                              title_prefix=run.name if args.title_prefix is None
                              else args.title_prefix)
        _save_and_report(scene, args, kind, epoch, epochs)
    return 0


def _figure_size(text):
    try:
        width, height = (float(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"figure size must look like WIDTHxHEIGHT in inches, e.g. 12x6. Got {text!r}."
        ) from error
    return width, height


def add_render(subparsers):
    from replay.render.save import MEDIA_ARGUMENTS

    parser = subparsers.add_parser(
        "render", help="render the five-panel scene of a run to MP4, GIF or PNG",
        description="Render the figure of a run: for classification the five-panel "
                    "figure (feature space, probability histograms, loss and accuracy, "
                    "per-sample losses); for regression predictions against targets, "
                    "residuals, loss and per-sample losses beside the feature space "
                    "coloured by target. The output kind follows the extension of --out.")
    parser.add_argument("file", help="run file (.h5)")
    parser.add_argument("--run", help="run name (may be omitted when the file holds one)")
    parser.add_argument("--model-file", help=MODEL_FILE_HELP)
    parser.add_argument("--out", required=True, help="output file: .mp4, .gif or .png")
    parser.add_argument("--layer", help="hidden layer of the feature space (default: the "
                                        "run's only 2-unit hidden layer, else its last "
                                        "hidden layer, through PCA)")
    parser.add_argument("--limits", choices=LIMITS.choices, default="fixed", help=LIMITS.help)
    parser.add_argument("--epochs", help="snapshots of an .mp4/.gif, start:stop:step "
                                         "(default: all; write --epochs=-50: for a "
                                         "negative start)")
    parser.add_argument("--epoch", type=_epoch_argument,
                        help="snapshot of a .png: an index (default: the last; -1 is the last) "
                             "or an epoch value with a point, e.g. 2.5 on a per-batch run")
    parser.add_argument("--fps", type=float, default=10, help="frames per second (default 10)")
    parser.add_argument("--dpi", type=float, help="pixels per inch (default 100)")
    for flag, options in MEDIA_ARGUMENTS:  # --width, --preset, --hold-last, --loop, --colors
        parser.add_argument(flag, **options)
    parser.add_argument("--figsize", type=_figure_size, default=(12.0, 6.0),
                        help="figure size in inches, WIDTHxHEIGHT (default 12x6)")
    parser.add_argument("--metric", help="metric of the loss panel (default: accuracy, or the "
                                         "first recorded metric)")
    parser.add_argument("--title-prefix", help="text before 'Epoch N' (default: the run name)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_render)


RUN_FILE_SUFFIXES = (".h5", ".hdf5")


def _check_run_files(files):
    """Refuse FILE arguments that name no file, like ``replay info`` does."""
    from pathlib import Path

    for spec in files:
        path = Path(spec)
        if path.is_file():
            continue
        if path.is_dir():
            raise RunFileError(f"'{spec}' is a directory, not a run file.")
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


def _compared_runs(args):
    """The runs of ``replay compare`` / ``replay table``: files, ``file:run`` specs, --runs."""
    from replay.compare import open_runs

    _check_run_files(args.files)
    if not args.runs:
        return open_runs(args.files)
    return open_runs([f"{file}:{name}" for file in args.files for name in args.runs])


#: Options of ``replay compare`` that only a grid of views uses (dest → flag): --view,
#: --ncols and the options the registered views declare.
GRID_OPTIONS = {"view": "--view", **{option.name: f"--{option.name}" for option in view_options()},
                "ncols": "--ncols"}
#: Options of ``replay compare`` that only --curves uses.
CURVES_OPTIONS = {"validation": "--validation", "yscale": "--yscale"}


def _check_compare_options(args):
    """Refuse the options that the chosen kind of comparison would ignore."""
    if args.curves:
        given = [flag for dest, flag in GRID_OPTIONS.items()
                 if getattr(args, dest) is not None]
        if given:
            raise OptionError(
                f"{' and '.join(given)} cannot be combined with --curves: --curves draws "
                "overlaid history curves instead of a grid of views. Drop "
                f"{' and '.join(given)}, or drop --curves to draw views."
            )
    else:
        given = [flag for dest, flag in CURVES_OPTIONS.items()
                 if getattr(args, dest) not in (None, False)]
        if given:
            raise OptionError(
                f"{' and '.join(given)} only applies to --curves KEY...: a grid of views "
                f"does not use it. Add --curves (e.g. --curves loss accuracy) or drop "
                f"{' and '.join(given)}."
            )


def _validation_keys(runs, keys):
    """With ``--validation``: the keys that will get a val_ curve; raise if none will."""
    with_validation = [key for key in keys if not key.startswith("val_")
                       and all(f"val_{key}" in run.history for run in runs)]
    if with_validation:
        return with_validation
    if not any(key.startswith("val_") for run in runs for key in run.history):
        recorded = sorted({key for run in runs for key in run.history if key != "epoch"})
        raise OptionError(
            "--validation draws each key's val_ curve, but none of the runs has a "
            f"validation history (no val_ keys; recorded: {', '.join(recorded) or 'none'}). "
            "Record the runs with validation data, or drop --validation."
        )
    if all(key.startswith("val_") for key in keys):
        raise OptionError(
            f"--validation adds each key's val_ curve, but the keys of --curves "
            f"{' '.join(keys)} already are validation keys. Drop --validation."
        )
    raise OptionError(
        f"--validation draws each key's val_ curve, but no key of --curves "
        f"{' '.join(keys)} has a val_ twin recorded in every run. Name the val_ keys in "
        "--curves instead, or drop --validation."
    )


SCALES = ("linear", "log")
#: Scales a KEY=SCALE pair may give: logit spreads accuracies close to 1.
PANEL_SCALES = (*SCALES, "logit")


def _curve_scales(values, keys, validation_keys=()):
    """Turn ``--yscale`` into ``{key: scale}`` for the panels of ``--curves``.

    ``log`` (or ``linear``) alone sets the panels of losses (keys containing
    ``loss``) and keeps the others linear; ``KEY=SCALE`` pairs set panels one by
    one (``val_KEY`` names the panel of KEY when it draws the val_ curve).
    """
    if values is None:
        return {key: "linear" for key in keys}
    if len(values) == 1 and "=" not in values[0]:
        scale = values[0]
        if scale not in SCALES:
            raise OptionError(
                f"--yscale {scale!r} is not a scale: use linear or log, or KEY=SCALE pairs "
                "such as loss=log."
            )
        losses = [key for key in keys if "loss" in key]
        if scale == "log" and not losses:
            raise OptionError(
                f"--yscale log puts the loss panels (keys containing 'loss') on a log axis, "
                f"but --curves {' '.join(keys)} has none. Use KEY=log (e.g. {keys[0]}=log) "
                "to set a panel explicitly."
            )
        return {key: scale if key in losses else "linear" for key in keys}
    scales = {key: "linear" for key in keys}
    chosen = {}
    for value in values:
        key, equals, scale = value.partition("=")
        if not equals or scale not in PANEL_SCALES:
            raise OptionError(
                f"--yscale {value!r}: give linear or log alone (log: loss panels only), or "
                "KEY=SCALE pairs with SCALE linear, log or logit, e.g. loss=log "
                "val_accuracy=logit."
            )
        panel = key
        if key not in scales and key.startswith("val_") and key[4:] in validation_keys:
            panel = key[4:]  # the val_ curve is drawn in the panel of its key
        if panel not in scales:
            raise OptionError(
                f"--yscale {value}: {key!r} is not a panel of --curves {' '.join(keys)}."
            )
        if chosen.get(panel, scale) != scale:
            raise OptionError(
                f"--yscale {value} conflicts with {panel}={chosen[panel]}: {key!r} is drawn "
                f"in the {panel!r} panel, which has one y axis."
            )
        chosen[panel] = scales[panel] = scale
    return scales


def run_compare(args):
    """Render a grid of views across runs, or their overlaid history curves."""
    from replay.compare import ComparisonScene
    from replay.render import output_kind

    kind = output_kind(args.out)
    _check_output_options(args, kind)
    _check_compare_options(args)
    runs = _compared_runs(args)
    try:
        clock = min(runs, key=lambda run: run.n_snapshots)
        if len(runs) == 1:
            owner = f"run {clock.name!r}"
        elif len({run.n_snapshots for run in runs}) == 1:
            owner = "each run"
        else:
            owner = f"the shortest run, {clock.name!r},"
        epoch = _check_epoch(args.epoch, clock, owner) if kind == "png" else None
        epochs = _select_epochs(args.epochs, clock, owner) if kind != "png" else None
        sizes = {} if args.panel_size is None else {"panel_size": args.panel_size}
        if args.curves:
            validation_keys = _validation_keys(runs, args.curves) if args.validation else ()
            scales = _curve_scales(args.yscale, args.curves, validation_keys)
            scene = ComparisonScene.curves(runs, args.curves, validation=args.validation,
                                           yscale=scales, title_prefix=args.title_prefix,
                                           **sizes)
        else:
            options = {option.name: getattr(args, option.name) for option in view_options()}
            scene = ComparisonScene.grid(runs, args.view or DEFAULT_VIEWS, ncols=args.ncols,
                                         title_prefix=args.title_prefix, **sizes, **options)
        _save_and_report(scene, args, kind, epoch, epochs, what=f"{len(runs)} runs, ")
    finally:
        for run in runs:
            run.close()
    return 0


#: The views of ``replay compare`` without --view: the "showdown".
DEFAULT_VIEWS = ["feature-space", "decision-boundary"]


def _add_run_selection(parser):
    """The FILE... and --runs arguments shared by the verbs that take several runs."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="run file(s) (.h5), or FILE:RUN for one run of a file")
    parser.add_argument("--runs", nargs="+", metavar="RUN",
                        help="run names (in every FILE; default: all runs)")


def add_compare(subparsers):
    from replay.render.save import MEDIA_ARGUMENTS

    parser = subparsers.add_parser(
        "compare", help="compare runs: a grid of views, or overlaid curves",
        description="Put several runs side by side on one epoch clock: one column per run "
                    "and one row per --view (default: the feature space over the input-"
                    "space boundary), or, with --curves, history keys of every run "
                    "overlaid. The output kind follows the extension of --out.")
    _add_run_selection(parser)
    parser.add_argument("--view", nargs="+", metavar="VIEW",
                        help=f"views of each run, top to bottom, among {', '.join(view_names())} "
                             f"(default: {' '.join(DEFAULT_VIEWS)}; not with --curves)")
    parser.add_argument("--curves", nargs="+", metavar="KEY",
                        help="instead of views: overlay these history keys, one panel each "
                             "(e.g. val_accuracy, or loss accuracy)")
    parser.add_argument("--validation", action="store_true",
                        help="with --curves: also draw each key's val_ curve, dashed")
    parser.add_argument("--yscale", nargs="+", metavar="SCALE",
                        help="with --curves: 'log' puts the loss panels (keys containing "
                             "'loss') on a log axis and keeps the others linear; or "
                             "KEY=SCALE per panel, e.g. loss=log val_accuracy=logit (logit "
                             "spreads accuracies near 1; default: all linear)")
    parser.add_argument("--out", required=True, help="output file: .mp4, .gif or .png")
    parser.add_argument("--epoch", type=_epoch_argument,
                        help="snapshot of a .png: an index (default: the last; -1 is the last) "
                             "or an epoch value with a point, e.g. 2.5 on a per-batch run")
    parser.add_argument("--epochs", help="snapshots of an .mp4/.gif, start:stop:step "
                                         "(default: all; write --epochs=-50: for a "
                                         "negative start)")
    for option in view_options():  # each registered view's options, once
        parser.add_argument(f"--{option.name}", type=option.type, choices=option.choices,
                            help=f"{option.help}; not with --curves")
    parser.add_argument("--ncols", type=int, help="runs per row (default: all in one row)")
    parser.add_argument("--panel-size", type=_figure_size,
                        help="size of one panel in inches, WIDTHxHEIGHT (default 4.2x3.9 "
                             "for views, 5x3.8 for --curves)")
    parser.add_argument("--fps", type=float, default=10, help="frames per second (default 10)")
    parser.add_argument("--dpi", type=float, help="pixels per inch (default 100)")
    for flag, options in MEDIA_ARGUMENTS:  # --width, --preset, --hold-last, --loop, --colors
        parser.add_argument(flag, **options)
    parser.add_argument("--title-prefix", default="", help="text before 'Epoch N'")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_compare)


def run_table(args):
    """Print (or write) the results table of runs as Markdown or CSV."""
    from replay.compare import results_table

    runs = _compared_runs(args)
    try:
        table = results_table(runs, metrics=args.metrics)
    finally:
        for run in runs:
            run.close()
    text = table.to_markdown() + "\n" if args.format == "markdown" else table.to_csv()
    if args.out:
        with open(args.out, "w", newline="") as handle:
            handle.write(text)
        print(f"wrote {args.out} ({len(table.rows)} runs)")
    else:
        sys.stdout.write(text)
    return 0


def add_table(subparsers):
    parser = subparsers.add_parser(
        "table", help="final and best value of each metric per run (Markdown or CSV)",
        description="Summarize the recorded histories of runs: per metric the final value, "
                    "the best value and its epoch, and for accuracies the first epoch at "
                    "100%%.")
    _add_run_selection(parser)
    parser.add_argument("--metrics", nargs="+", metavar="KEY",
                        help="history keys to summarize (default: all metrics)")
    parser.add_argument("--format", choices=("markdown", "csv"), default="markdown",
                        help="output format (default markdown)")
    parser.add_argument("--out", help="write to this file instead of printing")
    parser.set_defaults(func=run_table)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="replay", description="Replay a recorded Keras training run as pictures."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in VERBS:
        add(subparsers)
    return parser


def run_compact(args):
    """Rewrite a run file without the space of deleted (overwritten) runs."""
    from replay.io.runfile import compact

    before, after = compact(args.file)
    print(f"compacted {args.file}: {_format_bytes(before)} -> {_format_bytes(after)}")
    return 0


def add_compact(subparsers):
    parser = subparsers.add_parser(
        "compact", help="give back the space of overwritten runs",
        description="HDF5 keeps the space of a deleted group: a file whose runs were "
                    "replaced with Recorder(..., overwrite=True) grows. This rewrites the "
                    "file with its runs only. Nobody may be writing the file meanwhile.")
    parser.add_argument("file", help="run file (.h5)")
    parser.set_defaults(func=run_compact)


def run_diagnose(args):
    """Print the findings of :func:`replay.diagnose.diagnose` for runs, grouped by run."""
    import json

    from replay.diagnose import diagnose
    from replay.io.runfile import list_runs
    from replay.run import Run

    _check_run_files(args.files)
    results = []
    for index, file in enumerate(args.files):
        names = args.run or list_runs(file)
        if not args.json:
            print(("\n" if index else "") + f"{file}: {len(names)} run(s)")
        for name in names:
            with Run(file, name, model_file=args.model_file) as run:
                diagnosis = diagnose(run, checks=args.checks, source=args.source)
            results.append(diagnosis)
            if not args.json:
                print("\n" + diagnosis.format())
    if args.json:
        print(json.dumps({"runs": [diagnosis.to_dict() for diagnosis in results]}, indent=2))
    return 0  # findings are not errors


def add_diagnose(subparsers):
    from replay.diagnose import CHECKS

    parser = subparsers.add_parser(
        "diagnose", help="find dead, saturated or symmetric units, vanishing gradients, "
                         "divergence, a stalled loss",
        description="Check recorded runs for the usual ways training goes wrong and print "
                    "one line per finding (severity, check, layer, epochs, the measured "
                    "number, what usually helps), grouped by run. Thresholds: "
                    "docs/diagnose.md. Findings are not errors: the exit status is 0.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="run file(s) (.h5)")
    parser.add_argument("--run", nargs="+", metavar="RUN",
                        help="run names (in every FILE; default: all runs)")
    parser.add_argument("--checks", nargs="+", choices=CHECKS, metavar="CHECK",
                        help=f"checks to run (default: all): {', '.join(CHECKS)}")
    parser.add_argument("--source", choices=("train", "validation"), default="train",
                        help="recorded samples to look at (default train)")
    parser.add_argument("--model-file", help=MODEL_FILE_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run_diagnose)


def _has_display():
    """Whether an interactive matplotlib window can open here."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return sys.platform in ("darwin", "win32")
    import matplotlib

    return matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo",
                                                    "template")


def run_watch(args):
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
    print(f"run {run.name!r}: {run.n_snapshots} snapshots, {state}; drew {shown} pictures")
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


def add_watch(subparsers):
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
    parser.set_defaults(func=run_watch)


#: Registered verbs, in the order ``replay --help`` lists them.
VERBS = [add_info, add_render, add_compare, add_table, add_compact, add_diagnose, add_watch]


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ReplayError as error:
        print(f"replay {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `replay info ... | head` closed the pipe: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
