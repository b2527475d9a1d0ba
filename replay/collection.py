"""Many recorded runs as one: :class:`Runs`, from files, directories and globs.

A hyperparameter search writes one run file per trial (HDF5 has one writer
per file), usually one folder per trial. ``Runs("sweep/")`` takes them
all: it lists, filters by hyperparameters and results, sorts, tables and
hands its runs to every comparison (:mod:`replay.compare`,
:func:`replay.diagnose.diagnose`), reading only what each step needs:

- creating a collection only finds the files (nothing is opened);
- the first question (``len``, iterating, ``where``) reads each file's run
  names and four small attributes (``hparams``, ``trial``, ``complete``,
  ``created``; :mod:`replay.catalog`), in processes from 64 files on;
- tables and sorting by a metric read the histories of the runs they
  cover;
- a run's arrays are read only when a view, a scene or a diagnosis asks
  for them, through the :class:`replay.Run` the collection yields.

Directories are searched **recursively** (Ray Tune, KerasTuner and Optuna
studies put each trial in a folder of its own) for files ending in ``.h5``
or ``.hdf5``; HDF5 files there that are not replay run files (Keras
checkpoints beside the runs) are left out quietly, and listed in
:attr:`Runs.skipped`. A file found in a directory or by a glob that cannot
be read (truncated, damaged, an unknown schema version) is left out with an
:class:`replay.errors.UnreadableRunWarning` naming it, so that one broken
trial does not hide the others; a file named explicitly raises instead.

numpy and h5py only; :meth:`Runs.table` uses pandas when it is installed.

The module is one class, the collection's API, and its docstrings (a little
over 500 lines): finding the files is :mod:`replay.run_files`, reading them
:mod:`replay.catalog`, the table :mod:`replay.results`, the diagnosis of
many runs :mod:`replay.findings`.
"""

import math
import os
import warnings

from replay.catalog import NotARunFile, RunRecord, read_histories, read_many
from replay.errors import OptionError, RunFileError, RunNotFoundError, UnreadableRunWarning
from replay.results import lower_is_better, metric_keys, run_labels, table_of
from replay.run import Run
from replay.run_files import find_run_files

#: What a metric of :meth:`Runs.sort_by` and :meth:`Runs.best` compares.
AT = ("final", "best")
#: What ``on_error`` accepts.
ON_ERROR = ("warn", "raise", "ignore")


class Runs:
    """A lazily opened collection of recorded runs: files, directories, globs, ``Run`` objects.

    Iterating yields :class:`replay.Run` objects (opened once, their file
    handles closed until an array is read), so a collection goes wherever
    a list of runs goes: ``ComparisonScene.grid(runs.where(lr=0.1))``,
    ``results_table(runs)``, ``[run.diagnose() for run in runs]``.

    Args:
        *sources: what to collect; each is a run file, ``"file.h5:run"``
            (one run of a file), a directory (searched recursively for
            ``.h5``/``.hdf5`` files), a glob (``"sweep/*/run.h5"``,
            ``"**"`` allowed), a :class:`replay.Run`, another ``Runs``, or
            a list of those. A run reached twice is kept once.
        recursive: search directories recursively (default) or only
            their top level.
        on_error: what to do with a file from a directory or glob that
            cannot be read: ``"warn"`` (leave it out with an
            :class:`UnreadableRunWarning`), ``"raise"`` or ``"ignore"``
            (leave it out quietly; it is still in :attr:`problems`).
        processes: processes that read the files' metadata; ``None``: every
            core from 64 files on.

    Attributes:
        problems: ``{file: message}`` of the files left out as unreadable.
        skipped: ``{file: message}`` of the HDF5 files that are not run files.

    Raises:
        OptionError: a glob or directory matches no run file, or a source
            is of a kind it cannot be.
        RunFileError: a file or directory named explicitly does not exist.

    Example:
        >>> runs = Runs("sweep/")                                       # doctest: +SKIP
        >>> len(runs), runs.hparam_values()["activation"]               # doctest: +SKIP
        (27, ['relu', 'sigmoid', 'tanh'])
        >>> relu = runs.where(activation="relu", lr=lambda lr: lr < 0.1)  # doctest: +SKIP
        >>> relu.best("val_accuracy").hparams                            # doctest: +SKIP
        {'activation': 'relu', 'initializer': 'he', 'lr': 0.05}
        >>> runs.table()                     # a pandas DataFrame        # doctest: +SKIP
    """

    def __init__(self, *sources, recursive=True, on_error="warn", processes=None):
        if on_error not in ON_ERROR:
            raise OptionError(f"on_error must be one of {', '.join(ON_ERROR)}. Got "
                              f"{on_error!r}.")
        self.recursive = recursive
        self.on_error = on_error
        self.processes = processes
        self.problems = {}
        self.skipped = {}
        self._sources = _flatten(sources)
        if not self._sources:
            raise OptionError("Runs() needs at least one file, directory, glob or Run.")
        self._wanted = [self._resolve(source) for source in self._sources]
        self._records = None
        self._opened = {}  # record key -> Run, shared with the collections made from this one

    @classmethod
    def _of(cls, records, parent):
        """A collection of some of ``parent``'s records (shares its opened runs)."""
        runs = cls.__new__(cls)
        runs.recursive, runs.on_error, runs.processes = (parent.recursive, parent.on_error,
                                                         parent.processes)
        runs.problems, runs.skipped = parent.problems, parent.skipped
        runs._sources = parent._sources
        runs._wanted = None
        runs._records = list(records)
        runs._opened = parent._opened
        return runs

    # -- finding the files ------------------------------------------------------------

    def _resolve(self, source):
        """One source as ``("run", Run)``, ``("runs", Runs)`` or ``("files", [(path, run, explicit)])``."""
        if isinstance(source, Run):
            return "run", source
        if isinstance(source, Runs):
            return "runs", source
        if not isinstance(source, (str, os.PathLike)):
            raise OptionError(
                f"A run source must be a file, 'file.h5:run', a directory, a glob, a Run or "
                f"Runs. Got {source!r}.")
        return "files", find_run_files(os.fspath(source), recursive=self.recursive)

    # -- reading the records ----------------------------------------------------------

    def _loaded(self, history=False):
        """The records of the runs, read on first use (with their histories, when asked
        then: a table of a fresh collection reads each file once)."""
        if self._records is None:
            self._records = self._read(history)
        return self._records

    def _read(self, history=False):
        wanted_files = []
        for kind, value in self._wanted:
            if kind == "files":
                wanted_files += [path for path, _, _ in value]
        unique_files = list(dict.fromkeys(wanted_files))
        read, problems = read_many(unique_files, history=history, processes=self.processes)
        by_file = dict(zip(unique_files, read))
        records, seen = [], set()

        def add(record, run=None):
            key = record.key if run is None or not run.in_memory else ("<in memory>", id(run))
            if key in seen:
                return
            seen.add(key)
            if run is not None:
                self._opened[key] = run
            records.append(record)

        for kind, value in self._wanted:
            if kind == "run":
                add(_record_of(value), value)
            elif kind == "runs":
                for record in value._loaded():
                    add(record)
                self._opened.update(value._opened)
            else:
                for path, name, explicit in value:
                    problem = problems.get(path)
                    if problem is not None:
                        self._problem(path, problem, explicit)
                        continue
                    found = by_file[path]
                    if name is not None:
                        found = [record for record in found if record.name == name]
                        if not found:
                            names = ", ".join(repr(record.name) for record in by_file[path])
                            raise RunNotFoundError(
                                f"No run {name!r} in '{path}'. Runs there: {names or 'none'}.")
                    for record in found:
                        if self._valid(record, explicit):
                            add(record)
        if not records:
            raise OptionError(self._nothing_found())
        return records

    def _problem(self, path, problem, explicit):
        """A file that could not be read: raise, or leave it out as ``on_error`` says."""
        if isinstance(problem, NotARunFile):
            if explicit:
                raise problem
            self.skipped[path] = str(problem)
            return
        if explicit or self.on_error == "raise":
            raise problem
        self.problems[path] = str(problem)
        if self.on_error == "warn":
            warnings.warn(f"Left out '{path}': {problem}", UnreadableRunWarning, stacklevel=4)

    def _valid(self, record, explicit):
        """Whether a run's hyperparameters and trial are readable (else it is left out or raises)."""
        if explicit:
            return True  # its damaged attribute raises when read
        try:
            record.hparams, record.trial  # noqa: B018 (checked, not used)
        except RunFileError as error:
            self._problem(record.path, error, False)
            return False
        return True

    def _nothing_found(self):
        sources = ", ".join(repr(os.fspath(source)) if not isinstance(source, (Run, Runs))
                            else repr(source) for source in self._sources)
        reasons = []
        if self.skipped:
            reasons.append(f"{len(self.skipped)} HDF5 file(s) there are not replay run files "
                           f"(e.g. '{next(iter(self.skipped))}')")
        if self.problems:
            reasons.append(f"{len(self.problems)} file(s) could not be read (e.g. "
                           f"'{next(iter(self.problems))}')")
        return (f"No runs in {sources}" + (f": {'; '.join(reasons)}" if reasons else "")
                + ". Give the files (or the folder) that replay.Recorder wrote.")

    # -- a collection of runs ---------------------------------------------------------

    def __len__(self):
        return len(self._loaded())

    def __iter__(self):
        for record in self._loaded():
            yield self._run(record)

    def __getitem__(self, index):
        records = self._loaded()
        if isinstance(index, slice):
            return Runs._of(records[index], self)
        return self._run(records[index])

    def __bool__(self):
        return bool(self._loaded())

    def _run(self, record):
        """The :class:`replay.Run` of a record, opened once (its file closed until used)."""
        run = self._opened.get(record.key)
        if run is None:
            run = Run(record.path, record.name)
            run.close()  # a collection of 1,000 runs must not hold 1,000 files open
            self._opened[record.key] = run
        return run

    def close(self):
        """Close the files of the runs opened so far (they reopen when read)."""
        for run in self._opened.values():
            run.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        if self._records is None:
            files = sum(len(value) for kind, value in self._wanted or () if kind == "files")
            return f"Runs({files} file(s), not read yet)"
        files = len({record.path for record in self._records})
        return f"Runs({len(self._records)} runs in {files} file(s))"

    @property
    def records(self):
        """The :class:`replay.catalog.RunRecord` of each run (path, name, small attributes)."""
        return list(self._loaded())

    @property
    def paths(self):
        """The run files, each once, in order."""
        return list(dict.fromkeys(record.path for record in self._loaded()))

    def labels(self):
        """A short label per run: its name, with as much of its path as tells runs apart."""
        return run_labels(self._loaded())

    # -- hyperparameters --------------------------------------------------------------

    def hparam_values(self):
        """Every hyperparameter of the runs and its distinct values: ``{name: [values]}``.

        Names in order of first appearance; values sorted (numbers before
        text, ``None`` last).
        """
        values = {}
        for record in self._loaded():
            for name, value in record.hparams.items():
                bucket = values.setdefault(name, [])
                if not any(_same(value, known) for known in bucket):
                    bucket.append(value)
        return {name: sorted(found, key=_value_order) for name, found in values.items()}

    def where(self, *predicates, **hparams):
        """Return the runs that match every test, as a new :class:`Runs`.

        Args:
            *predicates: functions of a :class:`replay.Run` returning a
                truth value, e.g. (results)
                ``lambda run: run.history["val_accuracy"][-1] > 0.9``
                or ``lambda run: run.complete``.
            **hparams: hyperparameter tests: a value (equal; ``True`` is not
                ``1``), a list, tuple or set of values (any of them), or a
                function of the value (``lr=lambda lr: lr < 0.1``). A run
                without the hyperparameter does not match.

        Raises:
            OptionError: no run has a hyperparameter named here (a typo),
                or a predicate is not callable.

        Example:
            >>> runs.where(activation="relu", lr=[0.01, 0.1])            # doctest: +SKIP
            >>> runs.where(lambda run: run.diverged_epoch is None)       # doctest: +SKIP
        """
        for predicate in predicates:
            if not callable(predicate):
                raise OptionError(
                    f"where() takes functions of a run and hyperparameter=value tests. Got "
                    f"{predicate!r}; for a hyperparameter write where(name=value).")
        records = self._loaded()
        known = {name for record in records for name in record.hparams}
        unknown = [name for name in hparams if name not in known]
        if unknown:
            raise OptionError(
                f"No run has the hyperparameter {unknown[0]!r}. Hyperparameters: "
                f"{', '.join(sorted(known)) or 'none (the runs were recorded without hparams)'}.")
        kept = []
        for record in records:
            values = record.hparams
            if not all(name in values and _matches(values[name], test)
                       for name, test in hparams.items()):
                continue
            if predicates:
                run = self._run(record)
                if not all(predicate(run) for predicate in predicates):
                    continue
            kept.append(record)
        return Runs._of(kept, self)

    def named(self, names):
        """Return the runs named ``names`` (in any of the files), as a new :class:`Runs`.

        Raises:
            RunNotFoundError: a name matches no run; the message lists some names.
        """
        names = [names] if isinstance(names, str) else list(names)
        records = self._loaded()
        present = {record.name for record in records}
        missing = [name for name in names if name not in present]
        if missing:
            listed = ", ".join(repr(name) for name in sorted(present)[:10])
            raise RunNotFoundError(
                f"No run {missing[0]!r} among the {len(records)} runs. Runs: {listed}"
                + (", ..." if len(present) > 10 else "") + ".")
        wanted = set(names)
        return Runs._of([record for record in records if record.name in wanted], self)

    # -- results ----------------------------------------------------------------------

    def _histories(self):
        records = self._loaded(history=True)
        files = [record for record in records if record.history is None
                 and record.key not in self._opened]
        read_histories(files, processes=self.processes)
        for record in records:
            if record.history is None:
                record.history = self._run(record).history
        return records

    def metric(self, metric, *, at="final"):
        """The value of a history ``metric`` per run (NaN where a run lacks it), in order.

        Args:
            metric: a history key, e.g. ``"val_accuracy"``.
            at: ``"final"`` (after the last epoch) or ``"best"`` (lowest for
                losses and errors, highest otherwise).

        Raises:
            OptionError: no run has the metric; ``at`` is neither.
        """
        return [value for _, value in self._metric_values(metric, at)]

    def _metric_values(self, metric, at):
        if at not in AT:
            raise OptionError(f"at must be one of {', '.join(AT)}. Got {at!r}.")
        records = self._histories()
        if not any(metric in record.history for record in records):
            recorded = sorted({key for record in records for key in metric_keys(record.history)})
            raise OptionError(f"No run has the metric {metric!r}. Recorded: "
                              f"{', '.join(recorded) or 'none'}.")
        lower = lower_is_better(metric)
        values = []
        for record in records:
            series = record.history.get(metric)
            values.append((record, _metric_value(series, at, lower)))
        return values

    def sort_by(self, key, *, at="final", reverse=False):
        """Return the runs sorted by a hyperparameter, a metric or a function of a run.

        Args:
            key: a hyperparameter name (ascending), a history metric (best
                first: lowest for losses and errors, highest otherwise; see
                ``at``) or a function of a :class:`replay.Run`. A name that
                is both is taken as the hyperparameter.
            at: for a metric, ``"final"`` or ``"best"`` value of each run.
            reverse: the opposite order. Runs without the value (or with
                NaN) come last either way.

        Example:
            >>> runs.sort_by("val_loss")[:5]           # the five lowest      # doctest: +SKIP
        """
        records = self._loaded()
        if callable(key):
            pairs = [(record, key(self._run(record))) for record in records]
            return Runs._of(_ordered(pairs, reverse, order=lambda value: value), self)
        if not isinstance(key, str):
            raise OptionError(f"sort_by takes a hyperparameter, a metric or a function of a "
                              f"run. Got {key!r}.")
        if any(key in record.hparams for record in records):
            pairs = [(record, record.hparams.get(key, _MISSING)) for record in records]
            return Runs._of(_ordered(pairs, reverse), self)
        pairs = self._metric_values(key, at)
        if lower_is_better(key):
            return Runs._of(_ordered(pairs, reverse), self)
        return Runs._of(_ordered(pairs, not reverse), self)

    def best(self, metric, *, at="final"):
        """Return the run with the best value of a history ``metric``.

        Lowest for losses and errors (``loss``, ``val_mse``, ...), highest
        otherwise (``accuracy``, ...); ``at`` chooses each run's ``"final"``
        (default) or ``"best"`` value. A run that diverged (a NaN value)
        never wins.

        Raises:
            OptionError: no run has the metric, or none has a finite value of it.
        """
        if not isinstance(metric, str):
            raise OptionError(f"best takes the name of a history metric. Got {metric!r}.")
        pairs = self._metric_values(metric, at)
        record = _ordered(pairs, not _lower(metric))[0]
        value = _metric_value(record.history.get(metric), at, _lower(metric))
        if value is None or math.isnan(value):
            raise OptionError(f"No run has a finite {at} value of {metric!r}.")
        return self._run(record)

    def results_table(self, metrics=None):
        """The :class:`replay.results.ResultsTable` of the runs: hyperparameters, then the
        final and best value of every metric; Markdown or CSV (what ``replay table`` prints).
        """
        records = self._histories()
        return table_of(records, self.labels(), metrics)

    def table(self, metrics=None):
        """Return one row per run: its hyperparameters and final and best metrics.

        A ``pandas.DataFrame`` (columns ``run``, ``file``, each hyperparameter,
        ``epochs``, ``complete`` when some run is not, then per metric ``"<metric> final"``, ``"<metric> best"``,
        ``"<metric> best epoch"`` and, for accuracies, ``"<metric> 100% at"``)
        when pandas is installed; otherwise the :meth:`results_table`.

        Args:
            metrics: history keys to summarize; ``None`` for all.
        """
        table = self.results_table(metrics)
        try:
            import pandas
        except ImportError:
            return table
        rows = [{"run": row["run"], "file": record.path,
                 **{column: row.get(column) for column in table.columns[1:]}}
                for row, record in zip(table.rows, self._loaded())]
        return pandas.DataFrame(rows, columns=["run", "file", *table.columns[1:]])

    def diagnose(self, *, checks=None, source="train", processes=None):
        """Diagnose every run, in processes: a :class:`replay.findings.SweepDiagnosis`.

        Its ``summary()`` says which findings the runs share and the
        hyperparameters those runs have in common.
        """
        from replay.findings import diagnose_runs

        return diagnose_runs(self, checks=checks, source=source, processes=processes)


# -- helpers ---------------------------------------------------------------------------


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def _flatten(sources):
    flat = []
    for source in sources:
        if isinstance(source, (list, tuple)):
            flat += _flatten(source)
        else:
            flat.append(source)
    return flat


def _record_of(run):
    """A record of a run given as a :class:`replay.Run` object."""
    keys = ("hparams", "trial", "complete", "created")
    record = RunRecord(run.path, run.name, {key: run.attrs[key] for key in keys
                                            if key in run.attrs})
    record.history = run.history
    return record


def _same(value, other):
    return isinstance(value, bool) == isinstance(other, bool) and value == other


def _matches(value, test):
    if callable(test):
        return bool(test(value))
    if isinstance(test, (list, tuple, set, frozenset)):
        return any(_same(value, item) for item in test)
    return _same(value, test)


def _value_order(value):
    if value is None:
        return (3, 0)
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def _lower(metric):
    return lower_is_better(metric)


def _metric_value(series, at, lower):
    """A run's final or best value of a metric (NaN when it has none)."""
    import numpy as np

    if series is None or not len(series):
        return math.nan
    values = np.asarray(series, dtype=np.float64)
    if at == "final":
        return float(values[-1])
    finite = values[np.isfinite(values)]
    if not finite.size:
        return math.nan
    return float(finite.min() if lower else finite.max())


def _ordered(pairs, reverse, order=_value_order):
    """The records of ``(record, value)`` pairs by ``order(value)``; missing and NaN last."""
    def missing(value):
        return value is _MISSING or value is None or (
            isinstance(value, float) and math.isnan(value))

    present = [(record, value) for record, value in pairs if not missing(value)]
    absent = [record for record, value in pairs if missing(value)]
    try:
        present.sort(key=lambda pair: order(pair[1]), reverse=reverse)
    except TypeError as error:
        raise OptionError(f"Cannot order the runs by these values: {error}.") from None
    return [record for record, _ in present] + absent
