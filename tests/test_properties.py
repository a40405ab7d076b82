"""Properties of the reference STFT / iSTFT, checked with hypothesis on bounded, reproducible draws.

- perfect reconstruction under NOLA: ``istft(stft(x)) == x`` wherever the frames see ``x``;
- linearity of ``stft`` (all pad modes: constant, reflect and edge padding are linear maps) and of
  ``istft``;
- adjointness: ``<stft(x), Y> == <x, stft^H(Y)>`` with ``stft^H`` written out from the definition
  ``stft = DFT_half . window . framing . padding`` (padding as an explicit matrix, so every pad mode
  is included).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import specsep
from conftest import ORACLE_RTOL, assert_close

WINDOW_NAMES = ("hann", "sqrt_hann", "hamming", "blackman", "triangle", "rectangular")
PAD_MODES = ("constant", "reflect", "edge")
PRIMES = (2, 3, 5, 7, 11, 13, 17, 31, 61, 97, 127, 251, 257, 509, 521, 1009, 1021)

# Bounded and reproducible: the same examples on every run, no example database written.
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# The iSTFT divides by the window-sum-square envelope; where that is small (window tails at the
# ends of center=False signals, tails of blackman / sqrt_hann with hop close to win_length) the
# division amplifies float64 rounding by about sqrt(peak / envelope). Samples whose envelope is
# below ENVELOPE_FLOOR of its peak are left out of the round-trip comparison, which bounds that
# amplification by 1e3, so that the round trip meets ORACLE_RTOL (measured worst over 1500 draws:
# 4e-14; with every sample the frames reach, 4e-12 from blackman tails at hop ~ n_fft / 4).
ENVELOPE_FLOOR = 1e-6


@st.composite
def stft_params(draw, max_n_fft=1024, max_extra=600):
    n_fft = draw(st.one_of(st.integers(2, max_n_fft), st.sampled_from([p for p in PRIMES if p <= max_n_fft])))
    win_length = draw(st.one_of(st.just(n_fft), st.integers(1, n_fft)))
    window = draw(st.sampled_from(WINDOW_NAMES))
    hop = draw(st.one_of(st.integers(1, win_length), st.just(max(win_length // 4, 1)), st.just(win_length)))
    center = draw(st.booleans())
    pad_mode = draw(st.sampled_from(PAD_MODES))
    n_samples = draw(st.integers(n_fft, n_fft + max_extra))
    batch = draw(st.sampled_from([(), (2,)]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return dict(n_fft=n_fft, win_length=win_length, window=window, hop_length=hop, center=center,
                pad_mode=pad_mode), batch + (n_samples,), seed


def envelope_by_definition(window, n_fft, win_length, hop, n_frames):
    """Sum over frames of the squared, centred, zero-padded window, shape (n_fft + hop*(T-1),)."""
    full = np.zeros(n_fft)
    offset = (n_fft - win_length) // 2
    full[offset:offset + win_length] = window
    out = np.zeros(n_fft + hop * (n_frames - 1))
    for t in range(n_frames):
        out[t * hop:t * hop + n_fft] += full ** 2
    return out


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(stft_params())
def test_perfect_reconstruction_under_nola(params):
    kwargs, shape, seed = params
    n_fft, win_length, hop = kwargs["n_fft"], kwargs["win_length"], kwargs["hop_length"]
    assume(specsep.check_nola(kwargs["window"], hop, win_length=win_length))
    x = np.random.default_rng(seed).standard_normal(shape)
    n = shape[-1]
    X = specsep.stft(x, **kwargs, backend="numpy")
    inverse = {k: v for k, v in kwargs.items() if k != "pad_mode"}
    y = specsep.istft(X, **inverse, length=n, backend="numpy")
    assert y.shape == x.shape

    # which output samples the frames see, from the envelope computed here by its definition
    envelope = envelope_by_definition(specsep.get_window(kwargs["window"], win_length), n_fft, win_length,
                                      hop, X.shape[-1])
    start = n_fft // 2 if kwargs["center"] else 0
    per_sample = np.zeros(n)
    seen = envelope[start:start + n]
    per_sample[:seen.shape[0]] = seen
    compared = per_sample >= ENVELOPE_FLOOR * envelope.max()
    # the comparison is never vacuous: at least the middle of every signal is covered
    assert compared.sum() >= min(n // 2, n - 2 * n_fft)
    assert_close(y[..., compared], x[..., compared], ORACLE_RTOL)
    # samples no frame reaches come back as exact zeros (zero-padded by length=), not NaN
    assert np.all(np.isfinite(y))
    assert np.all(y[..., per_sample == 0] == 0)


@PROPERTY_SETTINGS
@given(stft_params(max_n_fft=512, max_extra=300), st.floats(-3, 3), st.floats(-3, 3))
def test_stft_and_istft_are_linear(params, a, b):
    kwargs, shape, seed = params
    rng = np.random.default_rng(seed)
    x, z = rng.standard_normal(shape), rng.standard_normal(shape)
    X = specsep.stft(x, **kwargs, backend="numpy")
    Z = specsep.stft(z, **kwargs, backend="numpy")
    combined = specsep.stft(a * x + b * z, **kwargs, backend="numpy")
    expected = a * X + b * Z
    # scale by the terms, not their sum, which may cancel (a = b = 0 included)
    scale = abs(a) * np.linalg.norm(X) + abs(b) * np.linalg.norm(Z)
    assert np.linalg.norm(combined - expected) <= ORACLE_RTOL * scale

    inverse = {k: v for k, v in kwargs.items() if k != "pad_mode"}
    if not specsep.check_nola(kwargs["window"], kwargs["hop_length"], win_length=kwargs["win_length"]):
        return
    Y = rng.standard_normal(X.shape) + 1j * rng.standard_normal(X.shape)
    y_combined = specsep.istft(a * X + b * Y, **inverse, backend="numpy")
    y_x = specsep.istft(X, **inverse, backend="numpy")
    y_y = specsep.istft(Y, **inverse, backend="numpy")
    scale = abs(a) * np.linalg.norm(y_x) + abs(b) * np.linalg.norm(y_y)
    assert np.linalg.norm(y_combined - (a * y_x + b * y_y)) <= ORACLE_RTOL * scale


# ---------------------------------------------------------------------------------------------
# adjointness


def padding_matrix(n: int, pad: int, mode: str) -> np.ndarray:
    """The (n + 2 pad, n) matrix P with P @ x == x padded by ``mode`` (one reflection: pad < n)."""
    index = np.arange(-pad, n + pad)
    if mode == "edge":
        source = np.clip(index, 0, n - 1)
    elif mode == "reflect":
        source = np.abs(index)
        source = np.where(source > n - 1, 2 * (n - 1) - source, source)
    else:
        source = np.where((index >= 0) & (index < n), index, -1)
    P = np.zeros((n + 2 * pad, n))
    rows = np.flatnonzero(source >= 0)
    P[rows, source[rows]] = 1.0
    return P


def stft_adjoint(Y, n_samples, n_fft, hop, window, win_length, center, pad_mode, normalized):
    """``stft^H(Y)`` for ``stft(x) = E . diag(w) . framing . P x`` with ``E[f, n] = exp(-2i pi f n / n_fft)``
    over the half spectrum f = 0 .. n_fft // 2 (no bin weights: the half spectrum is the output).

    Returns a complex signal z with ``vdot(stft(x), Y) == sum(x * z)`` for every real x.
    """
    f = np.arange(n_fft // 2 + 1)
    E = np.exp(-2j * np.pi * np.outer(f, np.arange(n_fft)) / n_fft)
    full = np.zeros(n_fft)
    offset = (n_fft - win_length) // 2
    full[offset:offset + win_length] = window
    frames = Y.T @ np.conj(E)                       # E^H per frame: (T, n_fft)
    frames *= full                                   # diag(w)^H = diag(w)
    pad = n_fft // 2 if center else 0
    padded = np.zeros(n_samples + 2 * pad, dtype=complex)
    for t, frame in enumerate(frames):               # framing^H: overlap-add
        padded[t * hop:t * hop + n_fft] += frame
    P = padding_matrix(n_samples, pad, pad_mode) if center else np.eye(n_samples)
    z = P.T @ padded
    return z * (n_fft ** -0.5 if normalized else 1.0)


@PROPERTY_SETTINGS
@given(stft_params(max_n_fft=64, max_extra=100), st.booleans())
def test_stft_adjoint(params, normalized):
    kwargs, shape, seed = params
    n = shape[-1]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    X = specsep.stft(x, **kwargs, normalized=normalized, backend="numpy")
    Y = rng.standard_normal(X.shape) + 1j * rng.standard_normal(X.shape)
    z = stft_adjoint(Y, n, kwargs["n_fft"], kwargs["hop_length"],
                     specsep.get_window(kwargs["window"], kwargs["win_length"]), kwargs["win_length"],
                     kwargs["center"], kwargs["pad_mode"], normalized)
    lhs = np.vdot(X, Y)
    rhs = np.sum(x * z)
    # relative to the Cauchy-Schwarz bound of either side
    assert abs(lhs - rhs) <= ORACLE_RTOL * np.linalg.norm(X) * np.linalg.norm(Y)
    # and the real form used by gradient code: Re<stft(x), Y> = <x, Re stft^H(Y)>
    assert abs(lhs.real - np.dot(x, z.real)) <= ORACLE_RTOL * np.linalg.norm(X) * np.linalg.norm(Y)


def test_adjoint_check_can_fail():
    """The adjoint test is not vacuous: a wrong adjoint (e.g. irfft-style doubling of the
    non-edge bins, or a window shifted by one sample) breaks the identity by far more than the tolerance."""
    rng = np.random.default_rng(0)
    n_fft, hop, n = 16, 4, 60
    x = rng.standard_normal(n)
    X = specsep.stft(x, n_fft=n_fft, hop_length=hop, pad_mode="reflect", backend="numpy")
    Y = rng.standard_normal(X.shape) + 1j * rng.standard_normal(X.shape)
    window = specsep.get_window("hann", n_fft)
    good = stft_adjoint(Y, n, n_fft, hop, window, n_fft, True, "reflect", False)
    Y_doubled = Y.copy()
    Y_doubled[1:-1] *= 2
    doubled = stft_adjoint(Y_doubled, n, n_fft, hop, window, n_fft, True, "reflect", False)
    shifted = stft_adjoint(Y, n, n_fft, hop, np.roll(window, 1), n_fft, True, "reflect", False)
    wrong_pad = stft_adjoint(Y, n, n_fft, hop, window, n_fft, True, "constant", False)
    bound = np.linalg.norm(X) * np.linalg.norm(Y)
    assert abs(np.vdot(X, Y) - np.sum(x * good)) <= ORACLE_RTOL * bound
    for wrong in (doubled, shifted, wrong_pad):
        assert abs(np.vdot(X, Y) - np.sum(x * wrong)) > 1e3 * ORACLE_RTOL * bound


def test_round_trip_check_uses_most_samples():
    """The floor in the round-trip property keeps the bulk of a center=False signal."""
    n_fft, hop = 1024, 256
    envelope = envelope_by_definition(specsep.get_window("blackman", n_fft), n_fft, n_fft, hop, 20)
    kept = envelope >= ENVELOPE_FLOOR * envelope.max()
    assert kept.mean() > 0.9
