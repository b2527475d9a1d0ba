"""The registry of views: what ``replay compare --view`` and comparison grids can show.

A view class registers itself where it is defined, with :func:`register`:
its command-line name, the options a grid (and the command line) may pass
to it, its short panel title and whether the panels of one grid row share
their y-limits. :mod:`replay.compare` and :mod:`replay.cli` build their
choices from :data:`VIEWS`, so adding a view is one new module (imported in
``replay/views/__init__.py``) and its test.

Example:
    ```python
    @register("loss-histogram", options=(SOURCE,), short_title="per-sample losses",
              share_y=True)
    class LossHistogram(View):
        ...
    ```
"""

from dataclasses import dataclass, field

from replay.errors import OptionError


@dataclass(frozen=True)
class ViewOption:
    """An option that grids pass to views, and the command line offers as ``--NAME``.

    Attributes:
        name: the keyword argument of the view (and the flag's name).
        help: the flag's help text.
        choices: the accepted values, or ``None`` for any.
        type: turns the flag's text into the value (``str``, ``int``).
    """

    name: str
    help: str
    choices: tuple | None = None
    type: type = str


#: The options views declare; a new view reuses these or defines its own.
LAYER = ViewOption("layer", "hidden layer of the feature space (default: each run's only "
                            "2-unit hidden layer)")
SOURCE = ViewOption("source", "samples to show (default train)",
                    choices=("train", "validation"))
LIMITS = ViewOption("limits", "axis limits of the feature space: fixed (default, the "
                              "fastest), auto (fixed, or grow for a run that starts in a "
                              "corner), grow or epoch (both redraw whole frames)",
                    choices=("auto", "fixed", "grow", "epoch"))
METRIC = ViewOption("metric", "metric of the loss-and-metric view (default accuracy)")
VALUES = ViewOption("values", "what the loss-and-metric view plots: snapshots (default: "
                              "each snapshot's mean per-sample loss and accuracy, as the "
                              "other panels show it), history (Keras' log, averaged over "
                              "each epoch's batches) or both",
                    choices=("snapshots", "history", "both"))
BINS = ViewOption("bins", "bins of the histograms (default: 10 for probabilities, 20 for "
                          "per-sample losses, 30 for residuals)", type=int)
QUANTITY = ViewOption("quantity", "what the layer violins show (default activations)",
                      choices=("activations", "preactivations", "weights", "gradients"))


@dataclass(frozen=True)
class ViewSpec:
    """A registered view.

    Attributes:
        name: its command-line name, e.g. ``"feature-space"``.
        view_class: the :class:`replay.views.View` subclass.
        options: the :class:`ViewOption` it accepts.
        short_title: its panel title in a grid: text, a function of the view,
            or ``None`` for the view's own title.
        share_y: whether its panels in one grid row get the same y-limits
            (curves and histograms: a glance across the row compares runs).
    """

    name: str
    view_class: type
    options: tuple = field(default_factory=tuple)
    short_title: object = None
    share_y: bool = False

    def build(self, run, **options):
        """Return the view of ``run``, passing it the options it declares (``None``: default)."""
        accepted = {option.name for option in self.options}
        given = {key: value for key, value in options.items()
                 if key in accepted and value is not None}
        return self.view_class(run, **given)

    def panel_title(self, view):
        """The short title of ``view``'s panel in a grid."""
        title = self.short_title(view) if callable(self.short_title) else self.short_title
        return title or view.ax_.get_title()


#: Registered views by name (see :func:`view_names` for a stable order).
VIEWS = {}


def register(name, *, options=(), short_title=None, share_y=False):
    """Class decorator: register a view under ``name`` (see :class:`ViewSpec`)."""

    def decorator(view_class):
        if name in VIEWS and VIEWS[name].view_class is not view_class:
            raise ValueError(f"A view named {name!r} is registered already.")
        VIEWS[name] = ViewSpec(name, view_class, tuple(options), short_title, share_y)
        view_class.view_name = name
        return view_class

    return decorator


def view_names():
    """Return the names of the registered views, sorted."""
    return sorted(VIEWS)


def view_spec(name):
    """Return the :class:`ViewSpec` of ``name``, or raise an error listing the views."""
    try:
        return VIEWS[name]
    except (KeyError, TypeError):
        raise OptionError(f"Unknown view {name!r}. Views: {', '.join(view_names())}.") from None


def view_options():
    """Return every option the registered views declare, once each, sorted by name."""
    found = {}
    for spec in VIEWS.values():
        for option in spec.options:
            found.setdefault(option.name, option)
    return [found[name] for name in sorted(found)]
