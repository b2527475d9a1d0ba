"""The samples in the input space, each sized by its error: big dots are the mistakes."""

import numpy as np

from replay.errors import OptionError
from replay.views.base import View
from replay.views.reader import SnapshotReader
from replay.views.regions import boundary_segments, mesh_image, region_colors
from replay.views.registry import SOURCE, register
from replay.views.style import BOUNDARY_COLOR, ERROR_COLOR, class_colors

#: Width of the red ring around misclassified samples, in points.
RING_WIDTH = 1.0


def sample_errors(outputs, labels):
    """Return each sample's error in [0, 1]: 1 minus the probability given to its true class.

    Args:
        outputs: the model's outputs ``(N, 1)`` (sigmoid) or ``(N, k)`` (softmax).
        labels: the true classes ``(N,)``.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if outputs.shape[-1] == 1:
        probability = outputs[:, 0]
        return np.clip(np.where(labels == 1, 1.0 - probability, probability), 0.0, 1.0)
    return np.clip(1.0 - outputs[np.arange(len(labels)), labels], 0.0, 1.0)


@register("error-scatter", options=(SOURCE,), short_title="samples sized by error")
class ErrorScatter(View):
    """The 2-D samples coloured by class, each dot's area growing with its error.

    The error of a sample is one minus the probability the model gives to its
    true class, so a dot is tiny when the model is sure and right, and large
    when it is wrong; misclassified samples (error above 0.5) are also
    ringed in red. When the run has a probe mesh, the decision regions and
    boundary of each epoch are drawn underneath.

    Args:
        run: the :class:`replay.Run` (2-D inputs).
        source: the samples, ``"train"`` or ``"validation"``.
        sizes: ``(smallest, largest)`` marker area in points², for errors 0 and 1.
        regions: draw the decision regions and boundary (needs probe points).
        ax: the axes to draw into; ``None`` makes a new figure.

    Attributes:
        points_: the ``PathCollection`` of the samples.
        errors_: the errors of the epoch shown last, ``(N,)``.

    Example:
        >>> ErrorScatter(run, source="validation").plot(-1).savefig("errors.png")  # doctest: +SKIP
    """

    figsize = (5.0, 5.0)
    title = "Samples sized by error"
    blit_safe = True

    def __init__(self, run, *, source="train", sizes=(3.0, 60.0), regions=True, ax=None):
        super().__init__(run, ax=ax)
        inputs = run.inputs(source)
        if inputs.ndim != 2 or inputs.shape[1] != 2:
            raise OptionError(
                f"ErrorScatter draws 2-D inputs; run {run.name!r} has inputs of shape "
                f"{inputs.shape}. Use a FeatureSpace of a 2-unit layer instead."
            )
        if len(sizes) != 2 or not 0 <= sizes[0] <= sizes[1]:
            raise OptionError(f"sizes must be (smallest, largest) areas. Got {sizes!r}.")
        run.check_classification("classification errors")
        self.source = source
        self.inputs = inputs
        self.labels = run.labels(source)
        self.sizes = (float(sizes[0]), float(sizes[1]))
        self.show_regions = regions and "mesh" in run.sources
        self.reader = SnapshotReader(run)
        self.errors_ = None

    def draw_static(self):
        ax = self.ax_
        ax.set_title(self.title)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        self.regions_ = self.boundary_ = None
        if self.show_regions:
            mesh = self.run.inputs("mesh")
            self.mesh_x_, self.mesh_y_ = mesh[..., 0], mesh[..., 1]
            self.regions_ = mesh_image(ax, mesh)
            (self.boundary_,) = ax.plot([], [], color=BOUNDARY_COLOR, linewidth=1.2,
                                        zorder=1.5)
        else:
            low, high = self.inputs.min(axis=0), self.inputs.max(axis=0)
            pad = 0.05 * (high - low)
            ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
            ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        self.points_ = ax.scatter(self.inputs[:, 0], self.inputs[:, 1],
                                  s=np.full(len(self.inputs), self.sizes[0]),
                                  c=class_colors(self.labels), edgecolors=ERROR_COLOR,
                                  linewidths=0.0, alpha=0.85, zorder=2)

    def update(self, epoch):
        outputs = self.reader.probabilities(self.source, epoch)
        self.errors_ = sample_errors(outputs, self.labels)
        smallest, largest = self.sizes
        self.points_.set_sizes(smallest + (largest - smallest) * self.errors_)
        wrong = self.errors_ > 0.5
        self.points_.set_linewidths(np.where(wrong, RING_WIDTH, 0.0))
        artists = [self.points_]
        if self.regions_ is not None:
            mesh_outputs = self.reader.probabilities("mesh", epoch)
            self.regions_.set_data(region_colors(mesh_outputs))
            segments = boundary_segments(self.mesh_x_, self.mesh_y_, mesh_outputs)
            # One line for every piece of the boundary: NaN rows break it.
            joined = (np.concatenate([np.vstack([s, [np.nan, np.nan]]) for s in segments])
                      if segments else np.empty((0, 2)))
            self.boundary_.set_data(joined[:, 0], joined[:, 1])
            artists = [self.regions_, self.boundary_, *artists]
        return artists

