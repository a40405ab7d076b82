"""A bounded prefetch queue: the next items read and decoded on a host thread while the caller
works on the current one (on the cuda backend: while the device computes the previous batch).

Reading WAV files is host work (file system, decoding) that a device does not speed up; done in
line it leaves the device idle between batches. One thread loads ahead into a
``queue.Queue(maxsize=depth)``: at most ``depth`` items wait in the queue and one more is being
loaded, so the host memory held by prefetching is bounded by ``depth + 1`` items whatever the
dataset's size.
"""

from __future__ import annotations

import queue
import threading

#: Items loaded ahead by default: one batch waiting while the next is read.
DEPTH = 1

_DONE = object()


class _Failure:
    def __init__(self, error):
        self.error = error


def prefetched(items, load, depth=DEPTH):
    """``load(item)`` of every item, in order, loaded up to ``depth + 1`` items ahead on a thread.

    Parameters
    ----------
    items : iterable
    load : callable
        Called on the loading thread; an exception it raises is raised here, at its item.
    depth : int, >= 1
        Loaded items that may wait in the queue.

    Yields
    ------
    ``load(item)`` for each item. Closing the generator early stops the thread.
    """
    if depth < 1:
        raise ValueError(f"depth={depth!r} must be >= 1")
    waiting = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value):
        while not stop.is_set():
            try:
                waiting.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        for item in items:
            try:
                value = load(item)
            except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
                put(_Failure(error))
                return
            if not put(value):
                return
        put(_DONE)

    thread = threading.Thread(target=work, name="specsep-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            value = waiting.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.error
            yield value
    finally:
        stop.set()
        thread.join()
