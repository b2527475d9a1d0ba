"""Comparing runs: the same net with different activations or initializers, side by side.

- :meth:`ComparisonScene.grid`: any view across runs, one column per run
  (the "showdown": feature space on top, input-space boundary below), as a
  still or an animation on one epoch clock;
- :meth:`ComparisonScene.curves` and :class:`OverlaidCurves`: history
  curves of several runs overlaid (e.g. ``val_accuracy`` of six activations);
- :func:`results_table`: final and best value of every metric per run, the
  epoch of the best, the first epoch at 100% accuracy; Markdown or CSV.

Runs are named as :class:`replay.Run` objects, ``"file.h5:run"`` strings or
run names of one file (see :func:`open_runs`). Like the rest of the replay
side, nothing here imports Keras.

Example:
    ```python
    from replay.compare import ComparisonScene, results_table

    runs = ["sigmoid", "tanh", "relu"]
    ComparisonScene.grid(runs, path="part1.h5").save("showdown.mp4", epochs="::2")
    ComparisonScene.curves(runs, ["loss", "accuracy"], path="part1.h5").save("curves.png")
    print(results_table(runs, path="part1.h5").to_markdown())
    ```
"""

from replay.compare.curves import OverlaidCurves
from replay.compare.runs import open_runs, run_labels
from replay.compare.scene import ComparisonScene
from replay.compare.table import MetricSummary, ResultsTable, results_table
from replay.views.registry import VIEWS

__all__ = [
    "VIEWS",
    "ComparisonScene",
    "MetricSummary",
    "OverlaidCurves",
    "ResultsTable",
    "open_runs",
    "results_table",
    "run_labels",
]
