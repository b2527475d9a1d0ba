"""Worker processes for reading many runs at once (collections, diagnoses).

Reading run files is CPU work in h5py and numpy under Python's GIL, so
many runs are read in processes. A fresh process is forked (milliseconds)
unless a machine-learning backend is loaded: JAX, TensorFlow and PyTorch
run threads that a fork would copy in an unknown state, so then a fork
server starts the workers from a clean process instead. numpy only.
"""

import contextlib
import gc
import multiprocessing
import os
import sys

#: Modules whose threads make ``fork`` unsafe.
THREADED_BACKENDS = ("jax", "tensorflow", "torch")


def available_cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def start_method():
    """``"fork"`` where it is available and safe, else ``"forkserver"`` or ``"spawn"``."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and not any(name in sys.modules for name in THREADED_BACKENDS):
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


@contextlib.contextmanager
def process_pool(processes):
    """A ``multiprocessing`` pool of ``processes`` workers, closed (and joined) on exit."""
    method = start_method()
    context = multiprocessing.get_context(method)
    if method == "fork":
        # A forked worker shares the parent's memory until it writes to it, and the
        # garbage collector writes to every object it visits: frozen objects are not
        # visited, so a collection in a worker does not copy the parent's heap.
        gc.freeze()
    try:
        pool = context.Pool(processes)
    finally:
        if method == "fork":
            gc.unfreeze()
    try:
        yield pool
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
