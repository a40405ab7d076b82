"""Time-frequency masks, defined in plain NumPy.

Ratio masks are computed in the input's precision, in place on one working array: they are
elementwise quotients of a handful of terms (relative rounding ~1e-7 in float32), and the
(..., J, F, T) arrays of a separation batch are large enough that float64 temporaries would cost
more than the rest of the pipeline.
"""

from __future__ import annotations

import numpy as np

from .._validate import REAL_OF

_TINY = np.finfo(np.float64).tiny


def _share(weights: np.ndarray) -> np.ndarray:
    """``weights / sum over sources (axis -3)``, in place; an all-zero bin is shared equally.

    The sum is source by source, elementwise in the arrays' own memory order (``order="K"``), so
    that it runs at one speed in any layout: NumPy's reduction over axis -3 is ~8x slower where the
    batch axes are innermost (librosa's layout). It adds in the order ``sum`` does here."""
    total = weights[..., :1, :, :].copy(order="K")
    for j in range(1, weights.shape[-3]):
        total += weights[..., j:j + 1, :, :]
    silent = ~(total > 0)
    total[silent] = 1  # (the weights of silent bins are replaced below)
    np.divide(weights, total, out=weights)
    if silent.any():
        weights[np.broadcast_to(silent, weights.shape)] = 1.0 / weights.shape[-3]
    return weights


def ideal_binary(S: np.ndarray) -> np.ndarray:
    """1 for the loudest source of each bin (the first one on ties), 0 elsewhere."""
    magnitude = np.abs(S)
    winner = np.argmax(magnitude, axis=-3)
    sources = np.arange(S.shape[-3]).reshape((-1, 1, 1))
    return (np.expand_dims(winner, -3) == sources).astype(magnitude.dtype)


def ideal_ratio(S: np.ndarray, power: float) -> np.ndarray:
    """``|S_j|^p / sum_k |S_k|^p``; bins where every source is silent get ``1 / J``."""
    weights = np.abs(S)  # a fresh array: the working array of _share
    if power == 2:
        np.multiply(weights, weights, out=weights)
    elif power != 1:
        np.power(weights, power, out=weights)
    return _share(weights)


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
    return _share(M.copy())


def apply_mask(X_mix: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``X_mix * M`` with the mixture broadcast over sources when ``M`` has one more axis."""
    mixture = X_mix if M.ndim == X_mix.ndim else np.expand_dims(X_mix, -3)
    return (mixture.astype(np.complex128) * M.astype(np.float64)).astype(X_mix.dtype)
