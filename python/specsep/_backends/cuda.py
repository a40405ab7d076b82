"""The CUDA backend's orchestration, written once against an array module ``xp`` (CuPy on a GPU,
NumPy under the emulator) and a launcher (launcher.py).

Launch geometry, shared-memory sizes and the exact scalar types of every kernel argument live
here. Griffin-Lim and MISI iterate in ``plan``'s precision (Note [phase retrieval precision] in
specsep/api.py) and return the input's.

Griffin-Lim and MISI stop items on ``tol`` on the device (kernel ``convergence``); the host looks
at the device's active flags every ``CHECK_EVERY`` iterations only, so that the loop runs without
a host synchronisation per iteration.

Layouts (Note [layouts on cuda]): the kernels take dense arrays (CuPy passes a data pointer; the
emulator refuses any other), so signals, spectrograms and masks of other layouts (librosa's,
transposed, sliced) go through one device-side copy each (``ascontiguousarray``, counted by
``_reserve``) before the launches; stft's output is frame-major, read by the iSTFT as it is, and
Griffin-Lim and MISI copy their magnitudes frame-major once, so that a warp reads a frame's bins
at consecutive addresses in every iteration.
tests/test_layouts.py holds every layout to the contiguous call's bits on cuda-emu. The cpu
backend reads every layout in place (_backends/cpu.py).

Device memory: every method adds up the bytes it will allocate before it allocates any and asks
the launcher what is free, keeping ``HEADROOM`` of it unused. The transforms refuse a request that
does not fit with a MemoryError naming both sizes (``chunk_frames=`` bounds their temporaries);
Griffin-Lim and MISI run the batch in groups of items that fit (Note [phase retrieval in groups of
items]) and refuse only an item that does not fit alone. tests/test_device_memory.py measures the
peak of every method's allocations under the emulator and holds it under the free memory.
"""

from __future__ import annotations

import functools

import numpy as np

from .._arrays import namespace
from .._random_angles import RandomAngles
from .._item_groups import by_item_groups, items_of
from .._validate import COMPLEX_OF
from .. import cuda_source
from .._cuda import fft_plan

CHECK_EVERY = 8           # iterations between the host's looks at the device's stopping flags
SEGMENT_HOPS = 8          # iSTFT output segment per block, in hops, where shared memory allows
# Consecutive frames of one signal per block of the forward STFT kernels (stft.cu). The block loads
# the window and the root and twiddle tables into its SM's L1 once for all of them, and the samples
# its frames share (hop < n_fft) once: with one frame per block the tables were 59% of a frame's
# L2 sectors (n_fft 2048, hop 512, float32: 770 of 1,310); with 4, a frame costs 593. 4 still
# leaves the benchmark workloads hundreds to thousands of blocks (W4's four signals: 864), several
# per SM of the largest device (H100: 132 SMs); 8 saves a little more L2 but loads the busiest SM
# more (the device model: W1 on an H100 0.138 ms with 8, 0.135 with 4). A fixed count keeps the
# profile of one signal (specsep.tools.device_model) valid for a batch (docs/gpu.md).
FRAMES_PER_BLOCK = 4
# Share of the free device memory left unused: CuPy's pool rounds every block up to 512 bytes,
# and small arrays (stopping flags, a mask of one) are not counted one by one.
HEADROOM = 1 / 16


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
        self._constants_of = functools.lru_cache(maxsize=64)(self._make_constants)

    # ---- per-plan device constants ---------------------------------------------------------
    def clear_constants(self):
        """Drop the device constants of every plan and device (specsep.clear_caches)."""
        self._constants_of.cache_clear()

    def _constants(self, plan):
        """The window, twiddles and factors of ``plan`` in the current device's memory."""
        return self._constants_of(plan, self.launcher.device_id())

    def _make_constants(self, plan, device):
        """The constants of ``plan``, made on the current device (``device`` names it: the cache key)."""
        to_device, real = self.launcher.constant, plan.dtype
        factors, roots = fft_plan.plan_arrays(plan.n_fft)
        backward = (plan.n_fft ** 0.5 if plan.normalized else 1.0) / plan.n_fft
        window = plan.window64.astype(real)
        c = real.type(plan.synthesis_scale)  # Note [scaled synthesis] in specsep/_plan.py
        return {
            "window": to_device(window),
            "envelope_window": to_device(window / c),
            "synthesis": to_device((plan.window64 * backward).astype(real) / c / c),
            "roots": to_device(roots.astype(COMPLEX_OF[real])),
            "factors": to_device(factors),
            "scale": real.type(plan.n_fft ** -0.5 if plan.normalized else 1.0),
        }

    def _work(self, kernel, plan, extra_bytes):
        """Where ``kernel``'s work buffers go: two FFT buffers plus ``extra_bytes``. ``("shared",
        bytes)`` of dynamic shared memory where they fit beside the kernel's static shared memory,
        else ``("global", values)``: complex values per block of a global scratch array (the
        kernel's ``_global`` variant)."""
        itemsize = COMPLEX_OF[plan.dtype].itemsize
        dynamic = 2 * fft_plan.work_values(plan.n_fft) * itemsize + extra_bytes
        static = self.launcher.static_shared_memory(cuda_source.name_expression(kernel, plan.dtype, plan.n_fft))
        return ("shared", dynamic) if static + dynamic <= self.launcher.max_shared_memory else ("global", -(-dynamic // itemsize))

    def _launch_work(self, kernel, plan, grid, block, args, work):
        """``_launch`` with the work buffers ``_work`` placed: dynamic shared memory, or a scratch
        array of one slice per block, allocated for this launch."""
        place, size = work
        if place == "shared":
            return self._launch(kernel, plan, grid, block, args, size)
        nbytes = grid[0] * grid[1] * size * COMPLEX_OF[plan.dtype].itemsize
        self._reserve(f"{kernel}'s work buffers (too big for shared memory)", nbytes)
        scratch = self.xp.empty(grid[0] * grid[1] * size, dtype=COMPLEX_OF[plan.dtype])
        self._launch(f"{kernel}_global", plan, grid, block, args + (scratch, _long(size)), 0)

    def _segment(self, plan):
        """iSTFT output samples per block: SEGMENT_HOPS hops, fewer where shared memory is short
        (the same bits: each sample sums its frames in the same order whatever the segment), and
        ``(segment, work)``."""
        for hops in range(SEGMENT_HOPS, 0, -1):
            work = self._work("istft", plan, hops * plan.hop_length * plan.dtype.itemsize)
            if work[0] == "shared":
                break
        return hops * plan.hop_length, work

    def _usable(self):
        """``(usable, free)``: the device memory a method may allocate (the free memory less
        ``HEADROOM``), and the free memory."""
        free = self.launcher.free_memory()
        return int(free * (1 - HEADROOM)), free

    def _refusal(self, what, nbytes, free, advice):
        return MemoryError(f"{what} on the {self.name} backend needs {_size(nbytes)} of device memory but "
                           f"{_size(free)} is free ({HEADROOM:.2%} of it kept unused): {advice}")

    def _reserve(self, what, nbytes):
        """Refuse ``what`` before it allocates ``nbytes`` of device memory that is not free."""
        usable, free = self._usable()
        if nbytes > usable:
            raise self._refusal(what, nbytes, free, "pass a smaller batch, or chunk_frames= to stft/istft/separate")

    def _groups_that_fit(self, what, per_item, items, fixed):
        """Items per group whose phase-retrieval workspace (``per_item`` bytes each) fits beside
        the ``fixed`` bytes held for the whole call (its output)."""
        usable, free = self._usable()
        if fixed + per_item > usable:
            raise self._refusal(what, fixed + per_item, free, "use fewer or shorter signals, or the cpu backend")
        return max(1, min(items, (usable - fixed) // per_item))

    def _launch(self, kernel, plan, grid, block, args, shared_mem):
        if grid[0] > self.launcher.max_grid[0]:
            raise ValueError(f"{kernel} on the {self.name} backend needs gridDim.x = {grid[0]} (blocks of frames, "
                             f"segments or sample blocks of one signal); the device allows {self.launcher.max_grid[0]}: use "
                             "shorter signals or the cpu backend")
        name = cuda_source.name_expression(kernel, plan.dtype, plan.n_fft)
        self.launcher.launch(name, grid, block, args, shared_mem)

    def _grid_rows(self, rows, group=1):
        """Ranges ``[first, last)`` of ``rows`` (signals or items: gridDim.y of every launch) that
        each fit the device's gridDim.y, starting at multiples of ``group`` (the sources of one
        item stay in one launch). Every launch over signals or items is split by it."""
        limit = self.launcher.max_grid[1]
        if group > limit:
            raise ValueError(f"sources: {group} per item on the {self.name} backend exceed the {limit} signals one "
                             "launch may hold (gridDim.y): pass fewer sources, or use the cpu backend")
        step = limit // group * group
        return [(first, min(first + step, rows)) for first in range(0, rows, step)]

    # ---- transforms --------------------------------------------------------------------------
    @staticmethod
    def _frame_blocks(n_frames):
        """``(gridDim.x, frames per block)`` of the forward STFT kernels over ``n_frames`` frames."""
        per_block = max(1, min(FRAMES_PER_BLOCK, n_frames))
        return -(-n_frames // per_block), per_block

    def _stft_rows(self, plan, rows, n_frames):
        """``rows (signals, samples)`` contiguous -> ``(signals, frames, freqs)`` contiguous."""
        xp, c = self.xp, self._constants(plan)
        signals, n_samples = rows.shape
        out = xp.empty((signals, n_frames, plan.n_freqs), dtype=COMPLEX_OF[plan.dtype])
        work = self._work("stft", plan, 0)
        blocks, per_block = self._frame_blocks(n_frames)
        for first, last in self._grid_rows(signals):
            self._launch_work("stft", plan, (blocks, last - first), (_threads(plan.n_fft),), (
                rows[first:last], _long(n_samples), _long(n_samples), c["window"], c["roots"], c["factors"],
                _int(plan.n_fft), _int(plan.hop_length), _int(plan.padding),
                _int(plan.pad_mode_code), c["scale"], _long(n_frames), _int(per_block), out[first:last]), work)
        return out

    def _istft_rows(self, plan, X, M, sources, length, out):
        """``out (signals, length)`` from frame-major ``X (items, frames, freqs)`` times ``M
        (signals, freqs, frames)`` (None: no mask), signal i reading item i // sources. ``M`` is
        dense, or the transposed view of a dense frame-major array (read coalesced, _retrieve)."""
        c = self._constants(plan)
        n_frames = X.shape[1]
        signals = out.shape[0]
        segment, work = self._segment(plan)
        start = plan.padding
        segments = max(-(-length // segment), 1) if length else 0
        if segments == 0 or signals == 0:
            return out
        xs = [_long(s // X.itemsize) for s in X.strides]
        for first, last in self._grid_rows(signals, sources):
            if M is None:  # a single 1 read through strides 0
                mask, ms = self.xp.ones(1, dtype=plan.dtype), (_long(0), _long(0), _long(0))
            else:
                mask = M[first:last] if M.flags.c_contiguous else M[first:last].swapaxes(-1, -2)
                ms = (_long(M.strides[0] // M.itemsize), _long(M.strides[2] // M.itemsize),
                      _long(M.strides[1] // M.itemsize))
            items = X[first // sources:-(-last // sources)]
            self._launch_work("istft", plan, (segments, last - first), (_threads(plan.n_fft),), (
                items, xs[0], xs[1], xs[2], mask, *ms, _int(sources), c["envelope_window"], c["synthesis"], c["roots"],
                c["factors"], _int(plan.n_fft), _int(plan.hop_length), _long(n_frames), _long(start),
                _long(length), _int(segment), out[first:last]), work)
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
        masks = xp.broadcast_to(masks, batch + masks.shape[-3:])
        if masks.swapaxes(-1, -2).flags.c_contiguous:  # frame-major, as stft's spectra: read coalesced
            masks = masks.swapaxes(-1, -2).reshape((-1, n_frames, plan.n_freqs)).swapaxes(-1, -2)
        else:  # read dense (signals, F, T): a frame's bins at a stride of n_frames
            masks = xp.ascontiguousarray(masks).reshape((-1,) + masks.shape[-2:])
        out = xp.empty((masks.shape[0], length), dtype=plan.dtype)
        self._istft_rows(plan, self._frame_major(X), masks, sources, length, out)
        out = out.reshape(batch + (sources, length))
        return out[..., 0, :] if single else out

    # ---- phase retrieval ---------------------------------------------------------------------
    def _retrieve(self, plan, S, angles, sources, mixture, weights, n_iter, momentum, length, tol, track):
        """GLA (sources == 1, mixture None) or MISI over S (items * sources, F, T), iterating in
        ``plan``'s precision."""
        xp, real = self.xp, plan.dtype
        c = self._constants(plan)
        signals, F, n_frames = S.shape
        items = signals // sources
        if signals == 0:  # an empty batch: nothing to launch (a grid dimension of 0 is no valid launch)
            return xp.empty((0, length), dtype=real), xp.empty((0, 0))
        # of the coarser of the data's and the iteration's precision (Note [vanishing bins])
        epsilon = real.type(max(np.finfo(S.dtype).eps, np.finfo(real).eps))
        squares = S.reshape(items, -1).astype(np.float64)  # (this temporary comes before the state)
        squares *= squares
        norm = xp.sqrt(xp.sum(squares, axis=-1))
        del squares
        # Frame-major (signals, T, F): the kernels read a frame's magnitudes at consecutive
        # addresses (F, T would put every lane of a warp on its own row); one copy for all iterations.
        S = xp.ascontiguousarray(S.swapaxes(-1, -2), dtype=real)
        # (signals, T, F), a private copy: the kernels update it in place, and ascontiguousarray would
        # hand back the caller's (read-only, broadcast) view whenever it is already contiguous (T = 1)
        angles = xp.array(angles.swapaxes(-1, -2), dtype=COMPLEX_OF[real], order="C", copy=True)
        active = xp.ones(items, dtype=np.int32)
        best = xp.full(items, -1.0)
        history = xp.full((items, n_iter), np.nan)
        frame_error = xp.empty((signals, n_frames))
        current = xp.empty((signals, length), dtype=real)  # x_k
        # x_(k-1), zero before the first iteration (librosa's rebuilt = 0): the momentum's state
        # (Note [momentum by linearity] in specsep/phase.hpp)
        previous = xp.zeros((signals, length), dtype=real)
        threads = _threads(plan.n_fft)
        update_work = self._update_work(plan)
        pad = plan.padding
        ms = (_long(F * n_frames), _long(F), _long(1))
        alpha = real.type(momentum / (1.0 + momentum))

        signal_ranges, item_ranges = self._grid_rows(signals, sources), self._grid_rows(items)
        blocks, per_block = self._frame_blocks(n_frames)

        def invert(y):
            self._istft_rows(plan, angles, S.swapaxes(-1, -2), 1, length, y)
            if mixture is not None:
                for first, last in item_ranges:
                    self._launch("misi_distribute", plan, (-(-length // 256), last - first), (256,), (
                        y[first * sources:last * sources], mixture[first:last], _long(mixture.shape[-1]), weights,
                        _int(sources), _long(length)), 0)

        for iteration in range(n_iter):
            if iteration and iteration % CHECK_EVERY == 0 and not bool(active.any()):
                break
            invert(current)
            for first, last in signal_ranges:
                self._launch_work("stft_phase_update", plan, (blocks, last - first), (threads,), (
                    current[first:last], previous[first:last], _long(length), c["window"], c["roots"],
                    c["factors"], _int(plan.n_fft), _int(plan.hop_length), _int(pad),
                    _int(plan.pad_mode_code), _long(n_frames), _int(per_block), S[first:last], *ms, angles[first:last],
                    active[first // sources:], _int(sources), alpha, epsilon, _int(track),
                    frame_error[first:last]), update_work)
            current, previous = previous, current  # x_(k-1)'s buffer takes x_(k+1)
            if track:  # else nothing is measured: no history asked for, no tol
                for first, last in item_ranges:
                    self._launch("convergence", plan, (1, last - first), (256,), (
                        frame_error[first * sources:last * sources], _long(sources * n_frames), norm[first:last],
                        np.float64(-1.0 if tol is None else tol), active[first:last], best[first:last],
                        history[first:last], _long(iteration), _long(n_iter)), 256 * 8)
        invert(current)
        recorded = xp.any(~xp.isnan(history), axis=0)
        iterations = int(xp.nonzero(recorded)[0].max()) + 1 if bool(recorded.any()) else 0
        return current, history[:, :iterations]

    @staticmethod
    def _retrieval_bytes(plan, signals, n_frames, length, n_iter, out_itemsize, mixture):
        """Device memory of one item in a _retrieve call (``signals``: its sources) iterating in
        ``plan``'s precision, and what the whole call holds per item beside the groups (its output
        and history)."""
        bins = signals * plan.n_freqs * n_frames
        real = plan.dtype.itemsize
        workspace = (bins * (16 + 3 * real)                   # initial complex128 angles, S, angles
                     + signals * n_frames * 8                 # frame errors
                     + signals * length * (2 * real + out_itemsize)  # signals x_k, x_(k-1), their cast
                     + (n_iter + 3) * 8                       # history, stopping state
                     + (length * real if mixture else 0))     # MISI's mixture
        held = signals * length * out_itemsize + n_iter * 8
        return workspace, held

    def _update_work(self, plan):
        """stft_phase_update's work buffers: the FFT's, the rebuilt frame and one double per thread."""
        return self._work("stft_phase_update", plan,
                          plan.n_freqs * COMPLEX_OF[plan.dtype].itemsize + _threads(plan.n_fft) * 8)

    def _scratch_bytes(self, plan, signals, n_frames, length):
        """The largest global scratch array one item's iteration allocates (for an FFT too big for
        shared memory; 0 where its work fits there), ``signals`` its sources."""
        itemsize = COMPLEX_OF[plan.dtype].itemsize
        place, size = self._update_work(plan)
        update = self._frame_blocks(n_frames)[0] * signals * size * itemsize if place == "global" else 0
        segment, (place, size) = self._segment(plan)
        inverse = -(-length // segment) * signals * size * itemsize if place == "global" else 0
        return max(update, inverse)

    def _retrieve_in_groups(self, what, plan, parts, sources, length, n_iter, dtype, mixture, run):
        """``run`` on groups of the items of ``parts`` (the last one the initial angles, NumPy or
        device, or the turns of RandomAngles) whose workspace fits the device."""
        items, n_frames = parts[0].shape[0], parts[-1].shape[-1]
        workspace, held = self._retrieval_bytes(plan, sources, n_frames, length, n_iter, dtype.itemsize, mixture)
        workspace += self._scratch_bytes(plan, sources, n_frames, length)
        per_group = self._groups_that_fit(what, workspace, items, items * held)
        return by_item_groups(run, parts, dtype, per_group, self.xp)

    def _group_angles(self, initial, random):
        """A group's initial angles on the device: made from its draws, or copied there."""
        return self.xp.asarray(RandomAngles(initial).angles() if random else initial)

    def griffin_lim(self, plan, S, n_iter, momentum, angles, length, tol, history=True):
        xp = self.xp
        random = isinstance(angles, RandomAngles)
        initial = angles.turns if random else angles  # host draws or angles: each group moves its own part
        parts = [items_of(S, 2), items_of(namespace(initial).broadcast_to(initial, S.shape), 2)]

        def run(S_items, initial_items):
            return self._retrieve(plan, S_items, self._group_angles(initial_items, random), 1, None, None, n_iter,
                                  momentum, length, tol, history or tol is not None)

        y, history = self._retrieve_in_groups("griffin_lim", plan, parts, 1, length, n_iter, S.dtype, False, run)
        return y.reshape(S.shape[:-2] + (length,)), history.reshape(S.shape[:-2] + history.shape[-1:])

    def misi(self, plan, x_mix, S, n_iter, momentum, angles, weights, tol, history=True):
        xp = self.xp
        length, n_sources = x_mix.shape[-1], S.shape[-3]
        weights = xp.asarray(weights, dtype=plan.dtype)
        random = isinstance(angles, RandomAngles)
        initial = angles.turns if random else angles
        parts = [items_of(x_mix, 1), items_of(S, 3), items_of(namespace(initial).broadcast_to(initial, S.shape), 3)]
        track = history or tol is not None

        def run(x_items, S_items, initial_items):
            mixture = xp.ascontiguousarray(x_items, dtype=plan.dtype)
            y, history = self._retrieve(plan, S_items, self._group_angles(initial_items, random), n_sources, mixture,
                                        weights, n_iter, momentum, length, tol, track)
            return y.reshape((x_items.shape[0], n_sources, length)), history

        sources, history = self._retrieve_in_groups("misi", plan, parts, n_sources, length, n_iter, x_mix.dtype,
                                                    True, run)
        return sources.reshape(S.shape[:-2] + (length,)), history.reshape(S.shape[:-3] + history.shape[-1:])
