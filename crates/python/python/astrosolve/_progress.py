"""Progress bars for the engine's long calls: tqdm's (``tqdm.auto``: a widget in Jupyter, text in
a terminal) when tqdm is installed, else one line rewritten on standard error.

The engine calls ``bar(kind, done, total, message)`` at most ten times a second (from Rust, the
GIL taken only for the call); ``total`` 0 means unknown.
"""

import sys
import time

LABELS = {"simulate": "simulate", "solve": "solve (outer iterations)", "epoch": "sources fitted"}


class Bar:
    """A progress bar; call it with (kind, done, total, message); close() at the end."""

    def __init__(self, kind):
        self.kind = kind
        self.label = LABELS.get(kind, kind)
        self._tqdm = None
        self._last = 0.0
        self._shown = False
        try:
            from tqdm.auto import tqdm

            self._tqdm_cls = tqdm
        except ImportError:
            self._tqdm_cls = None

    def __call__(self, kind, done, total, message):
        if self._tqdm_cls is not None:
            if self._tqdm is None:
                self._tqdm = self._tqdm_cls(
                    total=total or None, desc=self.label, leave=False, dynamic_ncols=True
                )
            if total and self._tqdm.total != total:
                self._tqdm.total = total
            self._tqdm.n = done
            if message:
                self._tqdm.set_postfix_str(message, refresh=False)
            self._tqdm.refresh()
            return
        now = time.monotonic()
        if now - self._last < 0.2 and not (total and done >= total):
            return
        self._last = now
        of = f"/{total}" if total else ""
        line = f"{self.label}: {done}{of} {message}"[:79]
        sys.stderr.write("\r" + line.ljust(79))
        sys.stderr.flush()
        self._shown = True

    def close(self):
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
        elif self._shown:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
            self._shown = False


class progress_bar:
    """Context manager: a :class:`Bar` when ``enabled``, else None."""

    def __init__(self, kind, enabled):
        self.bar = Bar(kind) if enabled else None

    def __enter__(self):
        return self.bar

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False
