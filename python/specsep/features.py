"""Spectrogram features: magnitude, power, decibels, mel filterbanks and mel spectrograms."""

from __future__ import annotations

import numpy as np

from . import _validate as v
from ._arrays import callers_kind
from .api import stft


@callers_kind
def magnitude(X):
    """``|X|`` of a complex spectrogram.

    Parameters
    ----------
    X : np.ndarray, complex64 or complex128

    Returns
    -------
    np.ndarray, shape of ``X``, float32 or float64
    """
    return np.abs(v.as_complex_array("X", X, min_ndim=0))


@callers_kind
def power(X):
    """``|X|^2`` of a complex spectrogram.

    Parameters
    ----------
    X : np.ndarray, complex64 or complex128

    Returns
    -------
    np.ndarray, shape of ``X``, float32 or float64
    """
    X = v.as_complex_array("X", X, min_ndim=0)
    return X.real ** 2 + X.imag ** 2


def _reference_value(ref, S) -> float:
    """``ref`` (a number, or a callable applied to ``S``) as a finite float, naming ``ref`` if not."""
    value = ref(S) if callable(ref) else ref
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return v.check_float("ref", value)


@callers_kind
def power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0):
    """Power spectrogram in decibels, as ``librosa.power_to_db``.

    ``10 log10(max(S, amin)) - 10 log10(max(ref, amin))``, then floored at ``max - top_db`` (the
    maximum over the whole array, as librosa does).

    Parameters
    ----------
    S : np.ndarray, float32 or float64, non-negative
        Power values.
    ref : float or callable
        Reference power; a callable (e.g. ``np.max``) is applied to ``S``.
    amin : float
        Floor, ``> 0``.
    top_db : float or None
        Dynamic range kept below the peak, ``>= 0``; None keeps everything.

    Returns
    -------
    np.ndarray, shape of ``S``, dtype of ``S``
    """
    S = v.as_real_array("S", S, min_ndim=0)
    amin = v.check_float("amin", amin)
    if amin <= 0:
        raise ValueError(f"amin={amin} must be > 0")
    ref_value = np.abs(_reference_value(ref, S))
    log_spec = 10.0 * np.log10(np.maximum(amin, S.astype(np.float64)))
    log_spec -= 10.0 * np.log10(max(amin, ref_value))
    if top_db is not None:
        top_db = v.check_float("top_db", top_db, minimum=0.0)
        log_spec = np.maximum(log_spec, log_spec.max(initial=-np.inf) - top_db)
    return log_spec.astype(S.dtype)


@callers_kind
def amplitude_to_db(S, ref=1.0, amin=1e-5, top_db=80.0):
    """Amplitude spectrogram in decibels, as ``librosa.amplitude_to_db``: ``power_to_db(S**2, ref**2, amin**2, top_db)``.

    Parameters
    ----------
    S : np.ndarray, float32 or float64, non-negative
        Magnitudes.
    ref : float or callable
        Reference amplitude; a callable is applied to ``S``.
    amin : float
        Floor, ``> 0``.
    top_db : float or None

    Returns
    -------
    np.ndarray, shape of ``S``, dtype of ``S``
    """
    S = v.as_real_array("S", S, min_ndim=0)
    ref_value = _reference_value(ref, S)
    amin = v.check_float("amin", amin)
    if amin <= 0:
        raise ValueError(f"amin={amin} must be > 0")
    return power_to_db(S.astype(np.float64) ** 2, ref=ref_value ** 2, amin=amin ** 2,
                       top_db=top_db).astype(S.dtype)


# ---- mel scale (Slaney's auditory toolbox by default, HTK on request) -------------------------
_F_SP = 200.0 / 3  # Hz per mel below the break
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz, htk):
    hz = np.asarray(hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log, linear)


def _mel_to_hz(mel, htk):
    mel = np.asarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    linear = _F_SP * mel
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log, linear)


def mel_filterbank(sr, n_fft, n_mels=128, fmin=0.0, fmax=None, htk=False, norm="slaney", dtype=np.float32):
    """Triangular mel filterbank, equal to ``librosa.filters.mel``.

    Parameters
    ----------
    sr : float
        Sample rate in Hz, ``> 0``.
    n_fft : int
        FFT size, ``>= 2``.
    n_mels : int
        Number of mel bands, ``>= 1``.
    fmin, fmax : float
        Band edges in Hz; ``fmax`` defaults to ``sr / 2``.
    htk : bool
        HTK mel formula instead of Slaney's.
    norm : {"slaney", None} or float
        ``"slaney"`` divides each triangle by its width in Hz (constant energy per band); a number
        normalises each row as ``librosa.util.normalize`` does: ``inf`` to a peak of 1, ``-inf``
        to a smallest magnitude of 1, ``0`` by its count of non-zero entries, ``p > 0`` to unit
        ``p``-norm; None leaves the peaks at 1. Rows that are all zero stay zero.
    dtype : {np.float32, np.float64}

    Returns
    -------
    np.ndarray, shape (n_mels, n_fft // 2 + 1), dtype
    """
    sr = v.check_float("sr", sr)
    if sr <= 0:
        raise ValueError(f"sr={sr} must be > 0")
    n_fft = v.check_int("n_fft", n_fft, minimum=2)
    n_mels = v.check_int("n_mels", n_mels, minimum=1)
    fmin = v.check_float("fmin", fmin, minimum=0.0)
    fmax = sr / 2.0 if fmax is None else v.check_float("fmax", fmax)
    if fmax <= fmin:
        raise ValueError(f"fmax={fmax} must be > fmin={fmin}")
    htk = v.check_bool("htk", htk)
    norm = v.check_mel_norm(norm)
    dtype = np.dtype(dtype)
    if dtype not in v.REAL_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")

    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(fmin, htk), _hz_to_mel(fmax, htk), n_mels + 2), htk)
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    empty = (weights.max(axis=1) == 0) & (mel_hz[2:] > 0)
    if empty.any():
        v.warn(f"{int(empty.sum())} of the n_mels={n_mels} mel filters are empty (no FFT bin falls inside them): "
               f"those bands will always be 0; raise sr (and fmax, now {fmax:g} Hz for a Nyquist frequency of "
               f"{sr / 2:g} Hz) or n_fft, or lower n_mels")
    if norm == "slaney":
        weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    elif norm is not None:
        length = _row_norms(weights, norm)
        weights /= np.where(length > 0, length, 1.0)
    return weights.astype(dtype)


def _row_norms(weights, norm):
    """Each row's ``norm``: the largest (``inf``) or smallest (``-inf``) magnitude, the count of
    non-zero entries (``0``), or the ``p``-norm."""
    magnitudes = np.abs(weights)
    if norm == np.inf:
        return magnitudes.max(axis=1, keepdims=True)
    if norm == -np.inf:
        return magnitudes.min(axis=1, keepdims=True)
    if norm == 0:
        return np.count_nonzero(magnitudes, axis=1, keepdims=True).astype(np.float64)
    return np.sum(magnitudes ** norm, axis=1, keepdims=True) ** (1.0 / norm)


@callers_kind
def mel_spectrogram(x, sr, n_fft=2048, hop_length=None, n_mels=128, power=2.0, win_length=None,
                    window="hann", center=True, pad_mode="constant", fmin=0.0, fmax=None, htk=False,
                    norm="slaney", *, backend=None):
    """Mel spectrogram ``mel_filterbank @ |stft(x)|^power``, as ``librosa.feature.melspectrogram``.

    Parameters
    ----------
    x : np.ndarray, shape (..., samples), float32 or float64
    sr : float
        Sample rate in Hz.
    n_fft, hop_length, win_length, window, center, pad_mode, backend
        As in :func:`specsep.stft`.
    n_mels, fmin, fmax, htk, norm
        As in :func:`mel_filterbank`.
    power : float
        Exponent of the magnitude, ``> 0`` (1: energy, 2: power).

    Returns
    -------
    np.ndarray, shape (..., n_mels, frames), dtype of ``x``
    """
    x = v.as_real_array("x", x)
    power = v.check_float("power", power)
    if power <= 0:
        raise ValueError(f"power={power} must be > 0")
    # the filterbank first: it validates sr, n_mels, fmin, fmax, htk and norm before the STFT runs
    basis = mel_filterbank(sr, n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm, dtype=x.dtype)
    X = stft(x, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
             center=center, pad_mode=pad_mode, backend=backend)
    return np.matmul(basis, np.abs(X) ** power).astype(x.dtype)
