"""Findings over many runs: diagnose a sweep in processes, and say what the runs with a
finding have in common.

:func:`diagnose_runs` runs :func:`replay.diagnose.diagnose` on every run of
a collection (:class:`replay.Runs`, or any iterable of :class:`replay.Run`),
spreading the runs over processes (each opens its runs itself: nothing but
the file path and the run name crosses), and returns a
:class:`SweepDiagnosis`. Its :meth:`SweepDiagnosis.summary` groups the
findings by kind and names the hyperparameters that every run with the
finding shares and the other runs do not all share::

    symmetric-units  warning  in 250 of 1000 runs: all initializer=zeros (every such run)

numpy only.
"""

import os
from dataclasses import dataclass, field

from replay.diagnose import CHECKS, diagnose
from replay.errors import OptionError, ReplayError
from replay.parallel import available_cores, process_pool
from replay.results import run_labels
from replay.run import Run, format_hparam_value

#: Runs per task handed to a worker process.
CHUNK_RUNS = 8
#: A hyperparameter value that at least this fraction of the runs with a finding share
#: (but not all of them) is named as "mostly".
MOSTLY = 0.75


@dataclass(frozen=True)
class SharedFinding:
    """One kind of finding over the runs of a sweep.

    Attributes:
        kind: the check (:data:`replay.diagnose.CHECKS`).
        severity: ``"warning"`` when any of the runs has it as a warning, else ``"note"``.
        runs: the labels of the runs with it.
        total: how many runs were diagnosed.
        shared: ``[(name, value, count, among)]``: hyperparameters whose value
            ``count`` of the runs with the finding share (all of them, or
            at least :data:`MOSTLY`), and ``among``, how many runs of the
            whole sweep have that value.
    """

    kind: str
    severity: str
    runs: tuple
    total: int
    shared: tuple = ()

    def format(self):
        """One line: ``kind  severity  in N of M runs: all name=value (every such run)``."""
        text = f"{self.kind:<19}  {self.severity:<7}  in {len(self.runs)} of {self.total} runs"
        parts = []
        for name, value, count, among in self.shared:
            word = "all" if count == len(self.runs) else f"mostly ({count})"
            every = (" (every such run)" if count == among else
                     f" ({count} of the {among} such runs)")
            parts.append(f"{word} {name}={format_hparam_value(value)}{every}")
        return text + (": " + "; ".join(parts) if parts else "")


@dataclass
class SweepDiagnosis:
    """The diagnoses of many runs, with a summary by kind of finding.

    Attributes:
        diagnoses: one :class:`replay.diagnose.Diagnosis` per run, in order.
        labels: a label per run (see :func:`replay.compare.run_labels`).
        hparams: the hyperparameters of each run.
        failed: ``{label: message}`` of the runs that could not be diagnosed.
    """

    diagnoses: list
    labels: list
    hparams: list
    failed: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.diagnoses)

    def __iter__(self):
        return iter(self.diagnoses)

    def summary(self):
        """Return a :class:`SharedFinding` per kind found, in the order of :data:`CHECKS`."""
        total = len(self.diagnoses)
        found = {}
        for index, diagnosis in enumerate(self.diagnoses):
            for finding in diagnosis.findings:
                entry = found.setdefault(finding.kind, {"runs": [], "warning": False})
                if not entry["runs"] or entry["runs"][-1] != index:
                    entry["runs"].append(index)
                entry["warning"] |= finding.alarming
        shared = []
        for kind in sorted(found, key=CHECKS.index):
            indices = found[kind]["runs"]
            shared.append(SharedFinding(
                kind=kind, severity="warning" if found[kind]["warning"] else "note",
                runs=tuple(self.labels[index] for index in indices), total=total,
                shared=tuple(self._shared(indices))))
        return shared

    def _shared(self, indices):
        """The hyperparameter values the runs ``indices`` share and the whole sweep does not."""
        chosen = [self.hparams[index] for index in indices]
        names = list(dict.fromkeys(name for values in chosen for name in values))
        shared = []
        for name in names:
            counts = {}
            for values in chosen:
                if name in values:
                    key = _key(values[name])
                    counts[key] = counts.get(key, (values[name], 0))
                    counts[key] = (counts[key][0], counts[key][1] + 1)
            value, count = max(counts.values(), key=lambda item: item[1])
            among = sum(1 for values in self.hparams
                        if name in values and _key(values[name]) == _key(value))
            if among == len(self.hparams):
                continue  # every run has it: it tells nothing
            if count == len(indices) or count >= MOSTLY * len(indices) and len(indices) > 2:
                shared.append((name, value, count, among))
        shared.sort(key=lambda item: -item[2])
        return shared

    def format_summary(self):
        """The summary as text, one line per kind of finding (or a line saying none)."""
        lines = [f"{len(self.diagnoses)} runs diagnosed"
                 + (f", {len(self.failed)} could not be" if self.failed else "")]
        summary = self.summary()
        lines += ["  " + item.format() for item in summary] or ["  nothing found"]
        lines += [f"  not diagnosed: {label}: {message}" for label, message in
                  self.failed.items()]
        return "\n".join(lines)

    def to_dict(self):
        """A JSON-ready dict: every run's diagnosis and the summary."""
        return {"runs": [dict(diagnosis.to_dict(), label=label, hparams=values)
                         for diagnosis, label, values in
                         zip(self.diagnoses, self.labels, self.hparams)],
                "summary": [{"kind": item.kind, "severity": item.severity,
                             "runs": len(item.runs), "total": item.total,
                             "shared": [{"name": name, "value": value, "count": count,
                                         "among": among}
                                        for name, value, count, among in item.shared]}
                            for item in self.summary()],
                "failed": dict(self.failed)}


def _key(value):
    return type(value) is bool, value


def diagnose_runs(runs, *, checks=None, source="train", processes=None, model_file=None):
    """Diagnose every run (in processes) and return a :class:`SweepDiagnosis`.

    Args:
        runs: a :class:`replay.Runs`, or an iterable of :class:`replay.Run`.
        checks, source: as :func:`replay.diagnose.diagnose`.
        processes: worker processes; ``None``: every core when there are
            more runs than :data:`CHUNK_RUNS`, ``1``: here.
        model_file: for DeepReplay runs, as :class:`replay.Run`.

    Raises:
        OptionError: an unknown check or source (before any run is read).
    """
    if checks is not None:
        unknown = [check for check in ([checks] if isinstance(checks, str) else checks)
                   if check not in CHECKS]
        if unknown:
            raise OptionError(f"Unknown check {unknown[0]!r}. Checks: {', '.join(CHECKS)}.")
    records = runs.records if hasattr(runs, "records") else list(runs)
    labels = run_labels(records)
    hparams = [getattr(record, "hparams", {}) for record in records]
    tasks = []
    for record in records:
        in_memory = isinstance(record, Run) and record.in_memory
        tasks.append(record if in_memory else (os.fspath(record.path), record.name))
    if processes is None:
        processes = min(available_cores(), 8) if len(tasks) > CHUNK_RUNS else 1
    options = {"checks": checks, "source": source, "model_file": model_file}
    if processes <= 1 or any(isinstance(task, Run) for task in tasks):
        results = [_diagnose_one(task, options) for task in tasks]
    else:
        with process_pool(processes) as pool:
            results = pool.starmap(_diagnose_one, [(task, options) for task in tasks],
                                   chunksize=max(1, min(CHUNK_RUNS, len(tasks) // processes)))
    diagnoses, kept_labels, kept_hparams, failed = [], [], [], {}
    for label, values, (diagnosis, problem) in zip(labels, hparams, results):
        if problem is not None:
            failed[label] = problem
            continue
        diagnoses.append(diagnosis)
        kept_labels.append(label)
        kept_hparams.append(values)
    return SweepDiagnosis(diagnoses, kept_labels, kept_hparams, failed)


def _diagnose_one(task, options):
    """``(Diagnosis, None)`` of one run, or ``(None, message)`` when it cannot be read."""
    checks, source, model_file = options["checks"], options["source"], options["model_file"]
    try:
        if isinstance(task, Run):
            return diagnose(task, checks=checks, source=source), None
        path, name = task
        with Run(path, name, model_file=model_file) as run:
            return diagnose(run, checks=checks, source=source), None
    except OptionError:
        raise
    except ReplayError as error:
        return None, str(error)
