"""Reading per-snapshot arrays a few snapshots ahead, for animations.

An animation asks for snapshot after snapshot. One HDF5 read per array per
frame costs more in h5py's per-call overhead than in the data itself, so
:class:`SnapshotReader` reads ``chunk_size`` snapshots at once, following the
step of the requests (every snapshot, every second one, ...), and keeps only
that chunk: memory stays bounded whatever the length of the run.
"""

import numpy as np

from replay.io import schema

#: Snapshots read ahead per HDF5 call.
READ_AHEAD = 16


class SnapshotReader:
    """Reads snapshots of a run's per-snapshot datasets, ``chunk_size`` at a time.

    Args:
        run: a :class:`replay.Run`.
        chunk_size: snapshots read per HDF5 call.

    Example:
        >>> reader = SnapshotReader(run)                              # doctest: +SKIP
        >>> reader.read(schema.activations("train", "hidden"), 60).shape   # doctest: +SKIP
        (2000, 2)
    """

    def __init__(self, run, *, chunk_size=READ_AHEAD):
        self.run = run
        self.chunk_size = max(int(chunk_size), 1)
        self._chunks = {}
        self._last = {}

    def read(self, dataset, epoch):
        """Return snapshot ``epoch`` of ``dataset`` (a path of :mod:`replay.io.schema`)."""
        n = self.run.n_snapshots
        index = self.run.snapshot_index(epoch)
        last, self._last[dataset] = self._last.get(dataset), index
        chunk = self._chunks.get(dataset)
        if chunk is not None and index in chunk[0]:
            return chunk[1][chunk[0][index]]
        step = index - last if last is not None and index > last else 1
        indices = range(index, min(index + step * self.chunk_size, n), step)
        array = self.run.series(dataset, indices)
        self._chunks[dataset] = ({value: position for position, value in enumerate(indices)},
                                 np.asarray(array))
        return array[0]

    def probabilities(self, source, epoch):
        """Return the class probabilities on ``source`` at ``epoch`` (see ``Run.probabilities``).

        The outputs as recorded, or through a sigmoid / softmax when the run's
        outputs are logits.
        """
        return self.run.output_probabilities(self.read(schema.outputs(source), epoch))
