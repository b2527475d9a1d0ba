"""One small panel per parameter: how much each weight and bias moved, epoch by epoch.

For a small net every scalar parameter gets its own panel with its update
``w(t+1) - w(t)`` between consecutive snapshots, against epochs. The
articles read several stories off this grid: a zero initialisation whose
updates are identical for every unit (symmetry is never broken), updates
that die out (vanishing gradients), updates that flip sign every epoch (a
learning rate too large for the initial scale).
"""

import math

import numpy as np

from replay.errors import OptionError
from replay.io import schema
from replay.views.base import View, new_figure
from replay.views.ranges import padded_range

#: Most panels drawn when ``max_panels`` is not given.
DEFAULT_MAX_PANELS = 64
#: Line colours of weight and bias updates; the current-epoch marker colour.
WEIGHT_COLOR = "#0072B2"
BIAS_COLOR = "#D55E00"
MARKER_COLOR = "#222222"


class ParameterUpdates(View):
    """One panel per scalar parameter with its update ``w(t+1) - w(t)`` against epochs.

    The panels follow the layers in model order; within a layer, first the
    entries of its kernel in row-major order (``w[i, j]`` connects input
    ``i`` to unit ``j``: ``w[0, 0], w[0, 1], ..., w[1, 0], ...``), then its
    biases. A 2 → 2 → 4 net gives 18 panels: 4 + 2 for the hidden layer,
    8 + 4 for the output layer. The update plotted at epoch ``e`` is the
    change from the previous snapshot to snapshot ``e``. When animated, a
    vertical line and a dot mark the current epoch in every panel.

    Args:
        run: the :class:`replay.Run`.
        layers: layer names whose weights to show; ``None`` for every layer
            with weights.
        max_panels: show at most this many parameters, the first ones in the
            order above. ``None`` allows up to 64 and raises an error beyond
            that (pick layers with ``layers=`` or cap with ``max_panels=``).
        ncols: panels per row; ``None`` for at most 6.
        ax: a sequence of one axes per panel, or ``None`` for a new figure
            with a grid of panels.

    Attributes:
        parameters: ``[(layer, weight name, index tuple)]``, one per panel.
        labels: the panel titles, e.g. ``"hidden w[0,1]"``.
        updates_: array ``(n_snapshots - 1, n_panels)``: row ``t`` holds
            ``w(t+1) - w(t)`` of every shown parameter.
        update_epochs_: array ``(n_snapshots - 1,)``: the epoch of each row
            (the snapshot the update led to).

    Example:
        >>> ParameterUpdates(run).plot(-1).savefig("updates.png")  # doctest: +SKIP
    """

    def __init__(self, run, *, layers=None, max_panels=None, ncols=None, ax=None):
        super().__init__(run, ax=ax)
        if run.n_snapshots < 2:
            raise OptionError(
                f"Run {run.name!r} holds {run.n_snapshots} snapshot; parameter updates need "
                "at least two (record a few epochs of training)."
            )
        if layers is None:
            layers = [layer.name for layer in run.layers if layer.weights]
        elif isinstance(layers, str):
            layers = [layers]
        layers = list(layers)
        for name in layers:
            run.layer(name)  # a clear error for an unknown layer
        shapes = {(name, weight): run.weights(name, 0)[weight].shape
                  for name in layers for weight in run.layer(name).weights}
        # Per layer: kernel first, then bias, then any other weight.
        rank = {"kernel": 0, "bias": 1}
        ordered = [(name, weight) for name in layers
                   for weight in sorted(run.layer(name).weights, key=lambda w: rank.get(w, 2))]
        total = sum(int(np.prod(shapes[key])) for key in ordered)
        if max_panels is None:
            if total > DEFAULT_MAX_PANELS:
                raise OptionError(
                    f"ParameterUpdates draws one panel per parameter, and layers "
                    f"{', '.join(layers)} have {total} parameters (more than "
                    f"{DEFAULT_MAX_PANELS}). Choose fewer layers with layers=[...] "
                    f"or show only the first N with max_panels=N."
                )
            limit = total
        else:
            if isinstance(max_panels, bool) or not isinstance(max_panels, (int, np.integer)) \
                    or max_panels < 1:
                raise OptionError(f"max_panels must be a positive integer. Got {max_panels!r}.")
            limit = min(int(max_panels), total)
        self.parameters = []
        for name, weight in ordered:
            for index in np.ndindex(*shapes[(name, weight)]):
                self.parameters.append((name, weight, index))
        self.parameters = self.parameters[:limit]
        self.total_parameters = total
        self.labels = [_label(*parameter) for parameter in self.parameters]
        self.n_axes = len(self.parameters)
        if ncols is not None and (not isinstance(ncols, (int, np.integer)) or ncols < 1):
            raise OptionError(f"ncols must be a positive integer. Got {ncols!r}.")
        self.ncols = int(ncols) if ncols is not None else min(6, self.n_axes)
        self.nrows = math.ceil(self.n_axes / self.ncols)
        self.figsize = (1.9 * self.ncols + 0.4, 1.45 * self.nrows + 0.6)
        self.blit_safe = True
        self.updates_ = self._read_updates()
        epochs = np.asarray(run.epochs, dtype=np.float64)
        self.update_epochs_ = epochs[1:]
        self._epochs = epochs

    def _read_updates(self):
        columns = []
        for name, weight in dict.fromkeys((name, weight) for name, weight, _ in self.parameters):
            indices = [index for layer, w, index in self.parameters
                       if (layer, w) == (name, weight)]
            series = self.run.series(schema.weights(name, weight))
            flat = series.reshape(len(series), -1)
            shape = series.shape[1:]
            positions = [np.ravel_multi_index(index, shape) if shape else 0 for index in indices]
            columns.append(np.diff(flat[:, positions].astype(np.float64), axis=0))
        return np.concatenate(columns, axis=1)

    # -- drawing -------------------------------------------------------------

    def attach(self, ax=None):
        """Bind to one axes per panel, or make a figure with a grid of panels."""
        if self.ax_ is not None:
            return self
        if ax is None:
            ax = self._requested_ax
        made = ax is None
        if made:
            grid = new_figure(self.figsize).subplots(self.nrows, self.ncols, squeeze=False,
                                                     sharex=True)
            for spare in grid.ravel()[self.n_axes:]:
                spare.set_visible(False)
            ax = list(grid.ravel()[: self.n_axes])
        super().attach(ax)
        if made:
            title = "Parameter updates w(t+1) \u2212 w(t)"
            if len(self.parameters) < self.total_parameters:
                title += f" (first {len(self.parameters)} of {self.total_parameters})"
            self._epoch_text = self.figure_.suptitle(title)
            self._title_prefix = title
        return self

    def draw_static(self):
        self.lines_, self.markers_, self.cursors_ = [], [], []
        x = self.update_epochs_
        last_row = self.n_axes - self.ncols
        for column, (ax, label, (_, weight, _)) in enumerate(
                zip(self.axes_, self.labels, self.parameters)):
            values = self.updates_[:, column]
            color = BIAS_COLOR if weight == "bias" else WEIGHT_COLOR
            ax.axhline(0.0, color="#BBBBBB", linewidth=0.6, zorder=0)
            (line,) = ax.plot(x, values, color=color, linewidth=1.0)
            (marker,) = ax.plot([], [], "o", color=MARKER_COLOR, markersize=3)
            cursor = ax.axvline(self._epochs[0], color=MARKER_COLOR, linewidth=0.7, alpha=0.6)
            ax.set_title(label, fontsize="small")
            finite = values[np.isfinite(values)]
            bound = float(np.abs(finite).max()) if finite.size else 0.0
            ax.set_ylim(*padded_range(-bound, bound) if bound > 0 else (-1.0, 1.0))
            ax.set_xlim(self._epochs[0], self._epochs[-1])
            ax.tick_params(labelsize="x-small")
            ax.yaxis.get_offset_text().set_fontsize("x-small")
            if column >= last_row:
                # The last panel of its column (the bottom row, or a panel above an
                # empty spot of a part-filled grid): shared x hides the tick labels
                # of every panel not in the bottom row, so show them here.
                ax.set_xlabel("epoch", fontsize="x-small")
                ax.tick_params(axis="x", labelbottom=True)
            self.lines_.append(line)
            self.markers_.append(marker)
            self.cursors_.append(cursor)

    def update(self, epoch):
        epoch = self.check_epoch(epoch)
        x = self._epochs[epoch]
        for column, (marker, cursor) in enumerate(zip(self.markers_, self.cursors_)):
            cursor.set_xdata([x, x])
            if epoch == 0:
                marker.set_data([], [])
            else:
                marker.set_data([x], [self.updates_[epoch - 1, column]])
        return [*self.markers_, *self.cursors_]

    def figure_title(self, epoch):
        """The view's own title, then ``"Epoch N"``."""
        return f"{self._title_prefix} \u2014 {super().figure_title(epoch)}"


def _label(layer, weight, index):
    short = {"kernel": "w", "bias": "b"}.get(weight, weight)
    return f"{layer} {short}[{','.join(str(i) for i in index)}]"
