"""The writer thread of a recording: :class:`WriteQueue`."""

import threading
from concurrent.futures import ThreadPoolExecutor


class WriteQueue:
    """Runs a recording's writes on one thread, in order, a bounded number waiting.

    Snapshot 0 can be held back (see :meth:`hold_snapshot_0`) until Keras'
    first training step is done; any wait that would block lets it go, since
    the job waited for could be it, or queued behind it.

    Args:
        max_pending: jobs that may wait before :meth:`submit` blocks: this
            bounds memory, and what a killed training can lose.
    """

    def __init__(self, max_pending=4):
        self.max_pending = max_pending
        self._executor = None
        self._pending = []  # jobs submitted, oldest first
        self._first_step_done = None  # the event snapshot 0 waits for

    def submit(self, function, *args):
        """Run ``function(*args)`` on the writer thread, after the jobs before it.

        At most :attr:`max_pending` jobs wait; an error on the writer thread
        is raised here, at the next submission.

        Returns:
            The job (a ``concurrent.futures.Future``).
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1,
                                                thread_name_prefix="replay-writer")
        while self._pending and (self._pending[0].done()
                                 or len(self._pending) >= self.max_pending):
            self.result(self._pending.pop(0))
        job = self._executor.submit(function, *args)
        self._pending.append(job)
        return job

    def hold_snapshot_0(self):
        """Return a new event that holds snapshot 0 back until :meth:`release_snapshot_0`."""
        self._first_step_done = threading.Event()
        return self._first_step_done

    def release_snapshot_0(self):
        """Let the writer thread compute snapshot 0 (Keras' first step is done)."""
        if self._first_step_done is not None:
            self._first_step_done.set()

    def wait(self):
        """Wait for every job in flight; re-raise the first error, if any."""
        while self._pending:
            self.result(self._pending.pop(0))

    def result(self, job):
        """Wait for ``job``; if it failed, drop the jobs after it and raise its error.

        The jobs queued behind a failed write fail because of it: the first
        error is the one to report, once. Waiting for a job not done lets
        snapshot 0 go (the wait could be for it, or behind it).
        """
        if not job.done():
            self.release_snapshot_0()
        try:
            job.result()
        except BaseException:
            pending, self._pending = self._pending, []
            for later in pending:
                later.exception()  # wait, and drop the consequence
            raise

    def shutdown(self):
        """Stop the writer thread once its jobs are done."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
