"""Scores of estimated sources against the true ones, each over all channels of the source.

A source's channels are laid end to end into one signal, so a stereo source gets one figure (as
its energy is summed over both channels): SI-SDR and SNR from :mod:`specsep.metrics`, BSS Eval
SDR from fast_bss_eval (optional), and the spectral convergence of magnitudes (the measure of
phase retrieval, which rebuilds a magnitude and not a waveform).
"""

from __future__ import annotations

import contextlib

import numpy as np

from specsep import metrics


def end_to_end(signals: np.ndarray) -> np.ndarray:
    """``(channels, J, samples)`` -> ``(J, channels * samples)``: each source's channels in a row."""
    channels, n_sources, n_samples = signals.shape
    return np.moveaxis(signals, 1, 0).reshape(n_sources, channels * n_samples)


def si_sdr_and_snr(sources: np.ndarray, estimates: np.ndarray) -> tuple:
    """SI-SDR and SNR in dB per source, ``(channels, J, samples)`` each -> two ``(J,)`` float64 arrays."""
    reference, estimate = end_to_end(sources), end_to_end(estimates)
    return metrics.si_sdr(reference, estimate), metrics.snr(reference, estimate)


def spectral_convergence(S: np.ndarray, X: np.ndarray, axes) -> np.ndarray:
    """``|| |X| - S || / ||S||`` over ``axes``, float64: how far the magnitude of the spectrum
    ``X`` is from the target magnitude ``S`` (0: equal; 1: as far as silence).

    ``S`` is real, ``X`` complex, of the same shape. A silent target gives 0 for a silent ``X``
    (nothing to rebuild, nothing missed) and a huge value otherwise.
    """
    error = np.sqrt(np.sum(np.square(np.abs(X) - S, dtype=np.float64), axis=axes))
    norm = np.sqrt(np.sum(np.square(S, dtype=np.float64), axis=axes))
    return error / np.maximum(norm, np.finfo(np.float64).tiny)


def to_db(ratio) -> np.ndarray:
    """``20 log10(ratio)``: an amplitude ratio in dB (0 gives -inf)."""
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(ratio)


def bss_eval_available() -> bool:
    """Whether fast_bss_eval can be imported."""
    try:
        import fast_bss_eval  # noqa: F401
    except ImportError:
        return False
    return True


def bss_eval_sdr(sources: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    """BSS Eval SDR in dB per source (512-tap distortion filters), ``(channels, J, samples)`` each -> ``(J,)``.

    Each estimate is scored against its own source, never a permutation of the sources. A silent
    source gives NaN (no distortion filter exists), a silent estimate -inf.

    Raises
    ------
    ImportError
        fast_bss_eval is not installed.
    """
    try:
        import fast_bss_eval
    except ImportError:
        raise ImportError("BSS Eval SDR needs the fast_bss_eval package (pip install fast_bss_eval)") from None
    reference = end_to_end(sources).astype(np.float64)
    estimate = end_to_end(estimates).astype(np.float64)
    sdr = np.full(reference.shape[0], np.nan)
    with _one_blas_thread():
        for j in range(reference.shape[0]):
            # fast_bss_eval.sdr picks the best permutation, and the non-pairwise loss fails on NumPy 2
            # (fast_bss_eval 0.1.4); the SDR of one pair needs only that pair, since BSS Eval's SDR
            # projects the estimate on its own source's filtered copies alone.
            try:
                with np.errstate(divide="ignore", invalid="ignore"):  # a silent estimate: -inf, said above
                    sdr[j] = -fast_bss_eval.sdr_loss(estimate[j:j + 1], reference[j:j + 1], pairwise=True)[0, 0]
            except np.linalg.LinAlgError:  # a silent source: no distortion filter
                pass
    return sdr


def _one_blas_thread():
    """BLAS on one thread, where threadpoolctl is installed.

    The SDR solves a linear system with LAPACK, whose last bits depend on BLAS's thread count;
    Dask's workers run BLAS on one thread, so one thread here too gives every process the same
    bits. Without threadpoolctl, scores may differ in their last digits between machines.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")
