"""One background thread for accumulator updates, so products overlap with the caller's Python work.

The Rust accumulator releases the GIL while it multiplies, so a Monte Carlo pass can draw the next
augmented view in Python (the user's function, NumPy's generators) while the previous view is being
folded in. Updates run one at a time, in the order they were submitted, so results are identical to
folding them inline; at most one is in flight, so memory grows by one view at most.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Optional

__all__ = ["BackgroundFolds"]


class BackgroundFolds:
    """Run ``fn(*args)`` calls on one worker thread, in order, one at a time.

    Use as a context manager; :meth:`drain` waits for the call in flight and re-raises its error.
    Arguments must not be modified by the caller until the call has finished (``drain``, or the
    next :meth:`submit`, which waits for the previous call first).
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linssl-fold")
        self._pending: Optional[Future] = None

    def submit(self, fn: Callable, *args) -> None:
        self.drain()
        self._pending = self._pool.submit(fn, *args)

    def drain(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> "BackgroundFolds":
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True)
