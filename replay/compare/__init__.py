"""Comparing runs: the same net with different activations or initializers, side by side.

- :meth:`ComparisonScene.grid`: any view across runs, one column per run
  (the "showdown": feature space on top, input-space boundary below), as a
  still or an animation on one epoch clock;
- :meth:`ComparisonScene.curves` and :class:`OverlaidCurves`: history
  curves of several runs overlaid (e.g. ``val_accuracy`` of six activations);
- :func:`results_table`: final and best value of every metric per run, the
  epoch of the best, the first epoch at 100% accuracy; Markdown or CSV.

Runs are named as :class:`replay.Run` objects, ``"file.h5:run"`` strings or
run names of one file, directories and globs of run files, or a
:class:`replay.Runs` collection (see :func:`open_runs`). Like the rest of the replay
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

# Imported on first use (PEP 562): tables and run names need numpy only, so
# `replay table` and `replay.Runs` do not pay for matplotlib, which the
# scenes and curves import.
_EXPORTS = {
    "VIEWS": "replay.views",  # importing the views registers them
    "ComparisonScene": "replay.compare.scene",
    "MetricSummary": "replay.compare.table",
    "OverlaidCurves": "replay.compare.curves",
    "ResultsTable": "replay.compare.table",
    "open_runs": "replay.compare.runs",
    "results_table": "replay.compare.table",
    "run_labels": "replay.compare.runs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'replay.compare' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__():
    return __all__
