"""Host arrays on the device backend: NumPy in, NumPy out, the work on the device in blocks.

``backend="cuda"`` (or ``"cuda-emu"``) named for NumPy input wraps the device backend in
:class:`HostArrays`. Every call becomes a list of blocks (frames of the transforms, the
``chunk_frames`` machinery of ``_chunks``; groups of items for phase retrieval), each sized so
that ``STREAMS`` blocks fit the free device memory at once, and at most ``BLOCK_BYTES``. Block
``k`` runs on stream ``k % STREAMS``:

1. its inputs are gathered on the host into a page-locked staging buffer of its stream;
2. copied to the device (asynchronous), computed there by the device backend (the same
   orchestration, memory checks included, as for device arrays), and its results copied back
   into the stream's page-locked output buffer (asynchronous);
3. only then does the host wait for block ``k - 1`` and copy its results out of staging.

So the host issues block ``k + 1``'s copy while block ``k`` computes on the other stream, and
block ``k - 1``'s results come back meanwhile: transfers overlap compute. Each block's kernels
are the device backend's, on the same block boundaries as ``chunk_frames``: the results are the
bits of the device-array calls. Staging (page-locked) memory is allocated before any copy or
kernel, and a refusal is an error, never a silent pageable fallback.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import _chunks
from .._arrays import on_device
from .._item_groups import items_of
from .._random_angles import RandomAngles
from .._validate import COMPLEX_OF, REAL_OF

STREAMS = 2                 # blocks in flight: copy of k + 1 and results of k - 1 beside the compute of k
BLOCK_BYTES = 64 * 2**20    # device bytes of one block at most: a track gives several blocks to overlap
ALIGN = 256                 # staging views start on this many bytes (CUDA's allocation alignment)


@dataclass
class Block:
    """One block: ``inputs`` are ``(shape, dtype, get)`` with ``get()`` the host data (any
    strides, broadcast to ``shape``); ``compute(*device_inputs)`` returns device arrays of
    ``outputs`` ``(shape, dtype)``; ``sink(*host_outputs)`` takes the results (staging views,
    valid until the call returns)."""

    inputs: list
    outputs: list
    compute: Callable
    sink: Callable


def _aligned(nbytes):
    return -(-nbytes // ALIGN) * ALIGN


def _bytes(specs):
    return sum(_aligned(int(np.prod(shape)) * np.dtype(dtype).itemsize) for shape, dtype, *_ in specs)


def _views(buffer, specs):
    """Arrays of ``specs`` laid one after another in the uint8 ``buffer``."""
    views, offset = [], 0
    for shape, dtype, *_ in specs:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        views.append(buffer[offset:offset + nbytes].view(dtype).reshape(shape))
        offset += _aligned(nbytes)
    return views


def check_host(**arrays):
    """Refuse device arrays among the host arrays of a call on ``HostArrays``."""
    for name, array in arrays.items():
        if array is not None and on_device(array):
            raise TypeError(f"{name} is in device memory but the call's input is a host (NumPy) array: pass host "
                            "arrays throughout, or device arrays throughout")


class HostArrays:
    """The device backend ``device`` on host arrays, through page-locked staging on streams."""

    stages_host_arrays = True  # _transforms hands chunk_frames= and out= over to it

    def __init__(self, device):
        self.device = device
        self.name = device.name
        self.launcher = device.launcher

    # ---- the pipeline ------------------------------------------------------------------------
    def _budget(self):
        """Device bytes one block may take: ``STREAMS`` of them in flight fit the free memory."""
        usable, _ = self.device._usable()
        return max(1, min(BLOCK_BYTES, usable // STREAMS))

    def run(self, blocks):
        """Run ``blocks`` (a list of :class:`Block`) through ``STREAMS`` streams."""
        if not blocks:
            return
        launcher = self.launcher
        in_bytes = max(_bytes(block.inputs) for block in blocks)
        out_bytes = max(_bytes(block.outputs) for block in blocks)
        slots = [(launcher.stream(), launcher.pinned(in_bytes), launcher.pinned(out_bytes))
                 for _ in range(min(STREAMS, len(blocks)))]
        pending = collections.deque()
        for k, block in enumerate(blocks):
            stream, staging_in, staging_out = slots[k % len(slots)]
            staged = _views(staging_in, block.inputs)
            for view, (_, _, get) in zip(staged, block.inputs):
                np.copyto(view, get())  # host work, while the previous block computes
            with launcher.using(stream):
                results = block.compute(*(launcher.to_device(view) for view in staged))
                host = _views(staging_out, block.outputs)
                for result, view in zip(results, host):
                    if tuple(result.shape) != view.shape or result.dtype != view.dtype:
                        raise AssertionError(f"block result {result.shape} {result.dtype}, staged {view.shape} "
                                             f"{view.dtype}")  # pragma: no cover - a bug of this module
                    launcher.to_host(self.device.xp.ascontiguousarray(result), view)
                event = launcher.record()
            pending.append((block, host, event))
            while len(pending) >= len(slots):  # the oldest block's stream is the next one's
                self._drain(*pending.popleft())
        while pending:
            self._drain(*pending.popleft())

    def _drain(self, block, host, event):
        self.launcher.wait(event)
        block.sink(*host)

    # ---- transforms --------------------------------------------------------------------------
    def _frames_per_block(self, per_frame, fixed, chunk_frames):
        frames = max(1, (self._budget() - fixed) // max(per_frame, 1))
        return frames if chunk_frames is None else min(frames, chunk_frames)

    def stft(self, plan, x, chunk_frames=None, out=None):
        """STFT of the host array ``x`` into ``out`` (a host array, allocated when None; through
        a temporary when it overlaps ``x``)."""
        check_host(out=out)
        if _chunks.overlaps(out, x):
            return _chunks.through_temporary(out, lambda fresh: self.stft(plan, x, chunk_frames, fresh))
        n_frames = plan.n_frames(x.shape[-1])
        batch, real, cplx = x.shape[:-1], plan.dtype, COMPLEX_OF[plan.dtype]
        signals = int(np.prod(batch))
        if out is None:  # frame-major memory, as every backend returns
            out = np.empty(batch + (n_frames, plan.n_freqs), cplx).swapaxes(-1, -2)
        if out.size == 0:
            return out
        frames = self._frames_per_block(signals * (plan.hop_length * real.itemsize + plan.n_freqs * cplx.itemsize),
                                        signals * plan.n_fft * real.itemsize, chunk_frames)
        uncentred = plan.uncentred()

        def block(first, stop):
            lo, hi = first * plan.hop_length, (stop - 1) * plan.hop_length + plan.n_fft

            def sink(spectra):
                out[..., first:stop] = spectra.swapaxes(-1, -2)
            return Block([(batch + (hi - lo,), real, lambda: _chunks.padded_segment(plan, x, lo, hi))],
                         [(batch + (stop - first, plan.n_freqs), cplx)],
                         lambda segment: (self.device.stft(uncentred, segment).swapaxes(-1, -2),), sink)

        self.run([block(first, min(first + frames, n_frames)) for first in range(0, n_frames, frames)])
        return out

    def istft(self, plan, X, length, chunk_frames=None, out=None):
        """Inverse STFT of the host array ``X`` into ``out`` (a host array, allocated when None;
        through a temporary when it overlaps ``X``)."""
        check_host(out=out)
        if _chunks.overlaps(out, X):
            return _chunks.through_temporary(out, lambda fresh: self.istft(plan, X, length, chunk_frames, fresh))
        batch, n_frames = X.shape[:-2], X.shape[-1]
        real = REAL_OF[X.dtype]
        signals = int(np.prod(batch))
        if out is None:
            out = np.empty(batch + (length,), real)
        frames = self._frames_per_block(signals * (plan.n_freqs * X.itemsize + plan.hop_length * real.itemsize),
                                        signals * plan.n_fft * real.itemsize, chunk_frames)
        uncentred = plan.uncentred()
        blocks = []
        covered = _chunks.covered_samples(plan, n_frames, length)
        for s0, s1, first, stop in _chunks.sample_blocks(plan, n_frames, covered, frames):
            offset = first * plan.hop_length - plan.padding  # output sample of the block result's sample 0
            n = s1 - offset

            def sink(y, s0=s0, s1=s1, offset=offset):
                out[..., s0:s1] = y[..., s0 - offset:]

            def compute(frame_major, n=n):
                return (self.device.istft(uncentred, frame_major.swapaxes(-1, -2), n),)
            blocks.append(Block([(batch + (stop - first, plan.n_freqs), X.dtype,
                                  lambda first=first, stop=stop: X[..., first:stop].swapaxes(-1, -2))],
                                [(batch + (n,), real)], compute, sink))
        self.run(blocks)
        out[..., covered:] = 0
        return out

    def apply_mask(self, X_mix, M):
        """``X_mix * M`` of host arrays, in blocks of frames."""
        check_host(M=M)
        mixture = X_mix.shape if M.ndim == X_mix.ndim else X_mix.shape[:-2] + (1,) + X_mix.shape[-2:]
        shape = np.broadcast_shapes(mixture, M.shape)
        out = np.empty(shape, X_mix.dtype)
        per_frame = shape[-2] * int(np.prod(shape[:-2])) * (2 * X_mix.itemsize + M.itemsize)
        frames = self._frames_per_block(per_frame, 0, None)
        blocks = []
        for first in range(0, shape[-1], frames):
            stop = min(first + frames, shape[-1])

            def sink(product, first=first, stop=stop):
                out[..., first:stop] = product
            blocks.append(Block([(X_mix.shape[:-1] + (stop - first,), X_mix.dtype,
                                  lambda first=first, stop=stop: X_mix[..., first:stop]),
                                 (M.shape[:-1] + (stop - first,), M.dtype,
                                  lambda first=first, stop=stop: M[..., first:stop])],
                                [(shape[:-1] + (stop - first,), X_mix.dtype)],
                                lambda x, m: (self.device.apply_mask(x, m),), sink))
        self.run(blocks)
        return out

    def separate(self, plan, x_mix, M, length):
        return self.separate_blocks(plan, x_mix, lambda first, stop: M[..., first:stop], M.shape[-1], length, None)

    def separate_blocks(self, plan, x_mix, masks_of, n_frames, length, chunk_frames):
        """``separate`` of the host mixture ``x_mix`` in blocks of frames; ``masks_of(first,
        stop)`` returns the host masks of frames ``[first, stop)``, called on the host while
        the previous block computes."""
        real = plan.dtype
        first_masks = masks_of(0, min(1, n_frames))
        check_host(M=first_masks)
        single = first_masks.ndim == x_mix.ndim + 1
        sources = 1 if single else first_masks.shape[-3]
        # Masks frame-major in memory (made from specsep's spectrograms) are staged frame-major: a
        # plain copy here, and the kernels read them coalesced (cuda backend's separate).
        frame_major = abs(first_masks.strides[-1]) > abs(first_masks.strides[-2])
        batch = np.broadcast_shapes(x_mix.shape[:-1], first_masks.shape[:first_masks.ndim - (2 if single else 3)])
        items = int(np.prod(batch))
        out = np.empty(batch + ((length,) if single else (sources, length)), real)
        per_frame = items * (plan.hop_length * real.itemsize + plan.n_freqs * COMPLEX_OF[real].itemsize
                             + sources * (plan.n_freqs * first_masks.itemsize + plan.hop_length * real.itemsize))
        frames = self._frames_per_block(per_frame, items * sources * plan.n_fft * real.itemsize, chunk_frames)
        uncentred = plan.uncentred()
        blocks = []
        covered = _chunks.covered_samples(plan, n_frames, length)
        for s0, s1, first, stop in _chunks.sample_blocks(plan, n_frames, covered, frames):
            offset = first * plan.hop_length - plan.padding
            n = s1 - offset
            lo, hi = first * plan.hop_length, (stop - 1) * plan.hop_length + plan.n_fft
            mask_shape = first_masks.shape[:-2] + ((stop - first, plan.n_freqs) if frame_major
                                                   else (plan.n_freqs, stop - first))

            def sink(y, s0=s0, s1=s1, offset=offset):
                out[..., s0:s1] = y[..., s0 - offset:]

            def masks(first=first, stop=stop):
                block_masks = masks_of(first, stop)
                check_host(M=block_masks)
                return block_masks.swapaxes(-1, -2) if frame_major else block_masks

            def compute(segment, block_masks, n=n):
                masks = block_masks.swapaxes(-1, -2) if frame_major else block_masks
                return (self.device.separate(uncentred, segment, masks, n),)
            blocks.append(Block([(x_mix.shape[:-1] + (hi - lo,), real,
                                  lambda lo=lo, hi=hi: _chunks.padded_segment(plan, x_mix, lo, hi)),
                                 (mask_shape, first_masks.dtype, masks)],
                                [(out.shape[:-1] + (n,), real)], compute, sink))
        self.run(blocks)
        out[..., covered:] = 0
        return out

    # ---- phase retrieval ---------------------------------------------------------------------
    def _items_per_group(self, plan, sources, n_frames, length, n_iter, dtype, mixture, staged_per_item):
        workspace, held = self.device._retrieval_bytes(plan, sources, n_frames, length, n_iter, dtype.itemsize,
                                                       mixture)
        per_item = workspace + held + self.device._scratch_bytes(plan, sources, n_frames, length) + staged_per_item
        return max(1, self._budget() // per_item)

    def _retrieval(self, parts, per_group, outputs, n_iter, compute):
        """Groups of items of the host ``parts`` through the pipeline: ``compute(*device_parts)``
        returns ``(y, history)``; the history comes back padded to ``n_iter`` with NaN and is
        cut, as one call would, after the last iteration any item recorded."""
        items = parts[0].shape[0]
        y_shape, y_dtype = outputs
        y = np.empty((items,) + y_shape, y_dtype)
        history = np.empty((items, n_iter))
        blocks = []
        for first in range(0, items, per_group):
            last = min(first + per_group, items)

            def run(*device_parts):
                y_group, h = compute(*device_parts)
                padded = self.device.xp.full((h.shape[0], n_iter), np.nan)
                padded[:, :h.shape[1]] = h
                return y_group, padded

            def sink(y_group, h, first=first, last=last):
                y[first:last], history[first:last] = y_group, h
            inputs = [((last - first,) + p.shape[1:], p.dtype, lambda p=p, a=first, b=last: p[a:b]) for p in parts]
            outputs = [((last - first,) + y_shape, y_dtype), ((last - first, n_iter), np.float64)]
            blocks.append(Block(inputs, outputs, run, sink))
        self.run(blocks)
        recorded = np.nonzero(np.any(~np.isnan(history), axis=0))[0]
        return y, history[:, :recorded.max() + 1 if recorded.size else 0]

    def _initial(self, angles, shape, core):
        """The initial angles' host part to stage (the draws of RandomAngles, or angles), per item."""
        random = isinstance(angles, RandomAngles)
        initial = angles.turns if random else angles
        check_host(init=initial)
        return items_of(np.broadcast_to(initial, shape), core), random

    def griffin_lim(self, plan, S, n_iter, momentum, angles, length, tol, history=True):
        initial, random = self._initial(angles, S.shape, 2)
        parts = [items_of(S, 2), initial]
        per_group = self._items_per_group(plan, 1, S.shape[-1], length, n_iter, S.dtype, False,
                                          S.shape[-2] * S.shape[-1] * (S.itemsize + initial.itemsize))

        def compute(S_items, initial_items):
            group_angles = RandomAngles(initial_items) if random else initial_items
            return self.device.griffin_lim(plan, S_items, n_iter, momentum, group_angles, length, tol, history)

        y, h = self._retrieval(parts, per_group, ((length,), S.dtype), n_iter, compute)
        return y.reshape(S.shape[:-2] + (length,)), h.reshape(S.shape[:-2] + h.shape[-1:])

    def misi(self, plan, x_mix, S, n_iter, momentum, angles, weights, tol, history=True):
        length, n_sources = x_mix.shape[-1], S.shape[-3]
        initial, random = self._initial(angles, S.shape, 3)
        parts = [items_of(x_mix, 1), items_of(S, 3), initial]
        staged = x_mix.itemsize * length + int(np.prod(S.shape[-3:])) * (S.itemsize + initial.itemsize)
        per_group = self._items_per_group(plan, n_sources, S.shape[-1], length, n_iter, x_mix.dtype, True, staged)

        def compute(x_items, S_items, initial_items):
            group_angles = RandomAngles(initial_items) if random else initial_items
            return self.device.misi(plan, x_items, S_items, n_iter, momentum, group_angles, weights, tol, history)

        y, h = self._retrieval(parts, per_group, ((n_sources, length), x_mix.dtype), n_iter, compute)
        return y.reshape(S.shape[:-2] + (length,)), h.reshape(S.shape[:-3] + h.shape[-1:])
