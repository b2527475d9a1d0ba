"""The Keras side: the only package of replay that imports Keras or a backend.

- :mod:`replay.record.callback`: :class:`Recorder`, the Keras callback;
- :mod:`replay.record.capture`: which tensors a snapshot records, and the
  TensorFlow/PyTorch capture;
- :mod:`replay.record.capture_jax`: the fused, compiled JAX capture;
- :mod:`replay.record.gradients`: gradients on TensorFlow and PyTorch;
- :mod:`replay.record.budget`: what a snapshot keeps (recipes, the size
  budget, the sample subset).

The probe grid and mesh over 2-D inputs are :mod:`replay.io.probes`: the
replay side computes them too (for DeepReplay files and ``Run.from_arrays``).

The recorder writes through :mod:`replay.io`; everything that reads and
draws a run (:class:`replay.Run`, the views, rendering) lives outside this
package and never imports Keras. A test parses every module to keep it so.

:class:`Recorder` is loaded on first use: ``import replay.record`` alone
does not import Keras.
"""

__all__ = ["Recorder"]


def __getattr__(name):
    if name == "Recorder":
        from replay.record.callback import Recorder

        return Recorder
    raise AttributeError(f"module 'replay.record' has no attribute {name!r}")
