"""The Keras side: the only package of replay that imports Keras or a backend.

- :mod:`replay.record.callback`: :class:`Recorder`, the Keras callback;
- :mod:`replay.record.capture`: which tensors a snapshot records, and the
  TensorFlow/PyTorch capture;
- :mod:`replay.record.capture_jax`: the fused, compiled JAX capture;
- :mod:`replay.record.gradients`: gradients on TensorFlow and PyTorch;
- :mod:`replay.record.probes`: the probe grid and mesh over 2-D inputs.

The recorder writes through :mod:`replay.io`; everything that reads and
draws a run (:class:`replay.Run`, the views, rendering) lives outside this
package and never imports Keras. A test parses every module to keep it so.
"""

from replay.record.callback import Recorder

__all__ = ["Recorder"]
