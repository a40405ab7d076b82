"""Progress bars for the command line: tqdm when it is installed, a small text bar otherwise.

A bar appears only once its task has run for ``delay`` seconds (one by default), so quick runs
print nothing, and by default only when the stream is a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
import time

try:
    from tqdm import tqdm as _tqdm
except ImportError:  # tqdm is optional
    _tqdm = None


class TextBar:
    """A dependency-free stand-in for ``tqdm(total=..., desc=...)`` on one line of ``file``.

    Parameters
    ----------
    total : int
        Number of steps.
    desc : str
        Label before the bar.
    file : text stream
        Where to draw; default ``sys.stderr``.
    disable : bool or None
        True: draw nothing; None: draw only when ``file`` is a terminal.
    delay : float
        Seconds to wait before the first draw.
    width : int
        Characters of the bar itself.
    """

    def __init__(self, total, desc="", file=None, disable=None, delay=1.0, width=24):
        self.total = max(int(total), 0)
        self.desc = desc
        self.file = sys.stderr if file is None else file
        if disable is None:
            isatty = getattr(self.file, "isatty", None)
            disable = not (isatty is not None and isatty())
        self.disable = bool(disable)
        self.delay = float(delay)
        self.width = int(width)
        self.n = 0
        self.postfix = ""
        self._start = time.perf_counter()
        self._drawn = False
        self._last_length = 0

    def update(self, n=1):
        self.n = min(self.total, self.n + n)
        self._refresh()

    def set_postfix_str(self, text, refresh=True):
        self.postfix = str(text)
        if refresh:
            self._refresh()

    def _refresh(self):
        if self.disable:
            return
        elapsed = time.perf_counter() - self._start
        if not self._drawn and elapsed < self.delay:
            return
        filled = self.width * self.n // self.total if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{self.desc}: [{bar}] {self.n}/{self.total} {elapsed:5.1f}s"
        if self.postfix:
            line += f" {self.postfix}"
        padding = " " * max(0, self._last_length - len(line))
        self.file.write("\r" + line + padding)
        self.file.flush()
        self._last_length = len(line)
        self._drawn = True

    def close(self):
        if self._drawn and not self.disable:
            self.file.write("\r" + " " * self._last_length + "\r")
            self.file.flush()
        self._drawn = False
        self.disable = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class _TqdmBar:
    """``tqdm`` behind the interface of :class:`TextBar`; a status change redraws the bar only
    after the delay (tqdm's own ``set_postfix_str`` would draw at once)."""

    def __init__(self, total, desc, file, disable, delay):
        self._bar = _tqdm(total=total, desc=desc, file=file, disable=disable, delay=delay, leave=False)
        self._delay = float(delay)
        self._start = time.perf_counter()

    def update(self, n=1):
        self._bar.update(n)

    def set_postfix_str(self, text, refresh=True):
        self._bar.set_postfix_str(text, refresh=False)
        if refresh and time.perf_counter() - self._start >= self._delay:
            self._bar.refresh()

    def close(self):
        self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def progress(total, desc="", *, file=None, disable=None, delay=1.0):
    """A progress bar with ``update(n)``, ``set_postfix_str(text)`` (the current step) and
    ``close()``, usable as a context manager: ``tqdm`` when it is importable, :class:`TextBar`
    otherwise.

    ``disable=None`` draws only on a terminal; nothing is drawn before ``delay`` seconds; the bar
    is removed when it closes.
    """
    file = sys.stderr if file is None else file
    if _tqdm is not None:
        return _TqdmBar(total, desc, file, disable, delay)
    return TextBar(total, desc, file=file, disable=disable, delay=delay)
