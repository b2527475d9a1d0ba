"""The run file as code: its schema, opening and checking it, and writing it.

- :mod:`replay.io.schema`: every dataset and attribute path of a run;
- :mod:`replay.io.runfile`: opening a run file and a run, with clear errors;
- :mod:`replay.io.writer`: :class:`RunWriter`, appending snapshots crash-safely;
- :mod:`replay.io.writer_process`: the child process the recorder writes through;
- :mod:`replay.io.store`: the storage behind :class:`replay.Run` (a run group,
  or datasets in memory, read from disk or computed on demand);
- :mod:`replay.io.storage`: how a snapshot's arrays are stored (float16 for
  large activations, summaries instead of raw values);
- :mod:`replay.io.recompute`: datasets a run recomputes from its weights;
- :mod:`replay.io.deepreplay`: reading files of the old DeepReplay package;
- :mod:`replay.io.memory`: runs built from arrays (``Run.from_arrays``).

numpy and h5py only: nothing here imports Keras or a backend.
"""

from replay.io.runfile import list_runs, open_file, open_run_group
from replay.io.writer import RunWriter

__all__ = ["RunWriter", "list_runs", "open_file", "open_run_group"]
