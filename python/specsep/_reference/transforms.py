"""The STFT and inverse STFT, defined in plain NumPy (float64 inside)."""

from __future__ import annotations

import numpy as np

from .._validate import COMPLEX_OF, REAL_OF

_NUMPY_PAD = {"constant": "constant", "reflect": "reflect", "edge": "edge"}


def stft(plan, x: np.ndarray) -> np.ndarray:
    """``X[..., f, t] = sum_n w[n] x_pad[t*hop + n] exp(-2j pi f n / n_fft)``.

    Returns a ``(..., freq, frames)`` view of frame-major memory, complex of ``x``'s precision.
    """
    signal = x.astype(np.float64)
    if plan.center:
        pad = plan.n_fft // 2
        widths = [(0, 0)] * (signal.ndim - 1) + [(pad, pad)]
        signal = np.pad(signal, widths, mode=_NUMPY_PAD[plan.pad_mode])
    n_frames = plan.n_frames(x.shape[-1])
    frames = np.lib.stride_tricks.sliding_window_view(signal, plan.n_fft, axis=-1)
    frames = frames[..., : n_frames * plan.hop_length : plan.hop_length, :]
    spectrum = np.fft.rfft(frames * plan.window64, axis=-1)
    if plan.normalized:
        spectrum *= plan.n_fft ** -0.5
    return spectrum.astype(COMPLEX_OF[x.dtype]).swapaxes(-1, -2)


def overlap_add(frames: np.ndarray, hop_length: int) -> np.ndarray:
    """Sum of ``frames[..., t, :]`` placed at ``t * hop_length``; shape ``(..., n + hop*(T-1))``."""
    n_frames, n = frames.shape[-2:]
    q = -(-n // hop_length)  # hop-sized chunks per frame
    chunks = np.zeros(frames.shape[:-1] + (q * hop_length,))
    chunks[..., :n] = frames
    chunks = chunks.reshape(frames.shape[:-2] + (n_frames, q, hop_length))
    out = np.zeros(frames.shape[:-2] + (hop_length * (n_frames + q - 1),))
    for j in range(q):
        part = chunks[..., j, :].reshape(frames.shape[:-2] + (n_frames * hop_length,))
        out[..., j * hop_length:(j + n_frames) * hop_length] += part
    return out[..., : n + hop_length * (n_frames - 1)]


def istft(plan, X: np.ndarray, length: int) -> np.ndarray:
    """Least-squares inverse of :func:`stft` (Griffin & Lim 1984): inverse DFT of each frame,
    window, overlap-add, divide by the window-sum-square envelope, trim.

    Where the envelope is below the dtype's smallest normal number (only possible at the edges of
    ``center=False`` signals when NOLA holds), samples are left undivided, as librosa does; for a
    window with values above 1 the envelope is compared after scaling the window to ``[-1, 1]`` by
    a power of two (Note [scaled synthesis] in ``specsep/_plan.py``).
    """
    plan.check_invertible()
    n_frames = X.shape[-1]
    frames = np.fft.irfft(X.astype(np.complex128).swapaxes(-1, -2), n=plan.n_fft, axis=-1)
    if plan.normalized:
        frames *= plan.n_fft ** 0.5
    signal = overlap_add(frames * plan.window64, plan.hop_length)
    envelope = plan.envelope(n_frames)
    # covered where the envelope of w / c exceeds the smallest normal number (Note [scaled synthesis])
    covered = envelope > float(np.finfo(plan.dtype).tiny) * plan.synthesis_scale ** 2
    signal[..., covered] /= envelope[covered]
    start = plan.padding
    out = np.zeros(X.shape[:-2] + (length,), dtype=REAL_OF[X.dtype])
    kept = signal[..., start:start + length]
    out[..., : kept.shape[-1]] = kept
    return out
