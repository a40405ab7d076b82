"""The ``cpu`` backend: NumPy arrays in and out, the work done by the C++ kernels of ``specsep._cpu``.

Arrays are passed with their shapes and strides as they are (no copies): the kernels read the
items of any layout in place (module.cpp's item tables) and return ``(items, ...)`` results in C
order, reshaped back here (the ideal ratio masks: in the input's memory order). ``apply_mask`` is
NumPy's elementwise product, which is already memory-bound; every other method runs C++.
Griffin-Lim and MISI iterate in ``plan``'s precision (Note [phase retrieval precision] in
specsep/api.py) and return the input's.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _cpu, _environment
from .._random_angles import RandomAngles
from .._item_groups import by_item_groups, items_of
from .._reference import apply_mask as _numpy_apply_mask
from .._validate import COMPLEX_OF


def _load_kernels():
    """The kernel module for this CPU: the AVX2 build where the CPU has AVX2, else the baseline.

    Both compute the same bits (same lane width, no FMA contraction); only the speed differs.
    """
    if _cpu.cpu_has_avx2():
        from .. import _cpu_avx2

        return _cpu_avx2
    return _cpu


def _configure(kernels):
    """Apply the environment's settings (specsep/_environment.py) before any kernel runs."""
    cache_bytes = _environment.buffer_cache_bytes()
    if cache_bytes is not None:
        kernels.set_buffer_cache_limit(cache_bytes)
    threads = _environment.num_threads()
    if threads is not None:
        kernels.set_num_threads(threads)
    return kernels


kernels_module = _configure(_load_kernels())


def cpu_kernels() -> str:
    """The instruction set of the ``cpu`` backend's kernels on this machine.

    Returns
    -------
    str
        ``"avx2"`` where the CPU has AVX2, else ``"baseline"``; both compute the same bits.
    """
    return kernels_module.isa
_PLAN_CLASSES = {np.dtype(np.float32): kernels_module.PlanFloat32, np.dtype(np.float64): kernels_module.PlanFloat64}


@functools.lru_cache(maxsize=64)
def _kernels(plan):
    """The C++ plan (window, root table, factorisation) for an STFT plan."""
    return _PLAN_CLASSES[plan.dtype](plan.window, plan.hop_length, plan.padding, plan.pad_mode_code,
                                     plan.normalized)


def _whole_elements(a):
    """``a`` itself, or a copy where a stride is not a multiple of the item size (NumPy allows a
    complex128 view stepping 8 bytes; the kernels index whole elements)."""
    return a.copy() if any(stride % a.itemsize for stride in a.strides) else a


class CpuBackend:
    """C++ kernels on the CPU threads (see :func:`specsep.set_num_threads`)."""

    name = "cpu"

    @staticmethod
    def stft(plan, x):
        out = _kernels(plan).stft(_whole_elements(x), plan.n_frames(x.shape[-1]))
        return out.reshape(x.shape[:-1] + out.shape[1:]).swapaxes(-1, -2)

    @staticmethod
    def istft(plan, X, length):
        y = _kernels(plan).istft(_whole_elements(X), length)
        return y.reshape(X.shape[:-2] + (length,))

    apply_mask = staticmethod(_numpy_apply_mask)

    @staticmethod
    def ideal_ratio(S, power):
        """Ideal ratio masks of ``S (..., J, F, T)``, real or complex, laid out and computed in
        ``S``'s memory order (cpp/cpu/masks.hpp)."""
        return kernels_module.ideal_ratio(_whole_elements(S), power)

    def separate(self, plan, x_mix, M, length):
        single = M.ndim == x_mix.ndim + 1  # one (..., F, T) mask, no source axis
        masks = M[..., None, :, :] if single else M
        batch = np.broadcast_shapes(x_mix.shape[:-1], masks.shape[:-3])
        X = self.stft(plan, np.broadcast_to(x_mix, batch + x_mix.shape[-1:]))
        masks = np.broadcast_to(masks, batch + masks.shape[-3:])
        y = _kernels(plan).separate(X, _whole_elements(masks), length)
        y = y.reshape(masks.shape[:-2] + (length,))
        return y[..., 0, :] if single else y

    @staticmethod
    def griffin_lim(plan, S, n_iter, momentum, angles, length, tol, history=True):
        kernels = _kernels(plan)

        def run(S_items, angles_items):
            return kernels.griffin_lim(S_items, _in_precision(angles_items, plan), n_iter, momentum, length,
                                       -1.0 if tol is None else tol, history)

        parts = [items_of(S, 2), items_of(np.broadcast_to(_initial(angles), S.shape), 2)]
        y, history = by_item_groups(run, parts, S.dtype, _items_per_group(parts[-1], plan), np)
        return y.reshape(S.shape[:-2] + (length,)), history.reshape(S.shape[:-2] + history.shape[-1:])

    @staticmethod
    def misi(plan, x_mix, S, n_iter, momentum, angles, weights, tol, history=True):
        kernels = _kernels(plan)
        n_sources = S.shape[-3]

        def run(x_items, S_items, angles_items):
            sources, measured = kernels.misi(
                np.ascontiguousarray(x_items, dtype=plan.dtype), S_items, _in_precision(angles_items, plan),
                np.asarray(weights, dtype=np.float64), n_iter, momentum,
                -1.0 if tol is None else tol, history)
            return sources.reshape((x_items.shape[0], n_sources) + sources.shape[-1:]), measured

        parts = [items_of(x_mix, 1), items_of(S, 3), items_of(np.broadcast_to(_initial(angles), S.shape), 3)]
        sources, history = by_item_groups(run, parts, x_mix.dtype, _items_per_group(parts[-1], plan), np)
        return sources.reshape(S.shape[:-2] + (x_mix.shape[-1],)), history.reshape(S.shape[:-3] + history.shape[-1:])


def _initial(angles):
    """What the C++ loop takes as initial angles: complex angles, or the turns of RandomAngles."""
    return angles.turns if isinstance(angles, RandomAngles) else angles


def _in_precision(angles, plan):
    """A group's initial angles (complex, or real turns) in the iteration's precision."""
    return angles.astype(plan.dtype if angles.dtype.kind == "f" else COMPLEX_OF[plan.dtype], copy=False)


# Note [phase retrieval in groups of items] (specsep/_item_groups.py): the C++ loop's state,
# magnitudes and angles in lanes (3 reals per bin) and the previous signal, is under 4 reals per bin.
# Every iteration reads all of it (iSTFT) and rewrites the angles (STFT), so groups are kept small
# enough for the state to stay in a last-level cache between the two passes: a 16 MiB state ran
# W4's iterations ~10% faster than one state of its 4 items (55 MiB, streamed through memory).
PHASE_STATE_BYTES = 16 << 20
_STATE_REALS_PER_BIN = 4


def _items_per_group(spectrograms, plan):
    """Items of ``(items, [J,] F, T)`` spectrograms whose state in ``plan``'s precision fits
    PHASE_STATE_BYTES (at least 1)."""
    per_bin = _STATE_REALS_PER_BIN * plan.dtype.itemsize
    return max(1, PHASE_STATE_BYTES // (per_bin * max(int(np.prod(spectrograms.shape[1:])), 1)))
