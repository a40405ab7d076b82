"""Backends agree with the reference where the arithmetic is delicate: huge window values in
float32 (Note [scaled synthesis] in specsep/_plan.py) and phase retrieval on tiny configurations
whose bins vanish in exact arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

import specsep

from conftest import RTOL, assert_close, assert_same_bits


@pytest.mark.parametrize("scale", [2.0 ** 40, 1e19, 2.0 ** 70])
def test_istft_with_huge_window_values_is_finite(backend, scale):
    """float32 window values of 1e19 square past float32's range: the inverse must not overflow."""
    x = np.random.default_rng(0).standard_normal(2000).astype(np.float32)
    window = (scale * specsep.get_window("hann", 256)).astype(np.float32)
    kw = dict(n_fft=256, hop_length=64, window=window)
    X = specsep.stft(x, **kw, backend="numpy")
    y = specsep.istft(X, **kw, length=x.size, backend=backend)
    assert np.isfinite(y).all()
    assert_close(y, specsep.istft(X, **kw, length=x.size, backend="numpy"), RTOL[np.dtype(np.float32)])
    assert_close(y, x, RTOL[np.dtype(np.float32)])


@pytest.mark.parametrize("center", [True, False])
def test_istft_is_invariant_under_power_of_two_window_scaling(backend, dtype, center):
    """Scaling the window and the spectrogram by 2**60 changes no bit of the inverse."""
    x = np.random.default_rng(1).standard_normal(1500).astype(dtype)
    window = specsep.get_window("hamming", 200).astype(dtype)
    kw = dict(n_fft=256, hop_length=50, win_length=200, center=center)
    X = specsep.stft(x, window=window, **kw, backend="numpy")
    big = np.ldexp(np.ones((), dtype), 60)
    assert_same_bits(specsep.istft(X * big, window=window * big, **kw, backend=backend),
                     specsep.istft(X, window=window, **kw, backend=backend), "istft of the scaled window")


@pytest.mark.parametrize("n_fft", [4, 6, 8, 12, 256, 1000])
def test_dc_and_nyquist_bins_are_real(backend, dtype, n_fft):
    """A real frame's DC and Nyquist bins are real: an imaginary part of rounding noise turns the
    phase c / |c| of a vanishing bin by up to a quarter turn."""
    x = np.random.default_rng(n_fft).standard_normal((2, 3000)).astype(dtype)
    X = specsep.stft(x, n_fft=n_fft, hop_length=n_fft // 4 + 1, backend=backend)
    assert not X[..., 0, :].imag.any()
    assert not X[..., n_fft // 2, :].imag.any()
