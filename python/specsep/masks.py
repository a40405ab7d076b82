"""Time-frequency masks for source separation.

Sources stack on axis -3 of spectrograms: ``(..., J, F, T)``. Every mask returned here has the
real dtype matching its input's precision (float32 for float32/complex64, float64 for
float64/complex128) and is applied to a mixture with :func:`specsep.apply_mask`. Each returns the
input's kind of array (a torch tensor for tensors; :mod:`specsep.torch` has differentiable ones).
"""

from __future__ import annotations

import numpy as np

from . import _backends, _validate as v
from ._arrays import as_array, callers_kind, on_device
from ._reference import masks as _ref


def _sources(name, S, *, complex_only=False):
    """A ``(..., J, F, T)`` array of magnitudes or complex spectrograms (float/complex 32 or 64)."""
    array = as_array(S)
    if complex_only or array.dtype.kind == "c":
        return v.as_complex_array(name, array, min_ndim=3)
    return v.as_real_array(name, array, min_ndim=3)


def _power(power):
    return v.check_float("power", power, minimum=0.0)


@callers_kind
def ideal_binary(S_sources):
    """Ideal binary mask: 1 where a source is the loudest of all, 0 elsewhere.

    Parameters
    ----------
    S_sources : np.ndarray, shape (..., J, F, T), float or complex
        Source magnitudes or complex spectrograms (their modulus is used).

    Returns
    -------
    np.ndarray, shape (..., J, F, T), float32 or float64
        Exactly one source is 1 in every bin (the first on ties): the masks partition the plane.
    """
    return _ref.ideal_binary(_sources("S_sources", S_sources))


@callers_kind
def ideal_ratio(S_sources, power=2.0):
    """Ideal ratio mask ``|S_j|^p / sum_k |S_k|^p``.

    Parameters
    ----------
    S_sources : np.ndarray, shape (..., J, F, T), float or complex
        Source magnitudes or complex spectrograms (their modulus is used).
    power : float
        Exponent ``p >= 0``; 2 gives the mask on powers, 1 on magnitudes.

    Returns
    -------
    np.ndarray, shape (..., J, F, T), float32 or float64
        Sums to one over sources; a bin where every source is silent gets ``1 / J``. Laid out in
        ``S_sources``' memory order (librosa's Fortran-order spectrograms give Fortran-order masks).
    """
    S = _sources("S_sources", S_sources)
    if on_device(S):  # the reference formula in the array's own namespace
        return _ref.ideal_ratio(S, _power(power))
    # NumPy arrays: the cpu kernel, in the memory order of any layout (librosa's included)
    return _backends.select("cpu").ideal_ratio(S, _power(power))


@callers_kind
def wiener(S_sources, power=2.0):
    """Wiener-like mask: an alias of :func:`ideal_ratio` (default ``power=2``, the ratio of powers).

    With ``S_sources`` the source magnitudes (estimated or true), ``|S_j|^2 / sum_k |S_k|^2`` is the
    single-channel Wiener filter gain. Parameters and result as :func:`ideal_ratio`.
    """
    return ideal_ratio(S_sources, power)


@callers_kind
def phase_sensitive(X_sources, X_mix, clip=(0.0, 1.0)):
    """Phase-sensitive mask ``|X_j| / |X| cos(theta_j - theta)`` (Erdogan et al. 2015).

    Parameters
    ----------
    X_sources : np.ndarray, shape (..., J, F, T), complex64 or complex128
        Complex source spectrograms.
    X_mix : np.ndarray, shape (..., F, T), same dtype
        Complex mixture spectrogram.
    clip : (float, float)
        Range the mask is clipped to, ``low <= high``.

    Returns
    -------
    np.ndarray, shape (..., J, F, T), float32 or float64
        0 (before clipping) in bins where the mixture is exactly zero.
    """
    X_sources = _sources("X_sources", X_sources, complex_only=True)
    X_mix = v.as_complex_array("X_mix", X_mix)
    if X_mix.dtype != X_sources.dtype:
        raise TypeError(f"X_mix has dtype {X_mix.dtype} but X_sources {X_sources.dtype}")
    try:
        np.broadcast_shapes(X_sources.shape, X_mix.shape[:-2] + (1,) + X_mix.shape[-2:])
    except ValueError:
        raise ValueError(f"X_mix of shape {X_mix.shape} does not broadcast against X_sources {X_sources.shape}") from None
    if not isinstance(clip, (tuple, list)) or len(clip) != 2:
        raise TypeError(f"clip must be a pair (low, high), got {clip!r}")
    low = v.check_float("clip[0]", clip[0])
    high = v.check_float("clip[1]", clip[1])
    if low > high:
        raise ValueError(f"clip={clip!r} must have low <= high")
    return _ref.phase_sensitive(X_sources, X_mix, (low, high))


@callers_kind
def softmask(X, X_ref, power=1.0, split_zeros=False):
    """Soft mask ``X^p / (X^p + X_ref^p)``, as ``librosa.util.softmask``.

    Parameters
    ----------
    X, X_ref : np.ndarray, float32 or float64 (the same precision), non-negative, broadcastable
        Magnitudes of the target and of the reference (the rest).
    power : float
        ``p > 0``; ``np.inf`` gives the hard mask ``X > X_ref``.
    split_zeros : bool
        Bins where both are zero get 0.5 instead of 0.

    Returns
    -------
    np.ndarray, broadcast shape, float of the inputs' precision
    """
    X = v.as_real_array("X", X, min_ndim=0)
    X_ref = v.as_real_array("X_ref", X_ref, min_ndim=0)
    v.check_same_precision("X_ref", X_ref, X.dtype, "X")
    if isinstance(power, (bool, np.bool_)) or not isinstance(power, (int, float, np.floating, np.integer)):
        raise TypeError(f"power must be a positive number, got {power!r}")
    if not power > 0:
        raise ValueError(f"power={power} must be > 0")
    for name, array in (("X", X), ("X_ref", X_ref)):
        if np.any(array < 0):
            raise ValueError(f"{name} must be non-negative")
    try:
        np.broadcast_shapes(X.shape, X_ref.shape)
    except ValueError:
        raise ValueError(f"X of shape {X.shape} and X_ref of shape {X_ref.shape} do not broadcast") from None
    return _ref.softmask(X, X_ref, float(power), v.check_bool("split_zeros", split_zeros))


@callers_kind
def binarize(M, threshold=0.5):
    """Hard mask ``M > threshold`` in ``M``'s dtype.

    Parameters
    ----------
    M : np.ndarray, float32 or float64, no NaN
    threshold : float

    Returns
    -------
    np.ndarray, shape of ``M``, dtype of ``M``
    """
    M = v.as_real_array("M", M, min_ndim=0)
    if np.isnan(M).any():
        raise ValueError("M contains NaN, which is neither above nor below a threshold")
    return (M > v.check_float("threshold", threshold)).astype(M.dtype)


@callers_kind
def normalize(M):
    """Masks scaled to sum to one over sources.

    Parameters
    ----------
    M : np.ndarray, shape (..., J, F, T), float32 or float64, non-negative and finite

    Returns
    -------
    np.ndarray, shape (..., J, F, T), dtype of ``M``
        Bins where every mask is zero get ``1 / J``.
    """
    M = v.as_real_array("M", M, min_ndim=3)
    v.check_finite("M", M, "which no normalisation can share out")
    if np.any(M < 0):
        raise ValueError("M must be non-negative to be normalised")
    return _ref.normalize(M)
