"""Odd but valid input on every host backend (numpy, cpu, cuda-emu): non-finite samples and frames,
empty leading batch axes, size-1 everything, and a 30-minute stereo track.

The non-finite rule (README, "Errors"): a transform passes NaN and Inf through without checking,
and they reach exactly the outputs that read them, never a neighbour.

- ``stft``: a non-finite sample makes *every bin* of *every frame whose n_fft-sample span holds it*
  non-finite, whatever the window's value at that sample: the frame is multiplied by the window
  (``NaN * 0`` is NaN, ``Inf * 0`` is NaN in IEEE arithmetic), and every bin of a DFT sums every
  sample. With ``center=True`` the padded copies count too (``reflect`` mirrors sample ``s`` to
  ``-s``, ``edge`` repeats the end samples), so a frame that reads a mirror image is hit as well.
  Every backend gives the reference's pattern exactly.
- ``istft``: a frame whose bins are all non-finite makes exactly the output samples its n_fft-sample
  span covers non-finite (every backend equals the reference). A frame with only some non-finite
  bins spreads into a subset of that span which depends on the FFT algorithm (numpy's pocketfft
  leaves 2 of the 128 samples of a 128-point frame finite, the C++ and CUDA FFTs none), so only
  "inside the span and not empty" is required there. The imaginary parts of the DC bin and (even
  n_fft) of the Nyquist bin are ignored, as ``numpy.fft.irfft`` ignores them, so non-finite values
  there do not propagate.
- ``separate`` is stft, mask, istft: a non-finite sample reaches the union of the spans of the frames
  that read it.

Griffin-Lim and MISI refuse non-finite input instead (it would spread through every iteration); the
error catalogue has those rows.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import specsep
from conftest import RTOL, assert_close

COMPLEX = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}


def signal(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def run(function, *args, backend, **kwargs):
    """``function(..., backend=backend)``; NumPy's own floating-point warnings are the reference's
    business (``Inf * 0`` in its window multiply warns 'invalid value'), the C++ kernels do not warn."""
    if backend == "numpy":
        with np.errstate(invalid="ignore", over="ignore"):
            return function(*args, **kwargs, backend=backend)
    return function(*args, **kwargs, backend=backend)


# =============================================================================================
# Non-finite values


def _padded_to_original(n, n_fft, center, pad_mode):
    """For each index of the (conceptually) padded signal, the original sample it holds, or -1."""
    pad = n_fft // 2 if center else 0
    index = np.arange(-pad, n + pad)
    if pad_mode == "constant":
        return np.where((index >= 0) & (index < n), index, -1)
    if pad_mode == "edge":
        return np.clip(index, 0, n - 1)
    # reflect without repeating the edge: -k -> k, n - 1 + k -> n - 1 - k
    period = 2 * (n - 1)
    folded = np.mod(index, period)
    return np.where(folded < n, folded, period - folded)


def frames_reading(sample, n, n_fft, hop, center=True, pad_mode="constant"):
    """Frames whose n_fft-sample span holds ``sample`` (or a padded copy of it): an index oracle
    independent of the library's framing code."""
    source = _padded_to_original(n, n_fft, center, pad_mode)
    n_frames = 1 + (len(source) - n_fft) // hop
    return [t for t in range(n_frames) if sample in source[t * hop: t * hop + n_fft]]


STFT_GEOMETRIES = [
    dict(n_fft=64, hop_length=16),
    dict(n_fft=64, hop_length=16, pad_mode="reflect"),
    dict(n_fft=64, hop_length=16, pad_mode="edge"),
    dict(n_fft=64, hop_length=16, center=False),
    dict(n_fft=63, hop_length=20, win_length=40, window="blackman"),  # zero-padded window, odd n_fft
    dict(n_fft=32, hop_length=32, window="rectangular"),               # frames do not overlap
]
N = 600


def _sample_positions(kw):
    hop, n_fft = kw["hop_length"], kw["n_fft"]
    # the ends, a frame start (hann's zero: periodic windows start at 0) and ordinary samples
    zero_of_window = 10 * hop - (n_fft // 2 if kw.get("center", True) else 0)
    return [0, 1, 2, zero_of_window, 301, N - 2, N - 1]


@pytest.mark.parametrize("kw", STFT_GEOMETRIES, ids=lambda kw: "-".join(map(str, kw.values())))
def test_stft_non_finite_sample_reaches_exactly_the_frames_that_read_it(backend, dtype, kw):
    n_fft, hop = kw["n_fft"], kw["hop_length"]
    for sample in _sample_positions(kw):
        for bad in (np.nan, np.inf, -np.inf):
            x = signal((3, N), seed=sample, dtype=dtype)
            x[1, sample] = bad
            ours = run(specsep.stft, x, **kw, backend=backend)
            reference = run(specsep.stft, x, **kw, backend="numpy")
            touched = ~np.isfinite(reference)
            what = f"sample {sample} = {bad}"
            np.testing.assert_array_equal(~np.isfinite(ours), touched, err_msg=what)
            # (empty for the last samples of an uncentred signal that no frame reaches)
            expected = frames_reading(sample, N, n_fft, hop, kw.get("center", True), kw.get("pad_mode", "constant"))
            # all bins of exactly those frames, in item 1 only
            assert touched[1][:, expected].all(), what
            assert np.flatnonzero(touched[1].any(axis=0)).tolist() == expected, what
            assert not touched[0].any() and not touched[2].any(), what
            # and the finite part is the right answer
            assert_close(ours[~touched], reference[~touched], RTOL[dtype])


def _span(t, n_fft, hop, center, length):
    """Output samples frame ``t`` of an inverse STFT covers."""
    start = t * hop - (n_fft // 2 if center else 0)
    return list(range(max(start, 0), min(start + n_fft, length)))


ISTFT_GEOMETRIES = [
    dict(n_fft=64, hop_length=16),
    dict(n_fft=64, hop_length=16, center=False),
    dict(n_fft=63, hop_length=20, win_length=40, window="blackman"),
    dict(n_fft=32, hop_length=32, window="rectangular"),
]


@pytest.mark.parametrize("kw", ISTFT_GEOMETRIES, ids=lambda kw: "-".join(map(str, kw.values())))
def test_istft_non_finite_frame_reaches_exactly_the_samples_it_covers(backend, dtype, kw):
    n_fft, hop, center = kw["n_fft"], kw["hop_length"], kw.get("center", True)
    F, T = n_fft // 2 + 1, 30
    rng = np.random.default_rng(n_fft)
    for t in (0, 1, 14, T - 1):
        for bad in (np.nan, np.inf, complex(np.inf, -np.inf)):
            X = (rng.standard_normal((3, F, T)) + 1j * rng.standard_normal((3, F, T))).astype(COMPLEX[dtype])
            X[1, :, t] = bad
            for length in (None, T * hop + n_fft):  # the default, and one past the last frame
                ours = run(specsep.istft, X, **kw, length=length, backend=backend)
                reference = run(specsep.istft, X, **kw, length=length, backend="numpy")
                touched = ~np.isfinite(reference)
                what = f"frame {t} = {bad}, length {length}"
                np.testing.assert_array_equal(~np.isfinite(ours), touched, err_msg=what)
                assert np.flatnonzero(touched[1]).tolist() == _span(t, n_fft, hop, center, reference.shape[-1]), what
                assert not touched[0].any() and not touched[2].any(), what
                assert_close(ours[~touched], reference[~touched], RTOL[dtype])


def test_istft_one_non_finite_bin_stays_inside_its_frame(backend, dtype):
    n_fft, hop, F, T = 64, 16, 33, 30
    rng = np.random.default_rng(5)
    for t in (0, 14, T - 1):
        for k, bad in ((1, np.nan), (7, np.inf), (16, complex(0.5, np.nan)), (31, complex(-np.inf, 0.0))):
            X = (rng.standard_normal((2, F, T)) + 1j * rng.standard_normal((2, F, T))).astype(COMPLEX[dtype])
            X[0, k, t] = bad
            ours = run(specsep.istft, X, n_fft=n_fft, hop_length=hop, backend=backend)
            touched = np.flatnonzero(~np.isfinite(ours[0])).tolist()
            span = _span(t, n_fft, hop, True, ours.shape[-1])
            assert touched and set(touched) <= set(span), (t, k, bad, touched)
            assert np.isfinite(ours[1]).all()


@pytest.mark.parametrize("n_fft", [64, 63])
def test_istft_ignores_imaginary_parts_of_dc_and_nyquist(backend, dtype, n_fft):
    """As numpy.fft.irfft: a real signal's DC (and even-n Nyquist) bin is real, its imaginary part is
    not read, so NaN there changes nothing."""
    X = specsep.stft(signal((2, 300), seed=n_fft, dtype=dtype), n_fft=n_fft, hop_length=16, backend="numpy")
    clean = run(specsep.istft, X, n_fft=n_fft, hop_length=16, backend=backend)
    dirty = X.copy()
    dirty.imag[0, 0, :] = np.nan  # (x + 1j * nan would be nan + nanj: 1j * nan has a NaN real part)
    if n_fft % 2 == 0:
        dirty.imag[1, -1, :] = np.inf
    np.testing.assert_array_equal(run(specsep.istft, dirty, n_fft=n_fft, hop_length=16, backend=backend), clean)
    if n_fft % 2:  # odd n_fft: the last bin is an ordinary one, its imaginary part counts
        dirty.imag[1, -1, 3] = np.nan
        y = run(specsep.istft, dirty, n_fft=n_fft, hop_length=16, backend=backend)
        assert not np.isfinite(y[1]).all() and np.isfinite(y[0]).all()


def test_separate_non_finite_sample_reaches_the_spans_of_its_frames(backend, dtype):
    n_fft, hop, n = 64, 16, 500
    masks = np.random.default_rng(3).random((2, 2, 33, 1 + n // hop)).astype(dtype)
    masks[..., ::7] = 0.0  # a zero mask does not stop NaN: 0 * NaN is NaN
    for sample in (0, 250, n - 1):
        x = signal((2, n), seed=sample, dtype=dtype)
        x[0, sample] = np.nan
        ours = run(specsep.separate, x, masks, n_fft=n_fft, hop_length=hop, backend=backend)
        reference = run(specsep.separate, x, masks, n_fft=n_fft, hop_length=hop, backend="numpy")
        touched = ~np.isfinite(reference)
        np.testing.assert_array_equal(~np.isfinite(ours), touched)
        expected = sorted({s for t in frames_reading(sample, n, n_fft, hop) for s in _span(t, n_fft, hop, True, n)})
        for j in range(2):
            assert np.flatnonzero(touched[0, j]).tolist() == expected, (sample, j)
        assert not touched[1].any()
        assert_close(ours[~touched], reference[~touched], RTOL[dtype])


# =============================================================================================
# Empty leading batch axes and size-1 everything


@pytest.mark.parametrize("batch", [(0,), (2, 0), (0, 3)], ids=str)
def test_empty_leading_batch_axes(backend, dtype, batch):
    kw = dict(n_fft=64, hop_length=16)
    n, F, T = 500, 33, 32
    x = np.zeros(batch + (n,), dtype=dtype)
    X = run(specsep.stft, x, **kw, backend=backend)
    assert X.shape == batch + (F, T) and X.dtype == COMPLEX[dtype]
    y = run(specsep.istft, X, **kw, backend=backend)
    assert y.shape == batch + (496,) and y.dtype == dtype
    assert run(specsep.istft, X, **kw, length=7, backend=backend).shape == batch + (7,)
    M = np.zeros(batch + (2, F, T), dtype=dtype)
    assert run(specsep.apply_mask, X, M, backend=backend).shape == batch + (2, F, T)
    separated = run(specsep.separate, x, M, **kw, backend=backend)
    assert separated.shape == batch + (2, n) and separated.dtype == dtype
    assert run(specsep.separate, x, M[..., 0, :, :], **kw, backend=backend).shape == batch + (n,)
    y, history = run(specsep.griffin_lim, np.abs(X), n_iter=2, **kw, return_history=True, backend=backend)
    assert y.shape == batch + (496,) and y.dtype == dtype
    assert history.shape[:-1] == batch and history.dtype == np.float64
    sources, history = run(specsep.misi, x, M, n_iter=2, **kw, return_history=True, backend=backend)
    assert sources.shape == batch + (2, n) and sources.dtype == dtype
    assert history.shape[:-1] == batch


def _matches_reference(function, *args, backend, dtype, **kwargs):
    ours = run(function, *args, **kwargs, backend=backend)
    reference = run(function, *args, **kwargs, backend="numpy")
    pairs = zip(ours, reference) if isinstance(ours, tuple) else [(ours, reference)]
    for a, b in pairs:
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        assert_close(a, b, RTOL[dtype])
    return ours


def test_size_one_everything(backend, dtype):
    """One item, one sample, one frame, one source, one iteration, the smallest FFT."""
    one = np.array([[0.75]], dtype=dtype)  # (batch 1, 1 sample)
    kw = dict(n_fft=2, hop_length=1)
    X = _matches_reference(specsep.stft, one, **kw, backend=backend, dtype=dtype)
    assert X.shape == (1, 2, 2)
    y = _matches_reference(specsep.istft, X, **kw, length=1, backend=backend, dtype=dtype)
    assert y.shape == (1, 1)
    # a one-frame spectrogram (T = 1) of a one-sample signal, centred (odd n_fft: 1 + 2 * 7 = 15 samples)
    X1 = _matches_reference(specsep.stft, one, n_fft=15, hop_length=1, pad_mode="reflect", backend=backend,
                            dtype=dtype)
    assert X1.shape == (1, 8, 1)
    y1 = _matches_reference(specsep.istft, X1, n_fft=15, hop_length=1, length=1, backend=backend, dtype=dtype)
    assert_close(y1, one, 10 * RTOL[dtype])
    # one frame without centring: a signal exactly n_fft long, hop = win_length, rectangular
    x8 = signal((1, 8), seed=1, dtype=dtype)
    rect = dict(n_fft=8, hop_length=8, window="rectangular", center=False)
    X8 = _matches_reference(specsep.stft, x8, **rect, backend=backend, dtype=dtype)
    assert X8.shape == (1, 5, 1)
    assert_close(_matches_reference(specsep.istft, X8, **rect, backend=backend, dtype=dtype), x8, 10 * RTOL[dtype])
    # one source (J = 1), one mask, one iteration
    M = np.full((1, 1) + X.shape[-2:], 0.5, dtype=dtype)
    _matches_reference(specsep.separate, one, M, **kw, backend=backend, dtype=dtype)
    _matches_reference(specsep.apply_mask, X, M, backend=backend, dtype=dtype)
    S = np.abs(X8)
    _matches_reference(specsep.griffin_lim, S, n_iter=1, **{k: v for k, v in rect.items()}, init="zeros",
                       length=8, backend=backend, dtype=dtype)
    sources = _matches_reference(specsep.misi, x8, S[:, None], n_iter=1, **rect, backend=backend, dtype=dtype)
    assert sources.shape == (1, 1, 8)
    assert_close(sources[:, 0], x8, 10 * RTOL[dtype])  # one source is the mixture


# =============================================================================================
# A 30-minute stereo track (float32, 44.1 kHz) on the cpu backend


@pytest.mark.slow
def test_thirty_minute_stereo_round_trip_on_cpu():
    """159 M samples: offsets past 2^31 bytes in the 2.5 GB spectrogram, 155 k frames per channel.
    The frames are checked directly (window times samples, numpy.fft.rfft) at the start, the middle
    and the end of both channels, and the round trip everywhere. ~8 s and ~4 GB on a 2-core machine."""
    if "cpu" not in specsep.available_backends():
        pytest.skip("cpu backend not built")
    sr, n_fft, hop = 44100, 2048, 512
    n = 30 * 60 * sr
    # a random block of 65537 samples (prime: no alignment with hop or n_fft) tiled, each channel
    # with its own block: cheap to make, and a wrong frame offset reads different values
    rng = np.random.default_rng(30)
    block = rng.standard_normal((2, 65537)).astype(np.float32)
    x = np.empty((2, n), dtype=np.float32)
    for start in range(0, n, block.shape[1]):
        x[:, start:start + block.shape[1]] = block[:, : n - start]
    began = time.perf_counter()
    X = specsep.stft(x, n_fft=n_fft, hop_length=hop, backend="cpu")
    T = 1 + n // hop
    assert X.shape == (2, n_fft // 2 + 1, T) and X.dtype == np.complex64
    assert X.nbytes > 2 ** 31
    window = specsep.get_window("hann", n_fft).astype(np.float64)
    padded = lambda c, a, b: np.concatenate([np.zeros(max(0, -a)), x[c, max(a, 0):min(b, n)].astype(np.float64),
                                             np.zeros(max(0, b - n))])
    for c in (0, 1):
        for t in (0, 1, T // 2, T - 2, T - 1):
            a = t * hop - n_fft // 2
            expected = np.fft.rfft(window * padded(c, a, a + n_fft))
            assert_close(X[c, :, t], expected, 1e-5)
    y = specsep.istft(X, n_fft=n_fft, hop_length=hop, length=n, backend="cpu")
    elapsed = time.perf_counter() - began
    del X
    assert y.shape == x.shape and y.dtype == np.float32
    for start in range(0, n, 1 << 24):  # chunked: no 635 MB temporaries
        a, b = x[:, start:start + (1 << 24)], y[:, start:start + (1 << 24)]
        assert float(np.max(np.abs(a - b))) < 2e-5, start  # measured 1.4e-6 on values up to ~5
    print(f"30-minute stereo stft + istft on cpu: {elapsed:.1f} s")
