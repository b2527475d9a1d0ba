"""A plain-text progress bar for renders."""

import sys
import time


class ProgressBar:
    """A plain-text progress bar on stderr, shown once a render takes over ``delay`` s.

    On a terminal the bar redraws in place; otherwise (logs, CI) it prints a
    line at every tenth of the work.

    Args:
        total: number of steps.
        label: text before the bar.
        stream: where to write (default ``sys.stderr``).
        delay: seconds before the bar first appears.
    """

    def __init__(self, total, *, label="", stream=None, delay=1.0, width=30):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.width = width
        self.start = time.perf_counter()
        self.shown = False
        self._last_draw = 0.0
        self._last_tenth = -1
        self._done = 0
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())

    def update(self, done):
        """Record that ``done`` steps are finished, and redraw when it is time."""
        self._done = done
        now = time.perf_counter()
        elapsed = now - self.start
        if elapsed < self.delay:
            return
        if self.interactive:
            if now - self._last_draw < 0.1 and done < self.total:
                return
            self._last_draw = now
            self.stream.write("\r" + self.text(done, elapsed))
        else:
            tenth = 10 * done // self.total
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
            self.stream.write(self.text(done, elapsed) + "\n")
        self.stream.flush()
        self.shown = True

    def text(self, done, elapsed):
        """Return the bar as one line of text."""
        filled = self.width * done // self.total
        rate = done / elapsed if elapsed > 0 else 0.0
        remaining = (self.total - done) / rate if rate > 0 else 0.0
        return (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{done}/{self.total} frames, {rate:.1f} frames/s rendered, {remaining:.0f} s left")

    def close(self):
        """End the bar's line (if it was shown)."""
        if self.shown and self.interactive:
            self.stream.write("\n")
            self.stream.flush()
