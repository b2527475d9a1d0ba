"""What the recorded model config says about a layer, for titles and captions.

The recorder stores ``model.get_config()`` as JSON in the run's
``model_config`` attribute; this module reads it back without Keras.
"""


def layer_configs(config):
    """Yield every layer config inside a (possibly nested) model config."""
    if not isinstance(config, dict):
        return
    for layer in config.get("layers", []) or []:
        if isinstance(layer, dict):
            yield layer
            yield from layer_configs(layer.get("config"))


def describe_initializer(run, layer=None):
    """Return a short name of a layer's kernel initializer, from the recorded model config.

    ``RandomNormal(stddev=0.01)`` gives ``"RandomNormal(σ=0.01)"``,
    ``GlorotUniform()`` gives ``"GlorotUniform"``. Returns ``None`` when the
    run holds no model config or the layer has no kernel initializer.

    Args:
        run: the :class:`replay.Run`.
        layer: the layer name; ``None`` for the first hidden layer.
    """
    layer = layer if layer is not None else (run.hidden_layers or run.layer_names or [None])[0]
    for config in layer_configs(run.attrs.get("model_config")):
        inner = config.get("config") or {}
        if inner.get("name") != layer:
            continue
        initializer = inner.get("kernel_initializer")
        if isinstance(initializer, str):
            return initializer
        if not isinstance(initializer, dict):
            return None
        name = initializer.get("class_name", "?")
        arguments = initializer.get("config") or {}
        shown = []
        if arguments.get("mean"):
            shown.append(f"\u03bc={arguments['mean']:g}")
        if "stddev" in arguments:
            shown.append(f"\u03c3={arguments['stddev']:g}")
        for key in ("minval", "maxval", "value", "scale", "mode", "distribution", "gain"):
            if key in arguments and name not in _NAMED_SCALINGS:
                shown.append(f"{key}={arguments[key]}")
        return f"{name}({', '.join(shown)})" if shown else name
    return None


#: VarianceScaling subclasses whose name already says their arguments.
_NAMED_SCALINGS = ("GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
                   "LecunNormal")
