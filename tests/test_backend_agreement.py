"""Backends agree with the reference where the arithmetic is delicate: huge window values in
float32 (Note [scaled synthesis] in specsep/_plan.py) and phase retrieval on tiny configurations
whose bins vanish in exact arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

import specsep

from conftest import BACKENDS, RTOL, assert_close, assert_same_bits


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


# ---- phase retrieval where bins vanish in exact arithmetic (Note [vanishing bins]) ---------------
# The reference is the definition: every other backend is compared with it.
OTHER_BACKENDS = [param for param in BACKENDS if param.values[0] != "numpy"]


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_griffin_lim_on_tiny_frames_matches_reference(backend, dtype):
    """n_fft 4, hop 3, edge padding: the frames at the edges are constant or symmetric, so bins
    vanish; their rounding noise used to steer the phase differently on each backend (1-6 %)."""
    rng = np.random.default_rng(10)
    for trial in range(30):
        x = rng.standard_normal(int(rng.integers(4, 20))).astype(dtype)
        kw = dict(n_fft=4, hop_length=3, pad_mode="edge", n_iter=2, init="random", rng=trial)
        S = np.abs(specsep.stft(x, n_fft=4, hop_length=3, pad_mode="edge", backend="numpy"))
        assert_close(specsep.griffin_lim(S, **kw, backend=backend), specsep.griffin_lim(S, **kw, backend="numpy"),
                     RTOL[dtype])


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "edge"])
def test_misi_of_short_mixtures_matches_reference(backend, dtype, pad_mode):
    """1-sample mixtures zero-padded to a longer length: a source whose estimate cancels to rounding
    noise carries the noise of the whole item, whose scale sets the floor of every source."""
    rng = np.random.default_rng(11)
    for n_fft, hop in [(4, 1), (4, 3), (6, 2), (8, 3)]:
        for length in (1, 2, 5):
            sources = np.zeros((2, length), dtype=dtype)
            sources[:, 0] = rng.standard_normal(2)
            kw = dict(n_fft=n_fft, hop_length=hop, pad_mode=pad_mode, n_iter=3, length=length)
            S = np.abs(specsep.stft(sources, **{k: kw[k] for k in ("n_fft", "hop_length", "pad_mode")},
                                    backend="numpy"))
            mixture = sources.sum(0)[:1]
            assert_close(specsep.misi(mixture, S, **kw, backend=backend),
                         specsep.misi(mixture, S, **kw, backend="numpy"), RTOL[dtype])
