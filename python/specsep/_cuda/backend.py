"""The CUDA backend's orchestration, written once against an array module ``xp`` (CuPy on a GPU,
NumPy under the emulator) and a launcher (launcher.py).

Launch geometry, shared-memory sizes and the exact scalar types of every kernel argument live
here. Note [phase retrieval precision] of _cpu_backend.py holds here too: Griffin-Lim and MISI
iterate in float64 and return the input's precision.

Griffin-Lim and MISI stop items on ``tol`` on the device (kernel ``convergence``); the host looks
at the device's active flags every ``CHECK_EVERY`` iterations only, so that the loop runs without
a host synchronisation per iteration.

Device memory: every method adds up the bytes it will allocate before it allocates any and asks
the launcher what is free. The transforms refuse a request that does not fit with a MemoryError
naming both sizes (``chunk_frames=`` bounds their temporaries); Griffin-Lim and MISI run the batch
in groups of items that fit (Note [phase retrieval in groups of items]) and refuse only an item
that does not fit alone.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _plan
from .._initial_angles import as_array
from .._item_groups import by_item_groups, items_of
from .._validate import COMPLEX_OF
from . import source

CHECK_EVERY = 8           # iterations between the host's looks at the device's stopping flags
SEGMENT_HOPS = 8          # iSTFT output segment per block, in hops
MAX_GRID_Y = 65535        # CUDA's limit on gridDim.y (signals per launch)
_PAD_MODES = {"constant": 0, "reflect": 1, "edge": 2}


def _threads(n_fft):
    """Threads per block: a power of two (block_sum needs one), about n_fft / 8, in [32, 256]."""
    threads = 32
    while threads < 256 and threads * 8 < n_fft:
        threads *= 2
    return threads


def _int(value):
    return np.int32(value)


def _long(value):
    return np.int64(value)


def _size(nbytes):
    return f"{int(nbytes):,} bytes ({nbytes / 2**30:.2f} GiB)"


def _copy_bytes(array, contiguous):
    """Bytes of the copy ``ascontiguousarray`` makes of ``array`` (0 when it is ``contiguous``)."""
    return 0 if contiguous else array.size * array.itemsize


class CudaBackend:
    """The kernels of cpp/cuda/ on ``xp`` arrays, launched by ``launcher``."""

    def __init__(self, name, xp, launcher):
        self.name = name
        self.xp = xp
        self.launcher = launcher
        self._constants = functools.lru_cache(maxsize=64)(self._make_constants)

    # ---- per-plan device constants ---------------------------------------------------------
    def clear_constants(self):
        """Drop the device constants of every plan (specsep.clear_caches)."""
        self._constants.cache_clear()

    def _make_constants(self, plan):
        from .. import _cpu

        xp, real = self.xp, plan.dtype
        factors, roots = _cpu.fft_plan_arrays(plan.n_fft)
        backward = (plan.n_fft ** 0.5 if plan.normalized else 1.0) / plan.n_fft
        window = plan.window64.astype(real)
        c = real.type(plan.synthesis_scale)  # Note [scaled synthesis] in specsep/_plan.py
        return {
            "window": xp.asarray(window),
            "envelope_window": xp.asarray(window / c),
            "synthesis": xp.asarray((plan.window64 * backward).astype(real) / c / c),
            "roots": xp.asarray(roots.astype(COMPLEX_OF[real])),
            "factors": xp.asarray(factors),
            "scale": real.type(plan.n_fft ** -0.5 if plan.normalized else 1.0),
        }

    def _shared(self, plan, extra_bytes):
        """Dynamic shared memory of an FFT kernel: two FFT buffers plus ``extra_bytes``."""
        n = plan.n_fft
        scratch = n // 2 + 1 if n % 2 == 0 else n
        size = 2 * scratch * COMPLEX_OF[plan.dtype].itemsize + extra_bytes
        if size > self.launcher.max_shared_memory:
            raise ValueError(
                f"n_fft={n} in {plan.dtype.name} needs {size} bytes of shared memory per block; the "
                f"{self.name} backend has {self.launcher.max_shared_memory}: use a smaller n_fft, float32, "
                "or the cpu backend")
        return size

    def _reserve(self, what, nbytes):
        """Refuse ``what`` before it allocates ``nbytes`` of device memory that is not free."""
        free = self.launcher.free_memory()
        if nbytes > free:
            raise MemoryError(
                f"{what} on the {self.name} backend needs {_size(nbytes)} of device memory but {_size(free)} "
                "is free: pass a smaller batch, or chunk_frames= to stft/istft/separate")

    def _groups_that_fit(self, what, per_item, items):
        """Items per group whose phase-retrieval workspace (``per_item`` bytes each) fits."""
        free = self.launcher.free_memory()
        if per_item > free:
            raise MemoryError(
                f"{what} on the {self.name} backend needs {_size(per_item)} of device memory for one batch item "
                f"but {_size(free)} is free: use shorter signals or the cpu backend")
        return max(1, min(items, free // per_item))

    def _launch(self, kernel, plan, grid, block, args, shared_mem):
        self.launcher.launch(source.name_expression(kernel, plan.dtype), grid, block, args, shared_mem)

    @staticmethod
    def _per_signal_launches(signals, sources=1):
        """Ranges of signals that fit gridDim.y, each starting at an item boundary."""
        step = (MAX_GRID_Y // sources) * sources
        return [(first, min(first + step, signals)) for first in range(0, signals, step)]

    # ---- transforms --------------------------------------------------------------------------
    def _stft_rows(self, plan, rows, n_frames):
        """``rows (signals, samples)`` contiguous -> ``(signals, frames, freqs)`` contiguous."""
        xp, c = self.xp, self._constants(plan)
        signals, n_samples = rows.shape
        out = xp.empty((signals, n_frames, plan.n_freqs), dtype=COMPLEX_OF[plan.dtype])
        shared = self._shared(plan, 0)
        for first, last in self._per_signal_launches(signals):
            self._launch("stft", plan, (n_frames, last - first), (_threads(plan.n_fft),), (
                rows[first:last], _long(n_samples), _long(n_samples), c["window"], c["roots"], c["factors"],
                _int(plan.n_fft), _int(plan.hop_length), _int(plan.padding),
                _int(_PAD_MODES[plan.pad_mode]), c["scale"], _long(n_frames), out[first:last]), shared)
        return out

    def _istft_rows(self, plan, X, M, sources, length, out):
        """``out (signals, length)`` from frame-major ``X (items, frames, freqs)`` times ``M
        (signals, freqs, frames)`` (None: no mask), signal i reading item i // sources."""
        c = self._constants(plan)
        n_frames = X.shape[1]
        signals = out.shape[0]
        segment = SEGMENT_HOPS * plan.hop_length
        shared = self._shared(plan, segment * plan.dtype.itemsize)
        start = plan.padding
        segments = max(-(-length // segment), 1) if length else 0
        if segments == 0 or signals == 0:
            return out
        xs = [_long(s // X.itemsize) for s in X.strides]
        for first, last in self._per_signal_launches(signals, sources):
            if M is None:  # a single 1 read through strides 0
                mask, ms = self.xp.ones(1, dtype=plan.dtype), (_long(0), _long(0), _long(0))
            else:
                mask = M[first:last]
                ms = (_long(M.strides[0] // M.itemsize), _long(M.strides[2] // M.itemsize),
                      _long(M.strides[1] // M.itemsize))
            items = X[first // sources:-(-last // sources)]
            self._launch("istft", plan, (segments, last - first), (_threads(plan.n_fft),), (
                items, xs[0], xs[1], xs[2], mask, *ms, _int(sources), c["envelope_window"], c["synthesis"], c["roots"],
                c["factors"], _int(plan.n_fft), _int(plan.hop_length), _long(n_frames), _long(start),
                _long(length), _int(segment), out[first:last]), shared)
        return out

    def stft(self, plan, x):
        xp = self.xp
        n_frames = plan.n_frames(x.shape[-1])
        spectra = x.size // max(x.shape[-1], 1) * n_frames * plan.n_freqs
        self._reserve("stft", _copy_bytes(x, x.flags.c_contiguous) + spectra * COMPLEX_OF[plan.dtype].itemsize)
        rows = xp.ascontiguousarray(x.reshape(-1, x.shape[-1]))
        out = self._stft_rows(plan, rows, n_frames)
        return out.reshape(x.shape[:-1] + out.shape[1:]).swapaxes(-1, -2)

    def _frame_major(self, X):
        """``(..., F, T)`` as a contiguous ``(batch, T, F)`` array (a view for stft's output)."""
        xp = self.xp
        return xp.ascontiguousarray(X.reshape((-1,) + X.shape[-2:]).swapaxes(-1, -2))

    def istft(self, plan, X, length):
        xp = self.xp
        length = plan.istft_length(X.shape[-1]) if length is None else length
        signals = X.size // max(X.shape[-1] * X.shape[-2], 1)
        self._reserve("istft", _copy_bytes(X, X.swapaxes(-1, -2).flags.c_contiguous)
                      + signals * length * plan.dtype.itemsize)
        frames = self._frame_major(X)
        out = xp.empty((frames.shape[0], length), dtype=plan.dtype)
        self._istft_rows(plan, frames, None, 1, length, out)
        return out.reshape(X.shape[:-2] + (length,))

    def apply_mask(self, X_mix, M):
        mixture = X_mix if M.ndim == X_mix.ndim else self.xp.expand_dims(X_mix, -3)
        return (mixture * M).astype(X_mix.dtype, copy=False)

    def separate(self, plan, x_mix, M, length):
        xp = self.xp
        single = M.ndim == x_mix.ndim + 1
        masks = M[..., None, :, :] if single else M
        batch = np.broadcast_shapes(x_mix.shape[:-1], masks.shape[:-3])
        items, sources = int(np.prod(batch)), masks.shape[-3]
        n_frames = M.shape[-1]
        self._reserve("separate", items * (x_mix.shape[-1] * plan.dtype.itemsize  # the mixtures' rows
                                           + n_frames * plan.n_freqs * COMPLEX_OF[plan.dtype].itemsize  # their STFT
                                           + sources * (n_frames * plan.n_freqs + length) * plan.dtype.itemsize))
        X = self.stft(plan, xp.broadcast_to(x_mix, batch + x_mix.shape[-1:]))
        masks = xp.ascontiguousarray(xp.broadcast_to(masks, batch + masks.shape[-3:]))
        masks = masks.reshape((-1,) + masks.shape[-2:])
        out = xp.empty((masks.shape[0], length), dtype=plan.dtype)
        self._istft_rows(plan, self._frame_major(X), masks, sources, length, out)
        out = out.reshape(batch + (sources, length))
        return out[..., 0, :] if single else out

    # ---- phase retrieval ---------------------------------------------------------------------
    def _retrieve(self, plan, S, angles, sources, mixture, weights, n_iter, momentum, length, tol, track):
        """GLA (sources == 1, mixture None) or MISI over S (items * sources, F, T), in float64."""
        xp = self.xp
        plan = _plan.get(plan.n_fft, plan.hop_length, plan.win_length, plan.window_spec, plan.center,
                         plan.pad_mode, plan.normalized, np.float64)
        c = self._constants(plan)
        signals, F, n_frames = S.shape
        items = signals // sources
        if signals == 0:  # an empty batch: nothing to launch (a grid dimension of 0 is no valid launch)
            return xp.empty((0, length)), xp.empty((0, 0))
        epsilon = np.float64(np.finfo(S.dtype).eps)  # of the data (Note [vanishing bins])
        S = xp.ascontiguousarray(S, dtype=np.float64)
        # (signals, T, F), a private copy: the kernels update it in place, and ascontiguousarray would
        # hand back the caller's (read-only, broadcast) view whenever it is already contiguous (T = 1)
        angles = xp.array(angles.swapaxes(-1, -2), dtype=np.complex128, order="C", copy=True)
        previous = xp.zeros_like(angles)
        norm = xp.sqrt(xp.sum(S.reshape(items, -1) ** 2, axis=-1))
        active = xp.ones(items, dtype=np.int32)
        best = xp.full(items, -1.0)
        history = xp.full((items, n_iter), np.nan)
        frame_error = xp.empty((signals, n_frames))
        y = xp.empty((signals, length))
        threads = _threads(plan.n_fft)
        update_shared = self._shared(plan, plan.n_freqs * 16 + threads * 8)
        pad = plan.padding
        ms = (_long(F * n_frames), _long(1), _long(n_frames))
        alpha = np.float64(momentum / (1.0 + momentum))

        def invert():
            self._istft_rows(plan, angles, S, 1, length, y)
            if mixture is not None:
                self._launch("misi_distribute", plan, (-(-length // 256), items), (256,), (
                    y, mixture, _long(mixture.shape[-1]), weights, _int(sources), _long(length)), 0)

        for iteration in range(n_iter):
            if iteration and iteration % CHECK_EVERY == 0 and not bool(active.any()):
                break
            invert()
            for first, last in self._per_signal_launches(signals, sources):
                self._launch("stft_phase_update", plan, (n_frames, last - first), (threads,), (
                    y[first:last], _long(length), c["window"], c["roots"], c["factors"], _int(plan.n_fft),
                    _int(plan.hop_length), _int(pad), _int(_PAD_MODES[plan.pad_mode]), _long(n_frames),
                    S[first:last], *ms, angles[first:last], previous[first:last], active[first // sources:],
                    _int(sources), alpha, epsilon,
                    frame_error[first:last]), update_shared)
            if track:  # else nothing is measured: no history asked for, no tol
                self._launch("convergence", plan, (items,), (256,), (
                    frame_error, _long(sources * n_frames), norm, np.float64(-1.0 if tol is None else tol), active,
                    best, history, _long(iteration), _long(n_iter)), 256 * 8)
        invert()
        recorded = xp.any(~xp.isnan(history), axis=0)
        iterations = int(xp.nonzero(recorded)[0].max()) + 1 if bool(recorded.any()) else 0
        return y, history[:, :iterations]

    @staticmethod
    def _retrieval_bytes(plan, signals, n_frames, length, n_iter, out_itemsize, mixture):
        """Device memory of one _retrieve call on ``signals`` spectrograms of ``n_frames`` frames
        (per item: ``signals`` = its sources), with the output's cast."""
        F, T = plan.n_freqs, n_frames
        return (signals * F * T * (8 + 16 + 16)          # S in float64, angles, previous (complex128)
                + signals * T * 8                         # frame errors
                + signals * length * (8 + out_itemsize)   # signals in float64, then their cast
                + (n_iter + 3) * 8                        # history, stopping state
                + (length * 8 if mixture else 0))         # MISI's mixture in float64

    def griffin_lim(self, plan, S, n_iter, momentum, angles, length, tol, history=True):
        xp = self.xp
        length = plan.istft_length(S.shape[-1]) if length is None else length
        parts = [items_of(S, 2), items_of(xp.broadcast_to(xp.asarray(as_array(angles)), S.shape), 2)]
        per_item = self._retrieval_bytes(plan, 1, S.shape[-1], length, n_iter, S.dtype.itemsize, mixture=False)
        per_group = self._groups_that_fit("griffin_lim", per_item, parts[0].shape[0])

        def run(S_items, angles_items):
            return self._retrieve(plan, S_items, angles_items, 1, None, None, n_iter, momentum, length, tol,
                                  history or tol is not None)

        y, history = by_item_groups(run, parts, S.dtype, per_group, xp)
        return y.reshape(S.shape[:-2] + (length,)), history.reshape(S.shape[:-2] + history.shape[-1:])

    def misi(self, plan, x_mix, S, n_iter, momentum, angles, weights, tol, history=True):
        xp = self.xp
        length, n_sources = x_mix.shape[-1], S.shape[-3]
        weights = xp.asarray(weights, dtype=np.float64)
        parts = [items_of(x_mix, 1), items_of(S, 3), items_of(xp.broadcast_to(xp.asarray(as_array(angles)), S.shape), 3)]
        per_item = self._retrieval_bytes(plan, n_sources, S.shape[-1], length, n_iter, x_mix.dtype.itemsize,
                                         mixture=True)
        per_group = self._groups_that_fit("misi", per_item, parts[0].shape[0])
        track = history or tol is not None

        def run(x_items, S_items, angles_items):
            mixture = xp.ascontiguousarray(x_items, dtype=np.float64)
            y, history = self._retrieve(plan, S_items, angles_items, n_sources, mixture, weights, n_iter, momentum,
                                        length, tol, track)
            return y.reshape((x_items.shape[0], n_sources, length)), history

        sources, history = by_item_groups(run, parts, x_mix.dtype, per_group, xp)
        return sources.reshape(S.shape[:-2] + (length,)), history.reshape(S.shape[:-3] + history.shape[-1:])
