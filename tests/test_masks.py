"""Masks (specsep.masks), apply_mask and separate.

The mask constructors are pure NumPy and have one implementation; apply_mask and separate run on
every backend and are compared with the reference (backend="numpy").
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import specsep
from specsep import masks

from conftest import ORACLE_RTOL, RTOL, assert_close, rel_error

# Masks are computed in float64 and cast once to the output precision: one rounding of a value in
# [0, 1] (or [clip]) per element, so elementwise agreement to a few ulps of the output dtype.
MASK_ATOL = {np.dtype(np.float32): 4 * np.finfo(np.float32).eps,
             np.dtype(np.float64): 16 * np.finfo(np.float64).eps}

COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}


def random_magnitudes(rng, shape, dtype, zero_fraction=0.2):
    """Non-negative magnitudes with exact zeros (including whole silent bins)."""
    S = rng.random(shape) * rng.choice([1e-3, 1.0, 1e3], size=shape)
    S[rng.random(shape) < zero_fraction] = 0.0
    S[..., 0, :] = 0.0  # the lowest frequency bin is silent in every source
    return S.astype(dtype)


def random_spectrogram(rng, shape, dtype):
    X = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return X.astype(COMPLEX_OF[np.dtype(dtype)])


# ---- ideal binary ------------------------------------------------------------------------------


def test_ideal_binary_partitions_the_plane(rng, dtype):
    S = random_magnitudes(rng, (2, 3, 9, 7), dtype)
    M = masks.ideal_binary(S)
    assert M.shape == S.shape and M.dtype == dtype
    assert set(np.unique(M)) <= {0.0, 1.0}
    np.testing.assert_array_equal(M.sum(axis=-3), 1.0)
    # the 1 sits on a loudest source
    winner = np.argmax(M, axis=-3)
    np.testing.assert_array_equal(np.take_along_axis(S, winner[..., None, :, :], -3)[..., 0, :, :],
                                  S.max(axis=-3))


def test_ideal_binary_first_source_wins_ties(dtype):
    S = np.zeros((3, 2, 2), dtype=dtype)
    S[:, 0, 0] = [1.0, 1.0, 1.0]  # three-way tie -> source 0
    S[:, 0, 1] = [0.5, 2.0, 2.0]  # tie between 1 and 2 -> source 1
    S[:, 1, 0] = [0.0, 0.0, 0.0]  # silent -> source 0
    S[:, 1, 1] = [0.1, 0.2, 3.0]
    M = masks.ideal_binary(S)
    expected_winner = np.array([[0, 1], [0, 2]])
    np.testing.assert_array_equal(M, (np.arange(3)[:, None, None] == expected_winner).astype(dtype))


def test_ideal_binary_uses_modulus_of_complex(rng, dtype):
    X = random_spectrogram(rng, (3, 5, 4), dtype)
    M = masks.ideal_binary(X)
    assert M.dtype == dtype
    np.testing.assert_array_equal(M, masks.ideal_binary(np.abs(X)))


# ---- ideal ratio / wiener ----------------------------------------------------------------------


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_ideal_ratio_equals_formula(rng, dtype, p):
    S = random_magnitudes(rng, (2, 3, 6, 5), dtype)
    M = masks.ideal_ratio(S, power=p)
    assert M.dtype == dtype and M.shape == S.shape
    S64 = S.astype(np.float64)
    total = np.sum(S64 ** p, axis=-3, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(total > 0, S64 ** p / total, 1.0 / S.shape[-3])
    np.testing.assert_allclose(M, expected, rtol=0, atol=MASK_ATOL[dtype])


def test_ideal_ratio_sums_to_one_and_silent_bins_share_equally(rng, dtype):
    J = 4
    S = random_magnitudes(rng, (J, 8, 6), dtype)
    M = masks.ideal_ratio(S)
    np.testing.assert_allclose(M.sum(axis=-3), 1.0, rtol=0, atol=J * MASK_ATOL[dtype])
    silent = np.all(S == 0, axis=-3)
    assert silent.any()
    np.testing.assert_array_equal(M[:, silent], np.asarray(1.0 / J, dtype=dtype))
    assert np.all((M >= 0) & (M <= 1))


def test_ideal_ratio_accepts_complex_and_uses_modulus(rng, dtype):
    X = random_spectrogram(rng, (2, 5, 4), dtype)
    M = masks.ideal_ratio(X, power=1.0)
    assert M.dtype == dtype  # complex64 -> float32, complex128 -> float64
    np.testing.assert_allclose(M, masks.ideal_ratio(np.abs(X), power=1.0), rtol=0, atol=MASK_ATOL[dtype])


def test_ideal_ratio_power_zero_is_uniform(rng):
    S = random_magnitudes(rng, (3, 4, 4), np.float64, zero_fraction=0.0) + 0.1
    np.testing.assert_allclose(masks.ideal_ratio(S, power=0.0), 1.0 / 3, rtol=0, atol=1e-15)


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_wiener_is_ideal_ratio(rng, dtype, p):
    S = random_magnitudes(rng, (3, 5, 4), dtype)
    np.testing.assert_array_equal(masks.wiener(S, power=p), masks.ideal_ratio(S, power=p))
    np.testing.assert_array_equal(masks.wiener(S), masks.ideal_ratio(S, power=2.0))


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=3, max_dims=4, min_side=1, max_side=4),
                  elements=st.floats(0, 1e6, allow_subnormal=False)),
       st.sampled_from([0.5, 1.0, 2.0, 3.0]))
def test_ideal_ratio_property_partition(S, p):
    M = masks.ideal_ratio(S, power=p)
    assert np.all(np.isfinite(M)) and np.all(M >= 0) and np.all(M <= 1)
    np.testing.assert_allclose(M.sum(axis=-3), 1.0, rtol=0, atol=1e-12)
    B = masks.ideal_binary(S)
    np.testing.assert_array_equal(B.sum(axis=-3), 1.0)


# ---- phase sensitive ---------------------------------------------------------------------------


def _psm_oracle(X_sources, X_mix, low, high):
    Xs = X_sources.astype(np.complex128)
    Xm = X_mix.astype(np.complex128)[..., None, :, :]
    energy = np.abs(Xm) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.real(Xs * np.conj(Xm)) / energy
    raw = np.where(energy > 0, raw, 0.0)
    return np.clip(raw, low, high)


@pytest.mark.parametrize("clip", [(0.0, 1.0), (-1.0, 2.0), (0.25, 0.5), (-np.finfo(np.float64).max, np.finfo(np.float64).max)])
def test_phase_sensitive_equals_formula(rng, dtype, clip):
    X_sources = random_spectrogram(rng, (2, 3, 6, 5), dtype)
    X_mix = X_sources.sum(axis=-3)
    X_mix[..., 0, :] = 0  # zero mixture bins -> 0 before clipping
    M = masks.phase_sensitive(X_sources, X_mix, clip=clip)
    assert M.dtype == dtype and M.shape == X_sources.shape
    expected = _psm_oracle(X_sources, X_mix, *clip)
    scale = max(1.0, np.max(np.abs(expected)))
    np.testing.assert_allclose(M, expected, rtol=MASK_ATOL[dtype], atol=MASK_ATOL[dtype] * scale)
    np.testing.assert_array_equal(M[..., 0, :], np.clip(0.0, *clip).astype(dtype))


def test_phase_sensitive_default_clip_and_unclipped_values(rng):
    X_sources = random_spectrogram(rng, (3, 6, 5), np.float64)
    X_mix = X_sources.sum(axis=-3)
    M = masks.phase_sensitive(X_sources, X_mix)
    assert M.min() >= 0.0 and M.max() <= 1.0
    wide = masks.phase_sensitive(X_sources, X_mix, clip=(-1e300, 1e300))
    # |X_j|/|X| cos(theta_j - theta): the unclipped masks of the sources of a mixture sum to 1
    np.testing.assert_allclose(wide.sum(axis=-3), 1.0, rtol=0, atol=1e-9)
    assert wide.min() < 0.0 or wide.max() > 1.0  # clipping really did something by default
    np.testing.assert_array_equal(M, np.clip(wide, 0.0, 1.0))
    # polar form
    polar = np.abs(X_sources) / np.abs(X_mix) * np.cos(np.angle(X_sources) - np.angle(X_mix))
    np.testing.assert_allclose(wide, polar, rtol=1e-12, atol=1e-12)


def test_phase_sensitive_zero_mixture_clipped_above_zero(dtype):
    X_sources = np.ones((2, 3, 3), dtype=COMPLEX_OF[dtype])
    X_mix = np.zeros((3, 3), dtype=COMPLEX_OF[dtype])
    np.testing.assert_array_equal(masks.phase_sensitive(X_sources, X_mix), 0.0)
    np.testing.assert_array_equal(masks.phase_sensitive(X_sources, X_mix, clip=(0.2, 0.9)), np.asarray(0.2, dtype))


# ---- softmask ----------------------------------------------------------------------------------


@pytest.mark.parametrize("power", [1, 2, 0.5, np.inf])
@pytest.mark.parametrize("split_zeros", [False, True])
def test_softmask_equals_librosa(rng, dtype, power, split_zeros):
    X = random_magnitudes(rng, (2, 7, 6), dtype, zero_fraction=0.3)
    X_ref = random_magnitudes(rng, (2, 7, 6), dtype, zero_fraction=0.3)
    X_ref[..., 0, :] = 0  # bins where both are zero (X has row 0 silent too)
    X_ref[0, 1, :] = X[0, 1, :]  # exact ties
    ours = masks.softmask(X, X_ref, power=power, split_zeros=split_zeros)
    theirs = librosa.util.softmask(X, X_ref, power=power, split_zeros=split_zeros)
    assert ours.dtype == dtype
    # librosa returns a bool array for power=inf; specsep keeps the input precision
    assert theirs.dtype == (bool if np.isinf(power) else dtype)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=MASK_ATOL[dtype])
    both_zero = (X == 0) & (X_ref == 0)
    if not np.isinf(power):
        np.testing.assert_array_equal(ours[both_zero], 0.5 if split_zeros else 0.0)


def test_softmask_broadcasts(rng):
    X = rng.random((3, 1, 5))
    X_ref = rng.random((4, 5))
    ours = masks.softmask(X, X_ref, power=2)
    assert ours.shape == (3, 4, 5)
    np.testing.assert_allclose(ours, X ** 2 / (X ** 2 + X_ref ** 2), rtol=1e-14)


# ---- binarize / normalize ----------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.5, 0.0, 0.9])
def test_binarize(rng, dtype, threshold):
    M = rng.random((2, 4, 5)).astype(dtype)
    M[0, 0, 0] = threshold  # equal to the threshold -> 0 (strict inequality)
    B = masks.binarize(M, threshold)
    assert B.dtype == dtype and B.shape == M.shape
    np.testing.assert_array_equal(B, (M > threshold).astype(dtype))
    assert B[0, 0, 0] == 0


def test_normalize(rng, dtype):
    J = 3
    M = random_magnitudes(rng, (2, J, 5, 4), dtype)
    N = masks.normalize(M)
    assert N.dtype == dtype and N.shape == M.shape
    np.testing.assert_allclose(N.sum(axis=-3), 1.0, rtol=0, atol=J * MASK_ATOL[dtype])
    silent = np.all(M == 0, axis=-3, keepdims=True)
    np.testing.assert_array_equal(N[np.broadcast_to(silent, M.shape)], np.asarray(1.0 / J, dtype))
    M64 = M.astype(np.float64)
    total = M64.sum(axis=-3, keepdims=True)
    with np.errstate(invalid="ignore"):
        expected = np.where(total > 0, M64 / total, 1.0 / J)
    np.testing.assert_allclose(N, expected, rtol=0, atol=MASK_ATOL[dtype])
    # normalising twice changes nothing (up to one rounding)
    np.testing.assert_allclose(masks.normalize(N), N, rtol=0, atol=2 * MASK_ATOL[dtype])


def test_masks_dtypes(rng, dtype):
    S = random_magnitudes(rng, (2, 4, 3), dtype)
    X = random_spectrogram(rng, (2, 4, 3), dtype)
    for M in (masks.ideal_binary(S), masks.ideal_binary(X), masks.ideal_ratio(S), masks.ideal_ratio(X),
              masks.wiener(X), masks.phase_sensitive(X, X.sum(axis=0)), masks.softmask(S[0], S[1]),
              masks.binarize(S), masks.normalize(S)):
        assert M.dtype == dtype


# ---- apply_mask --------------------------------------------------------------------------------


def test_apply_mask_broadcasts_mixture_over_sources(rng, backend, dtype):
    X = random_spectrogram(rng, (2, 9, 6), dtype)
    M = rng.random((2, 3, 9, 6)).astype(dtype)
    Y = specsep.apply_mask(X, M, backend=backend)
    assert Y.shape == (2, 3, 9, 6) and Y.dtype == COMPLEX_OF[dtype]
    expected = X[:, None].astype(np.complex128) * M.astype(np.float64)
    assert_close(Y, expected, RTOL[dtype])
    assert_close(Y, specsep.apply_mask(X, M, backend="numpy"), RTOL[dtype])
    # the mixture phase is kept wherever the masked value is non-zero
    keep = (M > 0) & (np.abs(X[:, None]) > 0)
    phase_error = np.angle(Y[keep] * np.conj(np.broadcast_to(X[:, None], M.shape)[keep]))
    assert np.max(np.abs(phase_error)) < 1e3 * np.finfo(dtype).eps


def test_apply_mask_single_mask(rng, backend, dtype):
    X = random_spectrogram(rng, (3, 9, 6), dtype)
    M = rng.random((3, 9, 6)).astype(dtype)
    Y = specsep.apply_mask(X, M, backend=backend)
    assert Y.shape == X.shape and Y.dtype == X.dtype
    assert_close(Y, X.astype(np.complex128) * M, RTOL[dtype])


def test_apply_mask_broadcasts_batch_axes(rng, backend, dtype):
    X = random_spectrogram(rng, (2, 1, 9, 6), dtype)   # (batch, channel=1, F, T)
    M = rng.random((1, 4, 2, 9, 6)).astype(dtype)      # (1, channel=4, J=2, F, T)
    Y = specsep.apply_mask(X, M, backend=backend)
    assert Y.shape == (2, 4, 2, 9, 6)
    assert_close(Y, X[:, :, None].astype(np.complex128) * M, RTOL[dtype])


# ---- separate ----------------------------------------------------------------------------------


def _sources(rng, n_sources, length, dtype):
    t = np.arange(length) / 8000.0
    tones = [np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in (220.0, 587.0, 1450.0)]
    noise = 0.1 * rng.standard_normal((n_sources, length))
    return (np.stack(tones[:n_sources]) * np.linspace(0.2, 1.0, length) + noise).astype(dtype)


CONFIGS = [
    dict(n_fft=256, hop_length=64),
    dict(n_fft=255, hop_length=60, window="hamming"),
    dict(n_fft=256, hop_length=128, win_length=200, window="sqrt_hann", pad_mode="reflect"),
    dict(n_fft=128, hop_length=32, center=False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_separate_equals_stft_mask_istft(rng, backend, dtype, config):
    x = rng.standard_normal((2, 1000)).astype(dtype)
    X = specsep.stft(x, **config, backend="numpy")
    M = rng.random(X.shape[:-2] + (3,) + X.shape[-2:]).astype(dtype)
    istft_kw = {k: v for k, v in config.items() if k != "pad_mode"}
    expected = specsep.istft(specsep.apply_mask(X, M, backend="numpy"), **istft_kw, length=1000, backend="numpy")
    y = specsep.separate(x, M, **config, backend=backend)
    assert y.shape == (2, 3, 1000) and y.dtype == dtype
    assert_close(y, expected, RTOL[dtype])
    # one mask -> (..., length)
    y1 = specsep.separate(x, M[:, 0], **config, backend=backend)
    assert y1.shape == (2, 1000)
    assert_close(y1, expected[:, 0], RTOL[dtype])


@pytest.mark.parametrize("length", [900, 1000, 1200])
def test_separate_length(rng, backend, length):
    x = rng.standard_normal(1000)
    X = specsep.stft(x, n_fft=128, hop_length=32, backend="numpy")
    M = rng.random((2,) + X.shape)
    y = specsep.separate(x, M, n_fft=128, hop_length=32, length=length, backend=backend)
    assert y.shape == (2, length)
    expected = specsep.istft(X * M, n_fft=128, hop_length=32, length=length, backend="numpy")
    assert_close(y, expected, RTOL[np.dtype(np.float64)])


@pytest.mark.parametrize("mask", ["ideal_ratio", "wiener1", "normalize"])
def test_separated_sources_sum_to_mixture(rng, backend, dtype, mask):
    sources = _sources(rng, 3, 2000, dtype)
    mix = sources.sum(axis=0)
    S = specsep.stft(sources, n_fft=256, hop_length=64, backend="numpy")
    if mask == "ideal_ratio":
        M = masks.ideal_ratio(S)
    elif mask == "wiener1":
        M = masks.wiener(np.abs(S), power=1.0)
    else:
        M = masks.normalize(rng.random(S.shape).astype(dtype))
    y = specsep.separate(mix, M, n_fft=256, hop_length=64, backend=backend)
    assert y.shape == (3, 2000)
    # The masks sum to one up to one rounding in dtype, then STFT/mask/iSTFT is linear: the error
    # is the float rounding of the pipeline, RTOL of the dtype with a margin of 10 for summing J=3.
    assert rel_error(y.sum(axis=0), mix) <= 10 * RTOL[dtype]
    if mask == "ideal_ratio" and dtype == np.float64:
        # the ideal masks of the true sources separate them reasonably well
        assert np.all(specsep.metrics.si_sdr(sources, y) > 5.0)


def test_separate_identity_mask_reconstructs(rng, backend, dtype):
    x = rng.standard_normal((2, 777)).astype(dtype)
    F, T = 65, 1 + 777 // 32
    y = specsep.separate(x, np.ones((2, F, T), dtype), n_fft=128, hop_length=32, backend=backend)
    assert_close(y, x, RTOL[dtype])


def test_apply_mask_oracle_against_librosa_softmask_pipeline(rng):
    """Masking with librosa's softmask and specsep's give the same separated signal."""
    sources = _sources(rng, 2, 1500, np.float64)
    S = np.abs(specsep.stft(sources, n_fft=256, hop_length=64))
    M = masks.softmask(S[0], S[1], power=2)
    M_lr = librosa.util.softmask(S[0], S[1], power=2)
    X = specsep.stft(sources.sum(0), n_fft=256, hop_length=64)
    assert_close(specsep.apply_mask(X, M, backend="numpy"), X * M_lr, ORACLE_RTOL)
