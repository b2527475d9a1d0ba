"""Results of runs: the direction of each metric, the final and best values, the table of
several runs (Markdown or CSV) and the short labels that name runs in it.

numpy only, and nothing that opens runs: :class:`replay.Runs` tables the
records it read, :func:`replay.compare.results_table` the runs it opened.
"""

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from replay.errors import OptionError
from replay.io import schema

#: History keys that are not metrics.
NOT_METRICS = (schema.HISTORY_INDEX, "learning_rate", "lr")
#: Metric names (without ``val_``) where lower is better, besides any name with "loss".
LOWER_IS_BETTER = ("mse", "mae", "mape", "msle", "mean_squared_error",
                   "mean_absolute_error", "crossentropy", "error", "hinge", "kl_divergence")


def lower_is_better(key):
    """Whether a smaller value of history ``key`` is better (losses, errors)."""
    name = key[4:] if key.startswith("val_") else key
    return "loss" in name or any(part in name for part in LOWER_IS_BETTER)


def is_accuracy(key):
    """Whether history ``key`` is an accuracy (its "100% at" epoch is reported)."""
    name = key[4:] if key.startswith("val_") else key
    return "acc" in name


def metric_keys(history):
    """Return the metric keys of a history: loss first, training before validation."""
    keys = [key for key in history if key not in NOT_METRICS]
    train = [key for key in keys if not key.startswith("val_")]
    train.sort(key=lambda key: key != "loss")
    validation = [f"val_{key}" for key in train if f"val_{key}" in keys]
    validation += [key for key in keys if key.startswith("val_") and key not in validation]
    return train + validation


@dataclass
class MetricSummary:
    """One metric of one run.

    Attributes:
        final: the value after the last epoch.
        best: the best value (lowest for losses, highest otherwise).
        best_epoch: the 1-based epoch of the best value (its first occurrence).
        perfect_epoch: for accuracies, the first epoch at which the value
            reached 1.0 (``None`` when it never did, or for other metrics).
    """

    final: float
    best: float
    best_epoch: int | None
    perfect_epoch: int | None = None


def summarize(values, epochs, *, lower=False, accuracy=False):
    """Return the :class:`MetricSummary` of one history array.

    Args:
        values: the metric per epoch.
        epochs: the 1-based epoch of each value.
        lower: lower values are better.
        accuracy: also find the first epoch with value 1.0.
    """
    values = np.asarray(values, dtype=np.float64)
    epochs = np.asarray(epochs)
    finite = np.isfinite(values)
    if not finite.any():
        return MetricSummary(float(values[-1]) if len(values) else math.nan, math.nan, None)
    masked = np.where(finite, values, np.inf if lower else -np.inf)
    best_index = int(np.argmin(masked) if lower else np.argmax(masked))
    perfect = None
    if accuracy:
        hits = np.flatnonzero(values >= 1.0 - 1e-9)
        perfect = int(epochs[hits[0]]) if len(hits) else None
    return MetricSummary(float(values[-1]), float(values[best_index]),
                         int(epochs[best_index]), perfect)


@dataclass
class ResultsTable:
    """Final and best value of each metric per run, printable as Markdown or CSV.

    Build it with :func:`results_table`. Each row holds, for every metric
    ``m``: ``"m final"``, ``"m best"``, ``"m best epoch"`` and, for
    accuracies, ``"m 100% at"`` (the first epoch at 100%, empty when never).

    Attributes:
        columns: the column names: ``"run"``, the hyperparameters of the runs
            (``Run.hparams``; none when they have none), ``"epochs"``, the metrics.
        rows: one dict per run, column → value (``None`` when missing).
        summaries: ``{run label: {metric: MetricSummary}}``.

    Example:
        >>> table = results_table(["sigmoid", "relu"], path="part1.h5")  # doctest: +SKIP
        >>> print(table.to_markdown())                                    # doctest: +SKIP
        >>> table.to_csv("results.csv")                                   # doctest: +SKIP
    """

    columns: list
    rows: list
    summaries: dict = field(default_factory=dict)

    def column(self, name):
        """Return the values of column ``name``, one per run."""
        if name not in self.columns:
            raise OptionError(f"No column {name!r}. Columns: {', '.join(self.columns)}.")
        return [row.get(name) for row in self.rows]

    def formatted_rows(self, *, digits=4, missing=""):
        """Return the rows as lists of strings (floats with ``digits`` significant digits)."""
        return [[_format(row.get(column), digits, missing) for column in self.columns]
                for row in self.rows]

    def to_markdown(self, *, digits=4):
        """Return the table as a GitHub-flavoured Markdown table (never reached: "—")."""
        lines = ["| " + " | ".join(self.columns) + " |",
                 "| " + " | ".join("---" if column == "run" else "---:"
                                   for column in self.columns) + " |"]
        lines += ["| " + " | ".join(row) + " |"
                  for row in self.formatted_rows(digits=digits, missing="\u2014")]
        return "\n".join(lines)

    def to_csv(self, path=None, *, digits=None):
        """Return the table as CSV text, and write it to ``path`` when given.

        Args:
            path: a file to write, or ``None``.
            digits: significant digits of floats; ``None`` keeps full precision.
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_format(row.get(column), digits, "") for column in self.columns])
        text = buffer.getvalue()
        if path is not None:
            with open(path, "w", newline="") as handle:
                handle.write(text)
        return text

    def __str__(self):
        return self.to_markdown()


def table_of(runs, labels, metrics=None):
    """The :class:`ResultsTable` of runs already opened (anything with ``history`` and
    ``hparams``: :class:`replay.Run`, or the records of :class:`replay.Runs`).

    Columns: ``run``, each hyperparameter any run has (in order of first
    appearance; empty where a run lacks it), ``epochs``, ``complete`` when
    some run is not (a trial that raised or was killed: its last values are
    not final ones), then the metrics.
    """
    if len(labels) != len(runs):
        raise OptionError(f"Got {len(labels)} labels for {len(runs)} runs.")
    histories = [run.history for run in runs]
    hparams = [getattr(run, "hparams", {}) for run in runs]
    if metrics is None:
        metrics = []
        for history in histories:
            metrics += [key for key in metric_keys(history) if key not in metrics]
    else:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        for key in metrics:
            if not any(key in history for history in histories):
                recorded = sorted({k for history in histories for k in metric_keys(history)})
                raise OptionError(
                    f"No run has the metric {key!r}. Recorded: {', '.join(recorded) or 'none'}."
                )
    names = list(dict.fromkeys(name for values in hparams for name in values))
    complete = [bool(getattr(run, "complete", True)) for run in runs]
    columns = ["run", *names, "epochs", *([] if all(complete) else ["complete"])]
    for key in metrics:
        columns += [f"{key} final", f"{key} best", f"{key} best epoch"]
        if is_accuracy(key):
            columns.append(f"{key} 100% at")
    if len(set(columns)) != len(columns):  # a hyperparameter named like a column
        raise OptionError(
            f"A hyperparameter is named like a column of the table ({', '.join(columns)}); "
            "rename it, or table the runs without it.")
    rows, summaries = [], {}
    for label, history, values, finished in zip(labels, histories, hparams, complete):
        epochs = np.asarray(history.get(schema.HISTORY_INDEX, ()))  # {} when no epoch ended
        row = {"run": label, **values, "epochs": int(epochs[-1]) if len(epochs) else 0}
        if "complete" in columns:
            row["complete"] = finished
        summaries[label] = {}
        for key in metrics:
            if key not in history or not len(history[key]):
                continue
            summary = summarize(history[key], epochs, lower=lower_is_better(key),
                                accuracy=is_accuracy(key))
            summaries[label][key] = summary
            row.update({f"{key} final": summary.final, f"{key} best": summary.best,
                        f"{key} best epoch": summary.best_epoch})
            if is_accuracy(key):
                row[f"{key} 100% at"] = summary.perfect_epoch
        rows.append(row)
    return ResultsTable(columns, rows, summaries)


def _format(value, digits, missing):
    if value is None:
        return missing
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return repr(float(value)) if digits is None else f"{float(value):.{digits}g}"
    return str(value)


def run_labels(runs):
    """Return a short label per run: its name, or ``"file:name"`` where names repeat.

    Where the file names repeat too (``trial_01/run.h5`` and
    ``trial_02/run.h5`` of a sweep), the label takes as many of the file's
    parent folders as tell the runs apart: ``"trial_01/run:run"``.
    """
    runs = list(runs)
    by_name = {}
    for index, run in enumerate(runs):
        by_name.setdefault(run.name, []).append(index)
    labels = [None] * len(runs)
    for name, indices in by_name.items():
        if len(indices) == 1:
            labels[indices[0]] = name
            continue
        parts = {index: Path(runs[index].path).with_suffix("").parts for index in indices}
        pending, depth = indices, 1
        while pending:
            counts = Counter(parts[index][-depth:] for index in indices)
            waiting = []
            for index in pending:
                if counts[parts[index][-depth:]] == 1 or depth >= len(parts[index]):
                    labels[index] = f"{'/'.join(parts[index][-depth:])}:{name}"
                else:
                    waiting.append(index)
            pending, depth = waiting, depth + 1
    return labels
