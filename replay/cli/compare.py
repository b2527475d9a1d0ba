"""``replay compare``: a grid of views across runs, or their overlaid curves."""

from replay.cli.common import (
    add_frame_arguments,
    add_run_selection,
    check_epoch,
    check_output_options,
    compared_runs,
    figure_size,
    save_and_report,
    select_epochs,
)
from replay.errors import OptionError


def grid_options():
    """Options of ``replay compare`` that only a grid of views uses (dest → flag): --view,
    --ncols and the options the registered views declare."""
    _register_views()
    return {"view": "--view", **{option.name: f"--{option.name}" for option in view_options()},
            "ncols": "--ncols"}


def _register_views():
    """Import the views, which registers them (and imports matplotlib): only the verbs that
    draw do, so that ``replay table`` and ``replay diagnose`` start fast."""
    import replay.views  # noqa: F401


def view_names():
    _register_views()
    from replay.views.registry import view_names

    return view_names()


def view_options():
    _register_views()
    from replay.views.registry import view_options

    return view_options()


#: Options of ``replay compare`` that only --curves uses.
CURVES_OPTIONS = {"validation": "--validation", "yscale": "--yscale"}


def _check_compare_options(args):
    """Refuse the options that the chosen kind of comparison would ignore."""
    if args.curves:
        given = [flag for dest, flag in grid_options().items()
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


def run(args):
    """Render a grid of views across runs, or their overlaid history curves."""
    from replay.compare import ComparisonScene
    from replay.render import output_kind

    kind = output_kind(args.out)
    check_output_options(args, kind)
    _check_compare_options(args)
    runs = compared_runs(args)
    try:
        clock = min(runs, key=lambda run: run.n_snapshots)
        if len(runs) == 1:
            owner = f"run {clock.name!r}"
        elif len({run.n_snapshots for run in runs}) == 1:
            owner = "each run"
        else:
            owner = f"the shortest run, {clock.name!r},"
        epoch = check_epoch(args.epoch, clock, owner) if kind == "png" else None
        epochs = select_epochs(args.epochs, clock, owner) if kind != "png" else None
        sizes = {} if args.panel_size is None else {"panel_size": args.panel_size}
        if args.curves:
            validation_keys = _validation_keys(runs, args.curves) if args.validation else ()
            scales = _curve_scales(args.yscale, args.curves, validation_keys)
            scene = ComparisonScene.curves(runs, args.curves, validation=args.validation,
                                           yscale=scales, title_prefix=args.title_prefix,
                                           **sizes)
        else:
            options = {option.name: getattr(args, option.name) for option in view_options()}
            views = args.view
            if views is None:
                views, layer = default_views(runs, args.layer)
                options["layer"] = layer
            ncols = args.ncols if args.ncols is not None else min(len(runs), MAX_COLUMNS)
            scene = ComparisonScene.grid(runs, views, ncols=ncols,
                                         title_prefix=args.title_prefix, **sizes, **options)
        save_and_report(scene, args, kind, epoch, epochs, what=f"{len(runs)} runs, ")
    finally:
        for run in runs:
            run.close()
    return 0


#: Runs per row of a grid without --ncols: a sweep of 27 runs in one row was a picture
#: 11,340 pixels wide.
MAX_COLUMNS = 6


#: The views of ``replay compare`` without --view: the "showdown".
DEFAULT_VIEWS = ["feature-space", "decision-boundary"]


def default_views(runs, layer=None):
    """The views of ``replay compare`` without --view, and the feature space's layer.

    The showdown (:data:`DEFAULT_VIEWS`) where every run has what it draws: a
    hidden layer to show (its only 2-unit one, or ``layer``, or one wide layer
    of the same name in every run, shown through PCA) and probe points over
    2-D inputs. Otherwise the panels that fit every run take their place —
    predictions against targets for regressions, the probability histograms
    for classifiers — so that a sweep of conv nets or of regressions compares
    without options, as ``replay render`` draws the figure that fits a run.

    Args:
        runs: the compared runs.
        layer: the --layer given, or ``None``.

    Returns:
        ``(views, layer)``: view names, top to bottom, and the layer of the
        feature space (``None``: each run's only 2-unit hidden layer).
    """
    from replay.render.presets import feature_layer
    from replay.views.feature_space import default_layer

    views = []
    if layer is None:
        layers = {feature_layer(run) for run in runs}
        if len(layers) == 1 and None not in layers:
            layer = layers.pop()
    if layer is not None or all(_has_default_layer(run, default_layer) for run in runs):
        views.append("feature-space")
    if all("mesh" in run.sources for run in runs):
        views.append("decision-boundary")
    elif all(run.task == "regression" for run in runs):
        views.append("prediction-scatter")
    elif all(run.task == "classification" for run in runs):
        views.append("probability-histogram")
    else:
        views.append("loss-and-metric")
    return views, layer


def _has_default_layer(run, default_layer):
    from replay.errors import LayerNotFoundError

    try:
        default_layer(run)
    except LayerNotFoundError:
        return False
    return True


def add(subparsers):
    _register_views()
    parser = subparsers.add_parser(
        "compare", help="compare runs: a grid of views, or overlaid curves",
        description="Put several runs side by side on one epoch clock: one column per run "
                    "and one row per --view (default: the feature space over the input-"
                    "space boundary, or the panels that fit the runs), or, with --curves, history keys of every run "
                    "overlaid. The output kind follows the extension of --out.")
    add_run_selection(parser)
    parser.add_argument("--view", nargs="+", metavar="VIEW",
                        help=f"views of each run, top to bottom, among {', '.join(view_names())} "
                             f"(default: {' '.join(DEFAULT_VIEWS)} where the runs have a hidden layer "
                             "and 2-D inputs, else prediction-scatter or probability-histogram "
                             "in their place; not with --curves)")
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
    add_frame_arguments(parser)
    for option in view_options():  # each registered view's options, once
        parser.add_argument(f"--{option.name}", type=option.type, choices=option.choices,
                            help=f"{option.help}; not with --curves")
    parser.add_argument("--ncols", type=int, help=f"runs per row (default: all in one row, at most {MAX_COLUMNS})")
    parser.add_argument("--panel-size", type=figure_size,
                        help="size of one panel in inches, WIDTHxHEIGHT (default 4.2x3.9 "
                             "for views, 5x3.8 for --curves)")
    parser.add_argument("--title-prefix", default="", help="text before 'Epoch N'")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
