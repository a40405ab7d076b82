"""Separation quality metrics, batched over leading axes (signals on the last axis)."""

from __future__ import annotations

import numpy as np

from . import _validate as v
from ._arrays import callers_kind

_TINY = np.finfo(np.float64).tiny


def _pair(reference, estimate):
    reference = v.as_real_array("reference", reference)
    estimate = v.as_real_array("estimate", estimate)
    try:
        shape = np.broadcast_shapes(reference.shape, estimate.shape)
    except ValueError:
        raise ValueError(f"reference {reference.shape} and estimate {estimate.shape} do not broadcast") from None
    if reference.shape[-1] != estimate.shape[-1]:
        raise ValueError(f"reference has {reference.shape[-1]} samples, estimate {estimate.shape[-1]}")
    return (np.broadcast_to(reference, shape).astype(np.float64),
            np.broadcast_to(estimate, shape).astype(np.float64))


def _db(signal_energy, noise_energy):
    # a difference of logs: the ratio itself would overflow to inf for a perfect estimate
    return 10.0 * (np.log10(np.maximum(signal_energy, _TINY)) - np.log10(np.maximum(noise_energy, _TINY)))


@callers_kind
def snr(reference, estimate):
    """Signal-to-noise ratio ``10 log10(|s|^2 / |s - s_hat|^2)`` in dB.

    Parameters
    ----------
    reference, estimate : np.ndarray, shape (..., samples), float32 or float64, broadcastable

    Returns
    -------
    np.ndarray, shape (...), float64
        Energies are floored at the smallest normal float64, so a perfect estimate gives a large
        finite value, never inf or NaN.
    """
    reference, estimate = _pair(reference, estimate)
    return _db(np.sum(reference ** 2, axis=-1), np.sum((reference - estimate) ** 2, axis=-1))


@callers_kind
def si_sdr(reference, estimate, zero_mean=False):
    """Scale-invariant signal-to-distortion ratio (Le Roux et al. 2019) in dB.

    ``alpha = <s_hat, s> / <s, s>``, then ``10 log10(|alpha s|^2 / |alpha s - s_hat|^2)``.

    Parameters
    ----------
    reference, estimate : np.ndarray, shape (..., samples), float32 or float64, broadcastable
    zero_mean : bool
        Remove each signal's mean first (as in the paper's definition).

    Returns
    -------
    np.ndarray, shape (...), float64
    """
    reference, estimate = _pair(reference, estimate)
    if v.check_bool("zero_mean", zero_mean):
        reference = reference - reference.mean(axis=-1, keepdims=True)
        estimate = estimate - estimate.mean(axis=-1, keepdims=True)
    alpha = np.sum(estimate * reference, axis=-1, keepdims=True) / np.maximum(
        np.sum(reference ** 2, axis=-1, keepdims=True), _TINY)
    target = alpha * reference
    return _db(np.sum(target ** 2, axis=-1), np.sum((target - estimate) ** 2, axis=-1))
