"""Long signals a block of frames at a time (``chunk_frames=``) and results written into ``out=``.

Every block is computed by the chosen backend from a slice of the input with an *uncentred* plan:

- STFT frames ``[a, b)`` read positions ``[a * hop, (b - 1) * hop + n_fft)`` of the centre-padded
  signal; inside the signal that is a view, at its ends the padding is gathered by index (the
  rule of ``cpp/include/specsep/framing.hpp``), a few samples only.
- An iSTFT output sample at padded position ``u`` is the overlap-add of the frames covering ``u``,
  divided by their window-sum-square. A block of output samples takes exactly the frames that
  cover it, so each kept sample sees the same frames, the same envelope and (on the C++ backends)
  the same summation order as the whole-signal call: the results are equal, to the bit on ``cpu``.
- ``separate`` runs the backend's fused STFT -> mask -> iSTFT on the signal slice of each block.

Temporaries are bounded by the block: ``batch * chunk_frames`` frames (times the sources for
``separate``), never the whole signal's.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from ._arrays import namespace

def _source_index(positions, n, pad_mode):
    """Signal index read at each (unpadded) position, ``-1`` where padding reads a zero."""
    inside = (positions >= 0) & (positions < n)
    if pad_mode == "constant":
        return np.where(inside, positions, -1)
    if pad_mode == "edge" or n == 1:
        return np.clip(positions, 0, n - 1)
    period = 2 * (n - 1)  # NumPy's reflect, periodic for pads longer than the signal
    r = positions % period
    return np.where(r < n, r, period - r)


def padded_segment(plan, x, lo, hi):
    """Positions ``[lo, hi)`` of the centre-padded ``x`` along its last axis (a view where no
    padding is read)."""
    start, stop = lo - plan.padding, hi - plan.padding
    n = x.shape[-1]
    if 0 <= start and stop <= n:
        return x[..., start:stop]
    xp = namespace(x)
    index = _source_index(np.arange(start, stop), n, plan.pad_mode)
    segment = xp.take(x, xp.asarray(np.maximum(index, 0)), axis=-1)
    if plan.pad_mode == "constant":
        segment[..., xp.asarray(index < 0)] = 0
    return segment


def stft_frames(plan, x, first, stop, backend):
    """Frames ``[first, stop)`` of the STFT of ``x``, shape ``(..., F, stop - first)``."""
    segment = padded_segment(plan, x, first * plan.hop_length, (stop - 1) * plan.hop_length + plan.n_fft)
    return backend.stft(plan.uncentred(), segment)


def overlaps(out, data):
    """Whether ``out`` may share memory with the input: then blocks written into ``out`` would
    change input that later blocks still read."""
    return out is not None and bool(namespace(out).may_share_memory(out, data))


def through_temporary(out, compute):
    """``compute(None)`` copied into ``out`` (NumPy's rule for an output overlapping an input)."""
    out[...] = compute(None)
    return out


def stft(plan, x, chunk_frames, out, backend):
    """STFT of ``x`` in blocks of ``chunk_frames`` frames, into ``out`` (allocated when ``None``;
    through a temporary when it overlaps ``x``)."""
    if overlaps(out, x):
        return through_temporary(out, lambda fresh: stft(plan, x, chunk_frames, fresh, backend))
    n_frames = plan.n_frames(x.shape[-1])
    if out is None:  # frame-major memory, as the backends return
        out = namespace(x).empty(x.shape[:-1] + (n_frames, plan.n_freqs), v.COMPLEX_OF[x.dtype]).swapaxes(-1, -2)
    for first in range(0, n_frames, chunk_frames):
        stop = min(first + chunk_frames, n_frames)
        out[..., first:stop] = stft_frames(plan, x, first, stop, backend)
    return out


def covered_samples(plan, n_frames, length):
    """Output samples ``[0, covered)`` that some frame reaches; the rest are zero."""
    return max(0, min(length, (n_frames - 1) * plan.hop_length + plan.n_fft - plan.padding))


def sample_blocks(plan, n_frames, covered, chunk_frames):
    """Output blocks ``(s0, s1, first, stop)``: samples ``[s0, s1)`` of ``[0, covered)`` and the
    frames ``[first, stop)`` that cover them."""
    n_fft, hop, pad = plan.n_fft, plan.hop_length, plan.padding
    step = chunk_frames * hop
    for s0 in range(0, covered, step):
        s1 = min(s0 + step, covered)
        u0, u1 = s0 + pad, s1 + pad  # positions in the padded signal
        first = max(0, (u0 - n_fft) // hop + 1)
        stop = min(n_frames, (u1 - 1) // hop + 1)
        yield s0, s1, first, stop


def _inverse_blocks(plan, n_frames, length, chunk_frames, out, invert, allocate=None):
    """Fill ``out[..., :length]`` block by block; ``invert(first, stop, n)`` returns the uncentred
    inverse of frames ``[first, stop)``, ``n`` samples from the first frame's start. ``out=None``:
    ``allocate(batch_shape)`` makes it once the first block's result gives its batch shape."""
    covered = covered_samples(plan, n_frames, length)
    pad, hop = plan.padding, plan.hop_length
    for s0, s1, first, stop in sample_blocks(plan, n_frames, covered, chunk_frames):
        offset = first * hop - pad  # output sample of the block result's sample 0
        y = invert(first, stop, s1 - offset)
        if out is None:
            out = allocate(y.shape[:-1])
        out[..., s0:s1] = y[..., s0 - offset:]
    if out is None:  # no output sample (length 0): one block's result gives the shape
        out = allocate(invert(0, min(chunk_frames, n_frames), plan.n_fft).shape[:-1])
    out[..., covered:] = 0
    return out


def istft(plan, X, length, chunk_frames, out, backend):
    """Inverse STFT of ``X`` (``length`` samples) in blocks of ``chunk_frames * hop_length``, into
    ``out`` (allocated when ``None``; through a temporary when it overlaps ``X``)."""
    if overlaps(out, X):
        return through_temporary(out, lambda fresh: istft(plan, X, length, chunk_frames, fresh, backend))
    n_frames = X.shape[-1]
    if out is None:
        out = namespace(X).empty(X.shape[:-2] + (length,), v.REAL_OF[X.dtype])
    uncentred = plan.uncentred()
    return _inverse_blocks(plan, n_frames, length, chunk_frames, out,
                           lambda first, stop, n: backend.istft(uncentred, X[..., first:stop], n))


def separate(plan, x_mix, masks_of, n_frames, length, chunk_frames, backend):
    """``backend.separate`` block by block, each block's frames from a slice of the mixture:
    ``masks_of(first, stop)`` returns the masks of frames ``[first, stop)`` (a slice of the whole
    masks, or masks made block by block, so that not even the masks of the whole signal exist)."""
    n_fft, hop = plan.n_fft, plan.hop_length
    uncentred = plan.uncentred()

    def invert(first, stop, n):
        segment = padded_segment(plan, x_mix, first * hop, (stop - 1) * hop + n_fft)
        return backend.separate(uncentred, segment, masks_of(first, stop), n)

    def allocate(batch_shape):
        return namespace(x_mix).empty(batch_shape + (length,), x_mix.dtype)

    return _inverse_blocks(plan, n_frames, length, chunk_frames, None, invert, allocate)
