"""Progress of a render: a ``tqdm`` bar, where someone can see it.

``tqdm`` draws in a terminal and, through ``tqdm.auto``, as a widget in a
notebook (when ``ipywidgets`` is installed; otherwise as text). Logs, CI and
pipes get nothing unless asked: :func:`wants_progress` decides.
"""

import importlib.util
import sys


def in_notebook():
    """Whether the code runs in a Jupyter kernel (an IPython ``ZMQInteractiveShell``)."""
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    return bool(get_ipython and type(get_ipython()).__name__ == "ZMQInteractiveShell")


def wants_progress(progress, stream=None):
    """Resolve a ``progress=`` option: ``True`` / ``False`` as given, ``None``: automatic.

    Automatic shows progress on a terminal (``stream``, default stderr) and in
    a notebook, and stays silent in logs, pipes and CI.
    """
    if progress is not None:
        return bool(progress)
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or in_notebook()


class ProgressBar:
    """A ``tqdm`` bar of rendered frames, shown once a render takes over ``delay`` s.

    Args:
        total: number of frames.
        label: text before the bar (e.g. the output's name).
        stream: where to write (default ``sys.stderr``; ignored by the
            notebook widget).
        delay: seconds before the bar first appears.
    """

    def __init__(self, total, *, label="", stream=None, delay=1.0):
        if stream is None and in_notebook() and importlib.util.find_spec("ipywidgets"):
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        self.total = max(int(total), 1)
        self._done = 0
        self._bar = tqdm(total=self.total, desc=label or None, unit=" frames",
                         file=stream if stream is not None else sys.stderr,
                         delay=delay, leave=True, dynamic_ncols=True,
                         postfix="rendered", mininterval=0.1)

    def update(self, done):
        """Record that ``done`` frames are finished (redrawn at most every 0.1 s)."""
        self._bar.update(done - self._done)
        self._done = done

    def close(self):
        """End the bar (and its line, if it was shown)."""
        self._bar.close()
