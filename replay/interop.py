"""A run as data-science objects: an ``xarray`` dataset and a ``pandas`` history table.

``pip install 'keras-replay[xarray]'`` installs both; replay itself never
needs them (they are imported when asked for).

- :func:`to_xarray`: the per-sample arrays of a run (activations, z-values,
  outputs, per-sample losses) with named dimensions ``snapshot``, ``sample``
  and ``unit`` and the epochs as a coordinate;
- :func:`history_frame`: what Keras logged per epoch, one row per epoch.

Example:
    >>> run = Run("runs/part1.h5", "sigmoid")                            # doctest: +SKIP
    >>> run.to_xarray("hidden").sel(unit=0).mean("sample")             # doctest: +SKIP
    >>> run.history_frame()[["loss", "accuracy"]].plot()                # doctest: +SKIP
"""

import numpy as np

from replay.errors import LayerNotFoundError, OptionError
from replay.io import schema

#: What :func:`to_xarray` can read, per layer or for the whole model.
QUANTITIES = ("activations", "preactivations", "outputs", "loss")
#: Snapshots read per HDF5 call.
CHUNK = 32


def _require(module):
    try:
        return __import__(module)
    except ImportError:
        raise OptionError(
            f"This needs {module}, which replay does not install by default: "
            "pip install 'keras-replay[xarray]' (xarray and pandas).") from None


def _read(run, path, indices):
    """``path`` at the snapshot ``indices``, read :data:`CHUNK` snapshots at a time."""
    first = np.asarray(run.series(path, indices[:1]))
    array = np.empty((len(indices), *first.shape[1:]), dtype=first.dtype)
    for start in range(0, len(indices), CHUNK):
        part = indices[start:start + CHUNK]
        array[start:start + len(part)] = run.series(path, part)
    return array


def _layer_array(run, layer, quantity, source, indices, xarray):
    info = run.layer(layer)
    if quantity == "preactivations" and not info.preactivations:
        raise LayerNotFoundError(f"Layer {layer!r} of run {run.name!r} has no recorded "
                                 "z-values (recurrent and normalisation layers have none).")
    if not info.hidden:
        raise LayerNotFoundError(
            f"Layer {layer!r} of run {run.name!r} has no recorded {quantity}; hidden layers: "
            f"{', '.join(run.hidden_layers)} (the outputs are in to_xarray(run)).")
    path_of = schema.activations if quantity == "activations" else schema.preactivations
    path = path_of(source, layer)
    if path not in run.arrays():
        raise LayerNotFoundError(f"Run {run.name!r} has no {quantity} of {layer!r} on {source!r}.")
    values = _read(run, path, indices)
    extra = [f"axis_{axis}" for axis in range(1, values.ndim - 2)]  # e.g. conv rows, columns
    return xarray.DataArray(
        values, dims=("snapshot", "sample", *extra, "unit"),
        coords={"unit": np.arange(values.shape[-1])},
        attrs={"layer": layer, "quantity": quantity, "activation": info.activation})


def to_xarray(run, layer=None, *, quantity="activations", source="train", epochs=None):
    """Return a run's per-sample arrays with named dimensions.

    Args:
        run: a :class:`replay.Run`.
        layer: a hidden layer: return its ``quantity`` as one
            ``xarray.DataArray`` with dimensions ``(snapshot, sample, unit)``.
            ``None``: an ``xarray.Dataset`` of every hidden layer's
            ``quantity`` (variable ``<layer>``, dimensions ``(snapshot,
            sample, <layer>_unit)``), the ``outputs`` ``(snapshot, sample,
            output)``, the per-sample ``loss`` ``(snapshot, sample)``, the
            ``inputs`` ``(sample, feature)`` and ``targets``.
        quantity: ``"activations"`` or ``"preactivations"`` (z-values) of
            the layers.
        source: ``"train"`` or ``"validation"``.
        epochs: the snapshots (any selection of :meth:`replay.Run.select`;
            ``None``: all). Everything selected is read into memory: select
            snapshots of a long run.

    Returns:
        An ``xarray.DataArray`` or ``xarray.Dataset``; the coordinates are
        ``snapshot`` (indices), ``epoch`` and ``step`` (along ``snapshot``),
        ``sample`` and ``unit`` (indices); ``attrs`` name the run and file.

    Raises:
        OptionError: xarray is not installed, or a bad quantity or source.
    """
    xarray = _require("xarray")
    if quantity not in ("activations", "preactivations"):
        raise OptionError(f"quantity must be 'activations' or 'preactivations'. Got {quantity!r}.")
    if source not in schema.SAMPLE_SOURCES:
        raise OptionError(
            f"source must be one of {', '.join(schema.SAMPLE_SOURCES)}. Got {source!r}.")
    if source not in run.sources:
        raise LayerNotFoundError(f"Run {run.name!r} of '{run.path}' has no {source!r} data. It "
                                 f"has: {', '.join(run.sources)}.")
    indices = run.select(epochs)
    coords = {"snapshot": np.asarray(indices),
              "epoch": ("snapshot", np.asarray(run.epochs, dtype=np.float64)[indices]),
              "step": ("snapshot", np.asarray(run.steps)[indices]),
              "sample": np.arange(len(run.inputs(source)))}
    attrs = {"run": run.name, "path": run.path, "source": source}
    if layer is not None:
        array = _layer_array(run, layer, quantity, source, indices, xarray)
        array = array.assign_coords(coords)
        array.name = layer
        array.attrs.update(attrs)
        return array
    recorded = run.arrays()
    variables = {}
    for name in run.hidden_layers:
        info = run.layer(name)
        if quantity == "preactivations" and not info.preactivations:
            continue
        array = _layer_array(run, name, quantity, source, indices, xarray)
        variables[name] = array.rename(unit=f"{name}_unit")
    if schema.outputs(source) in recorded:
        outputs = _read(run, schema.outputs(source), indices)
        variables["outputs"] = (("snapshot", "sample", "output"),
                                outputs.reshape(len(indices), outputs.shape[1], -1))
    if schema.loss(source) in recorded:
        variables["loss"] = (("snapshot", "sample"), _read(run, schema.loss(source), indices))
    inputs = np.asarray(run.inputs(source))
    variables["inputs"] = (("sample", "feature"), inputs.reshape(len(inputs), -1))
    if schema.targets(source) in recorded:
        targets = np.asarray(run.targets(source))
        variables["targets"] = (("sample", "target"), targets.reshape(len(targets), -1))
    return xarray.Dataset(variables, coords=coords, attrs={**attrs, "quantity": quantity})


def history_frame(run):
    """Return what Keras logged per epoch as a ``pandas.DataFrame``, indexed by epoch.

    One column per history key (``loss``, metrics, ``val_*``,
    ``learning_rate``); an empty frame when no epoch finished.

    Raises:
        OptionError: pandas is not installed.
    """
    pandas = _require("pandas")
    history = run.history
    columns = {key: np.asarray(values) for key, values in history.items() if key != "epoch"}
    index = pandas.Index(np.asarray(history.get("epoch", []), dtype=np.int64), name="epoch")
    return pandas.DataFrame(columns, index=index)
