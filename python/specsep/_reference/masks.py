"""Time-frequency masks, defined in plain NumPy (float64 inside, the input's precision out)."""

from __future__ import annotations

import numpy as np

from .._validate import REAL_OF

_TINY = np.finfo(np.float64).tiny


def _share(weights: np.ndarray) -> np.ndarray:
    """``weights / sum over sources (axis -3)``; an all-zero bin is shared equally."""
    total = weights.sum(axis=-3, keepdims=True)
    n_sources = weights.shape[-3]
    return np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / n_sources)


def ideal_binary(S: np.ndarray) -> np.ndarray:
    """1 for the loudest source of each bin (the first one on ties), 0 elsewhere."""
    magnitude = np.abs(S)
    winner = np.argmax(magnitude, axis=-3)
    sources = np.arange(S.shape[-3]).reshape((-1, 1, 1))
    return (np.expand_dims(winner, -3) == sources).astype(magnitude.dtype)


def ideal_ratio(S: np.ndarray, power: float) -> np.ndarray:
    """``|S_j|^p / sum_k |S_k|^p``; bins where every source is silent get ``1 / J``."""
    magnitude = np.abs(S)
    return _share(magnitude.astype(np.float64) ** power).astype(magnitude.dtype)


def phase_sensitive(X_sources: np.ndarray, X_mix: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    """``Re(X_j conj(X)) / |X|^2 = |X_j| / |X| cos(theta_j - theta)``, clipped; 0 where ``X = 0``."""
    sources = X_sources.astype(np.complex128)
    mixture = np.expand_dims(X_mix.astype(np.complex128), -3)
    energy = np.abs(mixture) ** 2
    mask = np.where(energy > 0, np.real(sources * np.conj(mixture)) / np.maximum(energy, _TINY), 0.0)
    return np.clip(mask, clip[0], clip[1]).astype(REAL_OF[X_sources.dtype])


def softmask(X: np.ndarray, X_ref: np.ndarray, power: float, split_zeros: bool) -> np.ndarray:
    """librosa.util.softmask: ``X^p / (X^p + X_ref^p)``, computed stably."""
    dtype = np.result_type(X.dtype, X_ref.dtype)
    X, X_ref = np.broadcast_arrays(X.astype(np.float64), X_ref.astype(np.float64))
    if np.isinf(power):
        return (X > X_ref).astype(dtype)
    Z = np.maximum(X, X_ref)
    silent = Z < np.finfo(dtype).tiny
    Z = np.where(silent, 1.0, Z)
    mask = (X / Z) ** power
    ref = (X_ref / Z) ** power
    out = np.where(silent, 0.5 if split_zeros else 0.0, mask / np.where(silent, 1.0, mask + ref))
    return out.astype(dtype)


def normalize(M: np.ndarray) -> np.ndarray:
    """Masks scaled to sum to one over sources; all-zero bins get ``1 / J``."""
    return _share(M.astype(np.float64)).astype(M.dtype)


def apply_mask(X_mix: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``X_mix * M`` with the mixture broadcast over sources when ``M`` has one more axis."""
    mixture = X_mix if M.ndim == X_mix.ndim else np.expand_dims(X_mix, -3)
    return (mixture.astype(np.complex128) * M.astype(np.float64)).astype(X_mix.dtype)
