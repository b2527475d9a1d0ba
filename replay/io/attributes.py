"""Run attributes as Python values: JSON text decoded, and the JSON objects checked.

The recorder stores containers as JSON text (:mod:`replay.io.writer`); the
reader (:class:`replay.Run`) and the run collection (:class:`replay.Runs`,
which reads a few attributes of many runs without opening each as a
``Run``) decode them here, with the same errors. numpy only.
"""

import json

import numpy as np

from replay.errors import RunFileError


def decode(value):
    """An attribute as stored by h5py → a Python value (JSON text of containers decoded).

    Text that looks like JSON but is not stays text: the reader that needs the
    container says the attribute is damaged (see :func:`json_object`).
    """
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and (value.startswith(("[", "{")) or value == "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def is_json_scalar(value):
    """Whether ``value`` is a JSON scalar: a number, text, a boolean or ``None``."""
    return value is None or isinstance(value, (str, bool, int, float))


def json_object(value, attribute, *, run, path, scalars):
    """A decoded JSON-object attribute as a new dict (``{}`` when absent), or a RunFileError.

    Args:
        value: the attribute, decoded (:func:`decode`); ``None`` when absent.
        attribute: its name, for the message (``"hparams"``, ``"trial"``).
        run, path: the run and its file, for the message.
        scalars: every value must be a JSON scalar (a flat object).

    Raises:
        RunFileError: the attribute is not JSON text of such an object; the
            message names the file, the run and the attribute, and what to do.
    """
    if value is None:
        return {}
    if isinstance(value, dict):
        nested = [key for key, item in value.items() if not is_json_scalar(item)]
        if not scalars or not nested:
            return dict(value)
        why = (f"the value of {nested[0]!r} is {value[nested[0]]!r}, not a number, "
               "text, true/false or null")
    elif isinstance(value, str):
        why = f"{value[:80]!r} is not JSON text"
    else:
        why = f"it holds {value!r}, not JSON text of an object"
    kind = "a flat object {name: number, text, true/false or null}" if scalars else "an object"
    raise RunFileError(
        f"The {attribute!r} attribute of run {run!r} in '{path}' is damaged: {why}. It "
        f"should be JSON text of {kind}; rewrite it (h5py: group.attrs[{attribute!r}] = "
        "json.dumps(...)) or delete it.")
