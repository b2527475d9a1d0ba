"""What the explorer page says about a run besides its frames: a JSON-ready summary.

The summary holds the run's hyperparameters and trial, whether it
completed, its epochs, its history (the page draws the loss curves from
it), its final metrics, the epoch at which it first reached a target
accuracy and the findings of :func:`replay.diagnose.diagnose` with their
epochs (marks on the page's slider).
"""

import math

import numpy as np

from replay.diagnose import diagnose

#: Accuracy a run must reach for the table's "reached" column, unless asked otherwise.
TARGET_ACCURACY = 1.0


def json_number(value):
    """``value`` as a JSON number, ``None`` for NaN or infinity (JSON has neither)."""
    value = float(value)
    return value if math.isfinite(value) else None


def reached_epoch(history, target, metric="accuracy"):
    """The first epoch whose ``metric`` is at least ``target``, or ``None``."""
    values = history.get(metric)
    if values is None or not len(values):
        return None
    reached = np.flatnonzero(np.asarray(values, dtype=float) >= target - 1e-9)
    return int(history["epoch"][reached[0]]) if reached.size else None


def run_summary(run, *, label, target_accuracy=TARGET_ACCURACY):
    """Return the JSON-ready summary of ``run`` for the page.

    Args:
        run: a :class:`replay.Run`.
        label: the run's name on the page (unique among the page's runs).
        target_accuracy: the accuracy of the "reached at epoch" column.

    Returns:
        A dict: ``label``, ``file``, ``run``, ``hparams``, ``trial``, ``task``,
        ``complete``, ``stopped_early``, ``epochs`` (of the snapshots),
        ``history`` (name → list, ``epoch`` included), ``final`` (the last
        value of each history key), ``reached`` (epoch of the target
        accuracy), ``findings`` (dicts with ``kind``, ``severity``,
        ``layer``, ``epochs``, ``tag``, ``message``, ``advice``).
    """
    history = run.history
    curves = {key: [json_number(value) for value in values] for key, values in history.items()}
    final = {key: values[-1] for key, values in curves.items() if key != "epoch" and values}
    findings = []
    if run.n_snapshots:
        for finding in diagnose(run):
            findings.append({
                "kind": finding.kind, "severity": finding.severity, "layer": finding.layer,
                "epochs": [float(value) for value in finding.epochs], "tag": finding.tag,
                "message": finding.message, "advice": finding.advice,
            })
    return {
        "label": label,
        "file": str(run.path),
        "run": run.name,
        "hparams": run.hparams,
        "trial": run.trial,
        "task": run.task,
        "complete": run.complete,
        "stopped_early": run.stopped_early,
        "epochs": [float(value) for value in run.epochs],
        "history": curves,
        "final": final,
        "reached": reached_epoch(history, target_accuracy),
        "findings": findings,
    }
