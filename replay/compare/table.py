"""The results table of several runs: final and best value of every metric, as Markdown or CSV.

The table itself (:class:`ResultsTable`, :func:`summarize`, the direction of
each metric) is :mod:`replay.results`, which :class:`replay.Runs` shares;
here it is built from runs named as :func:`replay.compare.open_runs` takes them.
"""

from replay.compare.runs import open_runs
from replay.results import (  # noqa: F401 (their home before replay.results)
    LOWER_IS_BETTER,
    NOT_METRICS,
    MetricSummary,
    ResultsTable,
    is_accuracy,
    lower_is_better,
    metric_keys,
    run_labels,
    summarize,
    table_of,
)


def results_table(runs=None, *, path=None, metrics=None, labels=None):
    """Summarize the recorded histories of several runs in a :class:`ResultsTable`.

    Args:
        runs: the runs (see :func:`replay.compare.open_runs`): ``Run``
            objects, ``"file.h5:run"`` or run names of ``path``.
        path: the run file of bare run names (all its runs when ``runs`` is None).
        metrics: the history keys to summarize, e.g. ``["accuracy",
            "val_accuracy"]``; ``None`` for every metric of every run (loss
            first, training before validation).
        labels: the row names; ``None`` for the run names.

    Returns:
        A :class:`ResultsTable`.
    """
    runs = open_runs(runs, path)
    labels = run_labels(runs) if labels is None else list(labels)
    return table_of(runs, labels, metrics)
