"""What a run collection knows of a run before opening it: :class:`RunRecord`.

:class:`replay.Runs` lists, filters, sorts and tables hundreds of run files.
Opening each run as a :class:`replay.Run` reads all of its metadata (the
model config, the layers, the snapshot index, the recipes of recomputed
arrays): milliseconds a run. A collection needs much less: the run names of
each file, a few small attributes (``hparams``, ``trial``, ``complete``,
``created``) and, for tables and sorting, the history. :func:`read_records`
reads exactly that, through h5py's low-level calls (one file open, one
attribute read per attribute, one read per history key), and
:func:`read_many` spreads many files over processes.

The fast path trusts nothing it cannot check cheaply: a file or run that
is not plainly a readable replay run (no format mark, an unknown schema
version, a DeepReplay file, a file being recorded, a damaged history) is
read again through :class:`replay.Run`, whose checks give the error a user
reads (naming the file, the run and what is wrong) or read it correctly.
numpy and h5py only.
"""

import os
from dataclasses import dataclass, field

import h5py
import numpy as np

from replay.errors import ReplayError, RunFileError
from replay.io import attributes, schema
from replay.io.schema import FORMAT_NAME, SUPPORTED_SCHEMA_VERSIONS
from replay.parallel import available_cores, process_pool
from replay.run import Run, _increasing_prefix

#: The run attributes a record holds (decoded).
RECORD_ATTRIBUTES = (schema.HPARAMS_ATTRIBUTE, schema.TRIAL_ATTRIBUTE, "complete", "created")
#: From this many files, :func:`read_many` reads them in processes (below, forking costs more).
PARALLEL_FROM = 64


@dataclass
class RunRecord:
    """One run of a run file, as a collection knows it without opening it as a ``Run``.

    Attributes:
        path: the run file.
        name: the run's name in it.
        attrs: the attributes of :data:`RECORD_ATTRIBUTES` the run has, decoded.
        history: ``{key: array}`` as :attr:`replay.Run.history`, or ``None``
            until read (:func:`read_histories`).
    """

    path: str
    name: str
    attrs: dict = field(default_factory=dict)
    history: dict | None = field(default=None, repr=False)

    @property
    def hparams(self):
        """As :attr:`replay.Run.hparams`: a new dict; RunFileError when damaged."""
        return attributes.json_object(self.attrs.get(schema.HPARAMS_ATTRIBUTE),
                                      schema.HPARAMS_ATTRIBUTE, run=self.name, path=self.path,
                                      scalars=True)

    @property
    def trial(self):
        """As :attr:`replay.Run.trial`."""
        return attributes.json_object(self.attrs.get(schema.TRIAL_ATTRIBUTE),
                                      schema.TRIAL_ATTRIBUTE, run=self.name, path=self.path,
                                      scalars=False)

    @property
    def complete(self):
        return bool(self.attrs.get("complete", False))

    @property
    def key(self):
        """The run's identity: its file (resolved) and its name."""
        return os.path.normcase(os.path.realpath(self.path)), self.name


class NotARunFile(RunFileError):
    """An HDF5 file that is not a replay run file (e.g. a Keras checkpoint beside the runs).

    A directory or a glob skips such files without a warning.
    """


def read_records(path, *, history=False):
    """Return the :class:`RunRecord` of every run of one file, in their stored order.

    Args:
        path: a run file.
        history: also read every run's history.

    Raises:
        NotARunFile: an HDF5 file without replay's format mark nor DeepReplay groups.
        RunFileError: the file cannot be read (the message says why).
    """
    path = os.fspath(path)
    try:
        return _read_fast(path, history)
    except Exception:  # anything unusual: the careful reader says what, or reads it
        return _read_carefully(path, history)


def read_histories(records, *, processes=None):
    """Fill in ``history`` of the records that have none, one file open per file
    (in processes for many files, as :func:`read_many`)."""
    by_path = {}
    for record in records:
        if record.history is None:
            by_path.setdefault(record.path, []).append(record)
    found, problems = read_many(list(by_path), history=True, processes=processes)
    for (path, missing), read in zip(by_path.items(), found):
        if path in problems:
            raise problems[path]
        read = {record.name: record for record in read}
        for record in missing:
            if record.name not in read:
                raise RunFileError(f"Run {record.name!r} is no longer in '{path}'.")
            record.history = read[record.name].history


def read_many(paths, *, history=False, processes=None):
    """Read the records of many files: ``(records, problems)``.

    Args:
        paths: run files, in order.
        history: also read the histories.
        processes: worker processes; ``None`` uses every core from
            :data:`PARALLEL_FROM` files on, ``1`` reads here.

    Returns:
        ``records``: one list of :class:`RunRecord` per path (empty for a
        file that failed); ``problems``: ``{path: RunFileError}`` of the
        files that could not be read.
    """
    paths = [os.fspath(path) for path in paths]
    if processes is None:
        processes = min(available_cores(), 8) if len(paths) >= PARALLEL_FROM else 1
    if processes <= 1 or len(paths) < 2:
        results = [_read_or_problem(path, history) for path in paths]
    else:
        chunk = max(1, len(paths) // (processes * 4))
        with process_pool(processes) as pool:
            results = pool.starmap(_read_or_problem, [(path, history) for path in paths],
                                   chunksize=chunk)
    records, problems = [], {}
    for path, (found, problem) in zip(paths, results):
        records.append(found)
        if problem is not None:
            problems[path] = problem
    return records, problems


def _read_or_problem(path, history):
    try:
        return read_records(path, history=history), None
    except ReplayError as error:
        return [], error


# -- the fast path ---------------------------------------------------------------------


def _read_fast(path, history):
    file = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY)
    try:
        root = h5py.h5g.open(file, b"/")
        if _attribute(root, schema.FORMAT_ATTRIBUTE.encode()) != FORMAT_NAME:
            raise _Unusual  # another kind of file, or DeepReplay's
        records = []
        for name in list(root):
            if h5py.h5g.get_objinfo(root, name).type != h5py.h5g.GROUP:
                continue
            group = h5py.h5g.open(root, name)
            version = _attribute(group, schema.VERSION_ATTRIBUTE.encode())
            if (isinstance(version, bool) or not isinstance(version, int)
                    or version not in SUPPORTED_SCHEMA_VERSIONS):
                raise _Unusual
            found = {}
            for key in RECORD_ATTRIBUTES:
                value = _attribute(group, key.encode())
                if value is not None:
                    found[key] = value
            record = RunRecord(path, name.decode(), found)
            if history:
                record.history = _history(group)
            records.append(record)
        records.sort(key=lambda record: str(record.attrs.get("created", "")))
        return records
    finally:
        file.close()


class _Unusual(Exception):
    """Not plainly a readable replay run: read it through ``Run``."""


def _attribute(location, name):
    """An attribute, decoded (:func:`replay.io.attributes.decode`), or ``None`` when absent."""
    if not h5py.h5a.exists(location, name):
        return None
    attribute = h5py.h5a.open(location, name)
    value = np.empty(attribute.shape, dtype=attribute.dtype)
    attribute.read(value)
    return attributes.decode(value[()])


def _history(group):
    """A run group's history as :attr:`replay.Run.history` reads it (or ``_Unusual``)."""
    if not h5py.h5g.get_objinfo(group, b"history").type == h5py.h5g.GROUP:
        raise _Unusual
    history_group = h5py.h5g.open(group, b"history")
    columns = {}
    for key in list(history_group):
        dataset = h5py.h5d.open(history_group, key)
        if len(dataset.shape) != 1:
            raise _Unusual
        values = np.empty(dataset.shape, dtype=dataset.dtype)
        if values.size:
            dataset.read(h5py.h5s.ALL, h5py.h5s.ALL, values)
        columns[key.decode()] = values
    index = columns.get(schema.HISTORY_INDEX)
    if index is None:
        return {}
    length = _increasing_prefix(index)
    if any(len(values) < length for values in columns.values()):
        raise _Unusual  # damaged: Run.history says how
    return {key: values[:length] for key, values in columns.items()}


# -- the careful path ------------------------------------------------------------------


def _read_carefully(path, history):
    """The records of a file read through :class:`replay.Run` (its checks, its errors)."""
    from replay.io import runfile

    try:
        names = runfile.list_runs(path)
    except RunFileError as error:
        if os.path.isfile(path) and h5py.is_hdf5(path) and "not a replay run file" in str(
                error):
            raise NotARunFile(str(error)) from None
        raise
    records = []
    for name in names:
        with Run(path, name) as run:
            record = RunRecord(path, name, {key: run.attrs[key] for key in RECORD_ATTRIBUTES
                                            if key in run.attrs})
            if history:
                record.history = run.history
        records.append(record)
    return records
