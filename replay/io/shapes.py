"""The shape each per-snapshot array of a run must have, from the run's attributes.

A run says what it holds twice: in its attributes (each layer's units and
output shape, the number of outputs) and in its arrays' shapes. A damaged
or hand-edited file can make the two disagree (an array reshaped, a layer's
``shape`` changed), and a view would then fail deep in numpy ("cannot
reshape array of size 80 into shape (40,2)"). :func:`shape_problem`
compares one snapshot's shape of a dataset with what the attributes say,
so that :class:`replay.Run` refuses the dataset with a
:class:`replay.RunFileError` before anything reads it.
"""

from dataclasses import dataclass

#: Per-snapshot quantities recorded per source (the first axes are the source's).
SOURCE_QUANTITIES = ("outputs", "loss", "activations", "preactivations")


@dataclass(frozen=True)
class ShapeFacts:
    """What a run's attributes say about the shapes of its arrays.

    Attributes:
        rows: ``{source: leading shape}``: ``(N,)`` for samples, ``(lines,
            points)`` or ``(n_y, n_x)`` for probe points.
        layers: ``{layer name: LayerInfo}``.
        shape_given: names of the layers whose ``shape`` the run states
            (runs recorded before it was stored give only ``units``).
        n_outputs: the number of output units, or ``None`` when not stated.
        weight_shape: a function ``(layer name, weight name) -> shape`` of a
            weight's snapshots, ``None`` where it is not stored (gradients are
            checked against it).
    """

    rows: dict
    layers: dict
    shape_given: frozenset
    n_outputs: int = None
    weight_shape: object = None


def shape_problem(path, row_shape, facts):
    """Return what is wrong with the per-snapshot shape of dataset ``path``, or ``None``.

    Args:
        path: the dataset's path (:mod:`replay.io.schema`), e.g. ``"outputs/train"``.
        row_shape: the shape of one snapshot of it (its shape without the
            first axis).
        facts: the run's :class:`ShapeFacts`.

    Returns:
        A phrase saying what the shape should be, e.g. ``"each snapshot
        should be (40, 2): the 40 samples of 'train' and the shape (2,) of
        layer 'hidden'"``; ``None`` when the shape fits (or nothing is known
        to check it against).
    """
    row_shape = tuple(row_shape)
    parts = path.split("/")
    quantity = parts[0]
    if quantity in SOURCE_QUANTITIES and len(parts) > 1:
        return _source_problem(quantity, parts[1], parts[2:], row_shape, facts)
    if quantity in ("weights", "gradients") and len(parts) == 3:
        return _weight_problem(quantity, parts[1], parts[2], path, row_shape, facts)
    return None


def _source_problem(quantity, source, rest, row_shape, facts):
    rows = facts.rows.get(source)
    if rows is None:
        return None
    samples = f"{'the samples' if len(rows) == 1 else 'the probe points'} of {source!r} {rows}"
    if row_shape[:len(rows)] != rows:
        return f"each snapshot should start with {rows} ({samples})"
    per_sample = row_shape[len(rows):]
    if quantity == "loss":
        if per_sample:
            return f"each snapshot should be {rows}: one loss per sample ({samples})"
        return None
    if quantity == "outputs":
        if not per_sample:
            return f"each snapshot should be {rows} and the outputs of each ({samples})"
        if facts.n_outputs is not None and per_sample[-1] != facts.n_outputs:
            return (f"the last axis should hold the run's {facts.n_outputs} output"
                    f"{'' if facts.n_outputs == 1 else 's'} (attribute n_outputs)")
        if len(rows) > 1 and len(per_sample) != 1:
            # Probe points exist for flat 2-D inputs only: one output vector per point.
            return f"each snapshot should be {rows} and one output vector per point"
        return None
    layer = facts.layers.get(rest[0]) if rest else None
    if layer is None:
        return None
    if rest[0] in facts.shape_given:
        expected = tuple(layer.shape)
        if per_sample != expected:
            return (f"each snapshot should be {rows + expected}: {samples} and the output "
                    f"shape {expected} of layer {layer.name!r}")
    elif not per_sample or per_sample[-1] != layer.units:
        return f"the last axis should hold the {layer.units} units of layer {layer.name!r}"
    return None


def _weight_problem(quantity, layer_name, weight, path, row_shape, facts):
    layer = facts.layers.get(layer_name)
    if layer is None:
        return None
    if quantity == "gradients" and facts.weight_shape is not None:
        weight_shape = facts.weight_shape(layer_name, weight)
        if weight_shape is not None and tuple(weight_shape) != row_shape:
            return (f"a gradient has the shape of its weight: {tuple(weight_shape)} "
                    f"(weight {weight!r} of layer {layer_name!r})")
    if layer.class_name != "Dense":
        return None  # only a Dense layer's weight shapes follow from its units alone
    if weight == "kernel" and (len(row_shape) != 2 or row_shape[-1] != layer.units):
        return (f"the kernel of Dense layer {layer_name!r} should be (inputs, "
                f"{layer.units}): one column per unit")
    if weight == "bias" and row_shape != (layer.units,):
        return f"the bias of Dense layer {layer_name!r} should be ({layer.units},): one per unit"
    return None


def target_problem(target_shape, output_shape, *, task, n_outputs):
    """Return what is wrong with the targets' shape against the outputs', or ``None``.

    A classification target is a class index per sample (``(N,)`` or
    ``(N, 1)``), a one-hot row (``(N, n_outputs)``), or either per position
    of a model with several outputs per sample (``(N, T)`` for outputs
    ``(N, T, k)``). A regression target holds one value per output.

    Args:
        target_shape: the shape of the targets, samples first.
        output_shape: the per-sample shape of the recorded outputs, or
            ``None`` when they were not recorded.
        task: ``"classification"`` or ``"regression"``.
        n_outputs: the number of output units, or ``None`` when not stated.
    """
    per_sample = tuple(target_shape[1:])
    if n_outputs is None and output_shape is None:
        return None
    if output_shape is None:
        output_shape = (n_outputs,)
    output_shape = tuple(output_shape)
    if task == "regression":
        size = int(_product(per_sample))
        if size != int(_product(output_shape)):
            return (f"a regression target holds one value per output: "
                    f"{int(_product(output_shape))} per sample")
        return None
    allowed = {(), (1,), output_shape, output_shape[:-1], output_shape[:-1] + (1,)}
    if per_sample not in allowed:
        return (f"a class target is a class index or a one-hot row of the "
                f"{output_shape[-1]} outputs per sample")
    return None


def _product(shape):
    size = 1
    for length in shape:
        size *= int(length)
    return size
