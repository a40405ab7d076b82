"""Phase retrieval over a batch in groups of items.

Note [phase retrieval in groups of items]: Griffin-Lim and MISI hold a state per bin for every
iteration (the current angles and the target magnitudes, in the iteration's precision), and that
state bounds the batch a machine can take and, once it outgrows the caches, how fast each
iteration runs. Batch items are independent problems, per-item stopping on ``tol`` included, so a
backend may run a batch as several calls on groups of items: the signals are the same bits, and
the histories are those of one call once each group's is padded with NaN to the longest (an item
that stops early has NaN after its last iteration in one call too). The ``cpu`` backend keeps
each group's state about a last-level cache in size (``_backends/cpu.py``: ``PHASE_STATE_BYTES``); the
``cuda`` backend sizes groups by the free device memory.
"""

from __future__ import annotations

import numpy as np


def items_of(array, core_ndim):
    """``array`` as ``(items, *core)``: its batch axes merged (a view where the strides allow)."""
    return array.reshape((-1,) + array.shape[array.ndim - core_ndim:])


def _merged(array):
    """``(items, J, F, T)`` spectrograms as ``(items * J, F, T)``; other arrays as they are."""
    return array.reshape((-1,) + array.shape[-2:]) if array.ndim > 3 else array


def by_item_groups(run, arrays, dtype, per_group, xp):
    """``run(*parts)`` on groups of ``per_group`` items of ``arrays``.

    Parameters
    ----------
    run : callable
        Takes the arrays' parts (spectrograms with their item and source axes merged,
        ``(items * J, F, T)``) and returns ``(outputs (items, ...), history (items, iterations))``.
    arrays : list of arrays, item axis first
    dtype : dtype of the outputs returned
    per_group : int, >= 1
    xp : the arrays' module (NumPy or CuPy)

    Returns
    -------
    outputs : array, shape (items, ...), ``dtype``
    history : array, shape (items, iterations), float64, NaN-padded
    """
    items = arrays[-1].shape[0]
    if per_group >= items:  # one call
        y, history = run(*(_merged(a) for a in arrays))
        return y.astype(dtype, copy=False), history
    starts = range(0, items, per_group)
    out, histories = None, []
    for first in starts:
        y, history = run(*(_merged(a[first:first + per_group]) for a in arrays))
        if out is None:
            out = xp.empty((items,) + y.shape[1:], dtype)
        out[first:first + per_group] = y
        histories.append(history)
    history = xp.full((items, max(h.shape[-1] for h in histories)), np.nan)
    for first, h in zip(starts, histories):
        history[first:first + per_group, :h.shape[-1]] = h
    return out, history
