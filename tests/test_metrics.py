"""Separation metrics: SNR and SI-SDR."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import requires_torch

from specsep import metrics

# dB values from float64 energies: ~1e-12 dB of rounding on values of order 10-100 dB.
DB_ATOL = 1e-9


def _independent_si_sdr(reference, estimate, zero_mean):
    """SI-SDR written out per item, torchmetrics-style (torch, float64), as an independent oracle."""
    import torch

    ref = torch.as_tensor(np.asarray(reference, dtype=np.float64))
    est = torch.as_tensor(np.asarray(estimate, dtype=np.float64))
    ref, est = torch.broadcast_tensors(ref, est)
    if zero_mean:
        ref = ref - ref.mean(dim=-1, keepdim=True)
        est = est - est.mean(dim=-1, keepdim=True)
    alpha = (est * ref).sum(dim=-1, keepdim=True) / (ref ** 2).sum(dim=-1, keepdim=True)
    target = alpha * ref
    noise = target - est
    return (10 * torch.log10((target ** 2).sum(-1) / (noise ** 2).sum(-1))).numpy()


def _independent_snr(reference, estimate):
    out = np.empty(np.broadcast_shapes(np.shape(reference), np.shape(estimate))[:-1])
    ref, est = np.broadcast_arrays(reference, estimate)
    for index in np.ndindex(out.shape):
        s = ref[index].astype(np.float64)
        e = est[index].astype(np.float64)
        out[index] = 10 * np.log10(np.dot(s, s) / np.dot(s - e, s - e))
    return out


def test_snr_known_noise_level(rng):
    s = rng.standard_normal(20000)
    noise = rng.standard_normal(20000)
    for target_db in (-10.0, 0.0, 6.0, 30.0):
        n = noise / np.linalg.norm(noise) * np.linalg.norm(s) * 10 ** (-target_db / 20)
        np.testing.assert_allclose(metrics.snr(s, s + n), target_db, atol=DB_ATOL)


def test_si_sdr_known_noise_level_orthogonal(rng):
    s = rng.standard_normal(4096)
    n = rng.standard_normal(4096)
    n -= np.dot(n, s) / np.dot(s, s) * s  # orthogonal to s: alpha = 1 exactly
    for target_db in (-5.0, 10.0, 40.0):
        scaled = n / np.linalg.norm(n) * np.linalg.norm(s) * 10 ** (-target_db / 20)
        np.testing.assert_allclose(metrics.si_sdr(s, s + scaled), target_db, atol=DB_ATOL)
        # and SNR equals SI-SDR when the noise is orthogonal and the gain is one
        np.testing.assert_allclose(metrics.snr(s, s + scaled), target_db, atol=DB_ATOL)


def test_scaled_copy(rng):
    s = rng.standard_normal(1000)
    for gain in (1.0, 0.5, 3.0, -2.0):
        value = metrics.si_sdr(s, gain * s)
        assert np.isfinite(value) and value > 200.0  # rounding noise only
    assert metrics.snr(s, s) > 200.0 and np.isfinite(metrics.snr(s, s))
    np.testing.assert_allclose(metrics.snr(s, 0.5 * s), 10 * np.log10(4.0), atol=DB_ATOL)
    np.testing.assert_allclose(metrics.snr(s, np.zeros_like(s)), 0.0, atol=DB_ATOL)


def test_si_sdr_is_scale_invariant_in_estimate(rng):
    s = rng.standard_normal((3, 800))
    e = s + 0.3 * rng.standard_normal((3, 800))
    base = metrics.si_sdr(s, e)
    for gain in (1e-3, 0.7, 5.0, 1e4, -1.0):
        np.testing.assert_allclose(metrics.si_sdr(s, gain * e), base, atol=DB_ATOL)
    # ... and in the reference
    np.testing.assert_allclose(metrics.si_sdr(7.0 * s, e), base, atol=DB_ATOL)
    # SNR is not scale-invariant
    assert not np.allclose(metrics.snr(s, 2 * e), metrics.snr(s, e))


@requires_torch
@pytest.mark.parametrize("zero_mean", [False, True])
def test_si_sdr_against_independent_implementation(rng, zero_mean):
    s = rng.standard_normal((2, 3, 500)) + 0.5
    e = 0.8 * s + rng.standard_normal((2, 3, 500)) * rng.uniform(0.01, 2.0, size=(2, 3, 1)) + 0.2
    ours = metrics.si_sdr(s, e, zero_mean=zero_mean)
    assert ours.shape == (2, 3) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, _independent_si_sdr(s, e, zero_mean), rtol=1e-12, atol=DB_ATOL)


def test_snr_against_independent_implementation(rng):
    s = rng.standard_normal((4, 2, 300))
    e = s + rng.standard_normal((4, 2, 300)) * rng.uniform(0.01, 3.0, size=(4, 2, 1))
    ours = metrics.snr(s, e)
    assert ours.shape == (4, 2) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, _independent_snr(s, e), rtol=1e-12, atol=DB_ATOL)


def test_zero_mean_removes_offsets(rng):
    s = rng.standard_normal(1000)
    e = s + 0.1 * rng.standard_normal(1000)
    base = metrics.si_sdr(s, e, zero_mean=True)
    np.testing.assert_allclose(metrics.si_sdr(s + 5.0, e - 3.0, zero_mean=True), base, atol=DB_ATOL)
    # without zero_mean the offsets matter
    assert abs(metrics.si_sdr(s + 5.0, e - 3.0) - base) > 1.0


def test_batching_equals_loop(rng):
    s = rng.standard_normal((3, 2, 256))
    e = s + rng.standard_normal((3, 2, 256))
    batched_snr = metrics.snr(s, e)
    batched_sdr = metrics.si_sdr(s, e)
    assert batched_snr.shape == batched_sdr.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert batched_snr[i, j] == pytest.approx(metrics.snr(s[i, j], e[i, j]), abs=DB_ATOL)
            assert batched_sdr[i, j] == pytest.approx(metrics.si_sdr(s[i, j], e[i, j]), abs=DB_ATOL)
    # 1-d input gives a 0-d result
    assert np.ndim(metrics.snr(s[0, 0], e[0, 0])) == 0


def test_broadcasting(rng):
    s = rng.standard_normal((1, 256))           # one reference
    e = s + rng.standard_normal((4, 256))       # four estimates of it
    out = metrics.si_sdr(s, e)
    assert out.shape == (4,)
    np.testing.assert_allclose(out, [metrics.si_sdr(s[0], e[i]) for i in range(4)], atol=DB_ATOL)
    refs = rng.standard_normal((3, 1, 128))
    ests = rng.standard_normal((1, 5, 128))
    assert metrics.snr(refs, ests).shape == (3, 5)
    np.testing.assert_allclose(metrics.snr(refs, ests), _independent_snr(refs, ests), rtol=1e-12)


def test_float32_inputs(rng):
    s = rng.standard_normal((2, 500))
    e = s + 0.1 * rng.standard_normal((2, 500))
    out32 = metrics.si_sdr(s.astype(np.float32), e.astype(np.float32))
    assert out32.dtype == np.float64
    # float32 inputs carry ~1e-7 relative rounding: at ~20 dB the error of the ratio is ~1e-5 dB.
    np.testing.assert_allclose(out32, metrics.si_sdr(s, e), atol=1e-4)


def test_silent_reference_is_finite(rng):
    e = rng.standard_normal(64)
    assert np.isfinite(metrics.si_sdr(np.zeros(64), e))
    assert np.isfinite(metrics.snr(np.zeros(64), e))
    assert np.isfinite(metrics.si_sdr(np.zeros(64), np.zeros(64)))


@requires_torch
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(16, 200), st.floats(1e-3, 1e3), st.booleans())
def test_si_sdr_property_matches_oracle(seed, n, gain, zero_mean):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal(n)
    e = gain * (s + rng.uniform(0.01, 1) * rng.standard_normal(n))
    ours = metrics.si_sdr(s, e, zero_mean=zero_mean)
    np.testing.assert_allclose(ours, _independent_si_sdr(s, e, zero_mean), rtol=1e-9, atol=1e-8)
    # (n >= 16 with noise of at least 1% keeps the estimate away from an exact, degenerate copy)
    # SI-SDR is invariant to the gain of the estimate
    np.testing.assert_allclose(metrics.si_sdr(s, 3.0 * e, zero_mean=zero_mean), ours, rtol=1e-9, atol=1e-8)
