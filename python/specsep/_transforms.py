"""The transforms of a plan: the arguments checked against it, the backend chosen, the work done
whole or in blocks. :mod:`specsep.api` and the plan's own ``forward``/``inverse`` both end here, so
this module sits below the plan and imports neither."""

from __future__ import annotations

from . import _backends
from . import _chunks
from . import _validate as v
from ._arrays import namespace


def stft(plan, x, backend, chunk_frames=None, out=None):
    """STFT of ``x`` with ``plan``: checked against the plan, then run whole or in blocks."""
    x = v.as_real_array("x", x)
    v.check_same_precision("x", x, plan.dtype, "the plan")
    v.check_samples("x", x)
    n_frames = plan.n_frames(x.shape[-1])  # raises when the signal is too short
    v.warn_if_shorter_than_frame("x", x, plan.n_fft)
    chunk_frames = v.check_chunk_frames(chunk_frames, out)
    if out is not None:
        out = v.check_out(out, x.shape[:-1] + (plan.n_freqs, n_frames), v.COMPLEX_OF[x.dtype], x)
    chosen = _backends.select(backend, x)
    if getattr(chosen, "stages_host_arrays", False):  # blocks of its own, chunk_frames= bounding them
        return chosen.stft(plan, x, chunk_frames, out)
    if chunk_frames is None:
        return chosen.stft(plan, x)
    return _chunks.stft(plan, x, chunk_frames, out, chosen)


def istft(plan, X, length, backend, chunk_frames=None, out=None):
    """Inverse STFT of ``X`` with ``plan``: checked against the plan, then run whole or in blocks."""
    X = v.as_complex_array("X", X)
    v.check_same_precision("X", X, plan.dtype, "the plan")
    v.check_spectrogram(plan, X)
    length = plan.istft_length(X.shape[-1]) if length is None else v.check_optional_length(length)
    plan.check_invertible()
    chunk_frames = v.check_chunk_frames(chunk_frames, out)
    if out is not None:
        out = v.check_out(out, X.shape[:-2] + (length,), plan.dtype, X)
    chosen = _backends.select(backend, X)
    if getattr(chosen, "stages_host_arrays", False):
        return chosen.istft(plan, X, length, chunk_frames, out)
    if chunk_frames is None:
        return chosen.istft(plan, X, length)
    return _chunks.istft(plan, X, length, chunk_frames, out, chosen)


def fit_length(x, length):
    """``x`` trimmed or zero-padded to ``length`` samples on its last axis (itself when it has them)."""
    if length == x.shape[-1]:
        return x
    fitted = namespace(x).zeros(x.shape[:-1] + (length,), dtype=x.dtype)
    fitted[..., : min(length, x.shape[-1])] = x[..., :length]
    return fitted


def separate(plan, x_mix, masks, n_frames, length, backend, chunk_frames):
    """STFT -> masks -> iSTFT of the checked ``x_mix``, whole or in blocks of ``chunk_frames``
    frames; ``masks`` is an array or ``masks(first, stop)`` (always in blocks, one by default)."""
    chosen = _backends.select(backend, x_mix)
    if not callable(masks) and chunk_frames is None and not getattr(chosen, "stages_host_arrays", False):
        return chosen.separate(plan, x_mix, masks, length)
    masks_of = masks if callable(masks) else (lambda first, stop: masks[..., first:stop])
    if getattr(chosen, "stages_host_arrays", False):
        return chosen.separate_blocks(plan, x_mix, masks_of, n_frames, length, chunk_frames)
    return _chunks.separate(plan, x_mix, masks_of, n_frames, length, chunk_frames or n_frames, chosen)
