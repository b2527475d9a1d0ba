"""Storing a loss landscape computed with the model in its run's group.

The Keras side (:func:`replay.record.landscape.record_landscape`) computes
the landscape of a model replay cannot evaluate with numpy and hands the
arrays here; ``Run.landscape()`` reads them back
(:func:`replay.landscape.read_landscape`). The layout is in
``docs/run-file-schema.md`` ("Loss landscape"): the group
:data:`replay.io.schema.LANDSCAPE` and the run attribute
:data:`replay.io.schema.LANDSCAPE_ATTRIBUTE`.

numpy and h5py only.
"""

import numpy as np

from replay.io import runfile, schema


def write_landscape(path, run, arrays, description):
    """Write (or replace) the stored landscape of run ``run`` in the file ``path``.

    Args:
        path: the run file (not being recorded: a recording's writer owns it).
        run: the run's name.
        arrays: ``{name: array}`` for every name of :data:`replay.io.schema.LANDSCAPE_ARRAYS`.
        description: the JSON text of :data:`replay.io.schema.LANDSCAPE_ATTRIBUTE`.
    """
    missing = [name for name in schema.LANDSCAPE_ARRAYS if name not in arrays]
    if missing:
        raise ValueError(f"A stored landscape needs {', '.join(missing)}.")
    with runfile.open_file(path, "a") as handle:
        group = runfile.open_run_group(handle, path, run)
        if schema.LANDSCAPE in group:
            del group[schema.LANDSCAPE]
        for name in schema.LANDSCAPE_ARRAYS:
            group.create_dataset(schema.landscape(name),
                                 data=np.asarray(arrays[name], dtype=np.float64))
        group.attrs[schema.LANDSCAPE_ATTRIBUTE] = description
        handle.flush()
