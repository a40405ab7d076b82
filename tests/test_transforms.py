"""STFT / iSTFT: the reference against independent oracles, and every backend against the reference.

Oracles (float64, relative L2 error <= ORACLE_RTOL): librosa, torch, and a direct O(N^2) DFT of
frames cut by hand. Backends (the ``backend`` fixture) are compared with the float64 reference under
the per-dtype RTOL table.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.signal

import specsep
from conftest import ORACLE_RTOL, RTOL, assert_close, requires_torch

WINDOW_NAMES = ("hann", "sqrt_hann", "hamming", "blackman", "triangle", "rectangular")
SCIPY_NAME = {"hann": "hann", "hamming": "hamming", "blackman": "blackman",
              "triangle": "triang", "rectangular": "boxcar"}
# Round trip including samples where the window-sum-square is ~1e-11 of its peak (window tails):
# rounding is amplified by up to 1 / sqrt(1e-11) there, on a handful of samples.
TAIL_RTOL = 1e-10
TORCH_PAD = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}

# (n_fft, win_length, hop_length): even and odd sizes, win_length < n_fft (even and odd
# differences), hop from 1 to win_length.
GEOMETRIES = [
    (512, None, 128),
    (511, None, 100),
    (256, 200, 50),
    (255, 101, 101),
    (64, 63, 1),
    (16, 16, 5),
]


def scipy_window(name: str, n: int) -> np.ndarray:
    if name == "sqrt_hann":
        return np.sqrt(scipy.signal.get_window("hann", n, fftbins=True))
    return scipy.signal.get_window(SCIPY_NAME[name], n, fftbins=True)


def librosa_window(name: str, n: int):
    """What librosa takes: a scipy window name, or the values for sqrt_hann."""
    return scipy_window(name, n) if name == "sqrt_hann" else SCIPY_NAME[name]


def signal(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def random_spectrogram(shape, seed=0, dtype=np.complex128):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


# ---------------------------------------------------------------------------------------------
# librosa


def _librosa_cases():
    for name in WINDOW_NAMES:
        for geometry in GEOMETRIES:
            for center, pad_mode in [(True, "constant"), (True, "reflect"), (True, "edge"), (False, "constant")]:
                yield pytest.param(name, *geometry, center, pad_mode,
                                   id=f"{name}-{geometry[0]}-{geometry[1]}-{geometry[2]}-{center}-{pad_mode}")


@pytest.mark.parametrize("name, n_fft, win_length, hop, center, pad_mode", list(_librosa_cases()))
def test_stft_equals_librosa(name, n_fft, win_length, hop, center, pad_mode):
    x = signal(1500 + hop, seed=n_fft)
    X = specsep.stft(x, n_fft=n_fft, hop_length=hop, win_length=win_length, window=name,
                     center=center, pad_mode=pad_mode, backend="numpy")
    expected = librosa.stft(x, n_fft=n_fft, hop_length=hop, win_length=win_length,
                            window=librosa_window(name, win_length or n_fft), center=center,
                            pad_mode=pad_mode)
    assert X.dtype == np.complex128
    assert_close(X, expected, ORACLE_RTOL)


def _invertible_cases():
    for name in WINDOW_NAMES:
        for n_fft, win_length, hop in GEOMETRIES:
            if specsep.check_nola(name, hop, win_length=win_length or n_fft):  # else see test_nola_error_*
                for center in (True, False):
                    yield pytest.param(name, n_fft, win_length, hop, center,
                                       id=f"{name}-{n_fft}-{win_length}-{hop}-{center}")


@pytest.mark.parametrize("name, n_fft, win_length, hop, center", list(_invertible_cases()))
def test_istft_equals_librosa(name, n_fft, win_length, hop, center):
    # an arbitrary spectrogram, not the STFT of anything: tests the least-squares formula itself
    X = random_spectrogram((n_fft // 2 + 1, 17), seed=hop)
    # librosa gets specsep's window values (test_windows checks them against scipy): the iSTFT
    # divides by the window-sum-square, which in the tails of e.g. blackman is ~1e-10, so a 1-ulp
    # difference in a window value there would be amplified far beyond ORACLE_RTOL.
    window = specsep.get_window(name, win_length or n_fft)
    y = specsep.istft(X, n_fft=n_fft, hop_length=hop, win_length=win_length, window=name,
                      center=center, backend="numpy")
    expected = librosa.istft(X, n_fft=n_fft, hop_length=hop, win_length=win_length,
                             window=window, center=center)
    assert y.dtype == np.float64
    assert_close(y, expected, ORACLE_RTOL)
    for length in (1, 2 * n_fft, y.shape[-1] + 3 * hop + 1):
        y_length = specsep.istft(X, n_fft=n_fft, hop_length=hop, win_length=win_length, window=name,
                                 center=center, length=length, backend="numpy")
        expected = librosa.istft(X, n_fft=n_fft, hop_length=hop, win_length=win_length,
                                 window=window, center=center, length=length)
        assert_close(y_length, expected, ORACLE_RTOL)


@pytest.mark.parametrize("batch", [(), (3,), (2, 3), (1, 2, 1)], ids=str)
def test_batched_transforms_equal_librosa(batch):
    x = signal(batch + (3001,), seed=len(batch))
    X = specsep.stft(x, n_fft=256, hop_length=64, pad_mode="reflect", backend="numpy")
    expected = librosa.stft(x, n_fft=256, hop_length=64, pad_mode="reflect")
    assert X.shape == batch + (129, 1 + 3001 // 64)
    assert_close(X, expected, ORACLE_RTOL)
    y = specsep.istft(X, hop_length=64, length=3001, backend="numpy")
    assert y.shape == batch + (3001,)
    assert_close(y, librosa.istft(expected, hop_length=64, length=3001), ORACLE_RTOL)
    # each batch item is its own transform
    for index in np.ndindex(*batch):
        single = specsep.stft(x[index], n_fft=256, hop_length=64, pad_mode="reflect", backend="numpy")
        np.testing.assert_allclose(X[index], single, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# torch


@requires_torch
@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize("pad_mode", ["reflect", "constant", "edge"])
@pytest.mark.parametrize("n_fft, win_length, hop", [(512, None, 128), (511, 300, 75), (64, 64, 16)])
@pytest.mark.parametrize("name", ["hann", "sqrt_hann", "blackman", "triangle"])
def test_stft_istft_equal_torch(name, n_fft, win_length, hop, pad_mode, normalized):
    import torch

    x = signal((2, 2000), seed=hop)
    window = scipy_window(name, win_length or n_fft)
    X = specsep.stft(x, n_fft=n_fft, hop_length=hop, win_length=win_length, window=name,
                     pad_mode=pad_mode, normalized=normalized, backend="numpy")
    expected = torch.stft(torch.from_numpy(x), n_fft, hop_length=hop, win_length=win_length,
                          window=torch.from_numpy(window), center=True, pad_mode=TORCH_PAD[pad_mode],
                          normalized=normalized, onesided=True, return_complex=True).numpy()
    assert_close(X, expected, ORACLE_RTOL)

    Y = random_spectrogram(X.shape, seed=n_fft)
    Y[..., 0, :] = Y[..., 0, :].real  # torch's C2R and NumPy's irfft both drop these imaginary parts;
    if n_fft % 2 == 0:                  # keep the test about the iSTFT, not about that convention
        Y[..., -1, :] = Y[..., -1, :].real
    y = specsep.istft(Y, n_fft=n_fft, hop_length=hop, win_length=win_length, window=name,
                      normalized=normalized, length=2000, backend="numpy")
    expected = torch.istft(torch.from_numpy(Y), n_fft, hop_length=hop, win_length=win_length,
                           window=torch.from_numpy(window), center=True, normalized=normalized,
                           onesided=True, length=2000).numpy()
    assert_close(y, expected, ORACLE_RTOL)


# ---------------------------------------------------------------------------------------------
# direct DFT of frames cut by hand


def padded_by_hand(x: np.ndarray, pad: int, mode: str) -> np.ndarray:
    n = x.shape[-1]
    index = np.arange(-pad, n + pad)
    if mode == "constant":
        out = np.zeros(x.shape[:-1] + (n + 2 * pad,))
        out[..., pad:pad + n] = x
        return out
    if mode == "edge":
        return x[..., np.clip(index, 0, n - 1)]
    assert pad < n, "one reflection only"
    index = np.abs(index)
    index = np.where(index > n - 1, 2 * (n - 1) - index, index)
    return x[..., index]


def direct_stft(x, n_fft, hop, window, center, pad_mode, normalized=False):
    win_length = window.shape[0]
    full = np.zeros(n_fft)
    offset = (n_fft - win_length) // 2
    full[offset:offset + win_length] = window
    if center:
        x = padded_by_hand(x, n_fft // 2, pad_mode)
    n_frames = 1 + (x.shape[-1] - n_fft) // hop
    n = np.arange(n_fft)
    f = np.arange(n_fft // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(f, n) / n_fft)  # (F, n_fft)
    out = np.empty(x.shape[:-1] + (n_fft // 2 + 1, n_frames), dtype=np.complex128)
    for t in range(n_frames):
        frame = x[..., t * hop:t * hop + n_fft] * full
        out[..., :, t] = frame @ dft.T
    return out * (n_fft ** -0.5 if normalized else 1.0)


@pytest.mark.parametrize("center, pad_mode", [(True, "constant"), (True, "reflect"), (True, "edge"),
                                              (False, "constant")])
@pytest.mark.parametrize("n_fft, win_length, hop", [(2, 2, 1), (3, 3, 2), (8, 5, 3), (15, 15, 4), (16, 9, 9), (33, 20, 7)])
@pytest.mark.parametrize("name", WINDOW_NAMES)
def test_stft_equals_direct_dft(name, n_fft, win_length, hop, center, pad_mode):
    x = signal((2, 97), seed=n_fft)
    X = specsep.stft(x, n_fft=n_fft, hop_length=hop, win_length=win_length, window=name,
                     center=center, pad_mode=pad_mode, backend="numpy")
    expected = direct_stft(x, n_fft, hop, scipy_window(name, win_length), center, pad_mode)
    assert X.shape == expected.shape
    assert_close(X, expected, ORACLE_RTOL)


def test_stft_with_array_window_and_normalized_equals_direct_dft():
    window = np.random.default_rng(3).random(20)
    x = signal(300, seed=3)
    X = specsep.stft(x, n_fft=24, hop_length=6, window=window, win_length=20, normalized=True,
                     pad_mode="reflect", backend="numpy")
    assert_close(X, direct_stft(x, 24, 6, window, True, "reflect", normalized=True), ORACLE_RTOL)


# ---------------------------------------------------------------------------------------------
# every backend against the reference


BACKEND_CASES = [
    dict(n_fft=512, hop_length=128),
    dict(n_fft=511, hop_length=100, win_length=400, window="blackman", pad_mode="reflect"),
    dict(n_fft=256, hop_length=64, window="sqrt_hann", center=False),
    dict(n_fft=64, hop_length=1, window="triangle", pad_mode="edge", normalized=True),
    dict(n_fft=30, hop_length=30, window="rectangular", center=False),
    dict(n_fft=2, hop_length=1, window="hamming"),
]


@pytest.mark.parametrize("case", BACKEND_CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_stft_backend_equals_reference(backend, dtype, case):
    x = signal((2, 3, 1000), seed=case["n_fft"], dtype=dtype)
    X = specsep.stft(x, **case, backend=backend)
    reference = specsep.stft(x.astype(np.float64), **case, backend="numpy")
    assert X.dtype == specsep._validate.COMPLEX_OF[dtype]
    assert X.shape == reference.shape == (2, 3, case["n_fft"] // 2 + 1, X.shape[-1])
    # (..., F, T) view of frame-major (..., T, F) memory
    assert X.swapaxes(-1, -2).flags.c_contiguous
    assert_close(X, reference, RTOL[dtype])


@pytest.mark.parametrize("case", BACKEND_CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_istft_backend_equals_reference(backend, dtype, case):
    inverse = {k: v for k, v in case.items() if k != "pad_mode"}
    n_fft = case["n_fft"]
    complex_dtype = specsep._validate.COMPLEX_OF[dtype]
    X = random_spectrogram((3, n_fft // 2 + 1, 20), seed=n_fft, dtype=complex_dtype)
    for length in (None, 7, 5000):
        y = specsep.istft(X, **inverse, length=length, backend=backend)
        reference = specsep.istft(X.astype(np.complex128), **inverse, length=length, backend="numpy")
        assert y.dtype == dtype
        assert y.shape == reference.shape
        assert y.flags.c_contiguous
        assert_close(y, reference, RTOL[dtype])


def test_backend_accepts_non_contiguous_and_big_endian_input(backend, dtype):
    base = signal((4, 2000), seed=9, dtype=dtype)
    strided = base[::2, ::2]
    reference = specsep.stft(np.ascontiguousarray(strided).astype(np.float64), n_fft=128, backend="numpy")
    assert_close(specsep.stft(strided, n_fft=128, backend=backend), reference, RTOL[dtype])
    swapped = strided.astype(strided.dtype.newbyteorder(">"))
    assert_close(specsep.stft(swapped, n_fft=128, backend=backend), reference, RTOL[dtype])


@pytest.mark.parametrize("n_fft, win_length, hop, center", [(64, 32, 40, True), (64, 64, 100, False),
                                                         (63, 63, 64, True)])
def test_stft_with_hops_longer_than_the_window(backend, dtype, n_fft, win_length, hop, center):
    """Analysis frames with gaps between them (librosa's CQT calls its stft so): allowed for the
    STFT, equal to librosa's; the inverse refuses them (NOLA fails)."""
    x = signal((2, 3000), seed=5, dtype=dtype)
    kw = dict(n_fft=n_fft, win_length=win_length, hop_length=hop, center=center)
    reference = specsep.stft(x.astype(np.float64), **kw, backend="numpy")
    theirs = librosa.stft(x.astype(np.float64), **kw, pad_mode="constant")
    assert_close(reference, theirs, ORACLE_RTOL)
    assert_close(specsep.stft(x, **kw, backend=backend), reference, RTOL[dtype])
    with pytest.raises(ValueError, match=rf"with hop_length={hop} violates NOLA"):
        specsep.istft(reference.astype(np.result_type(dtype, np.complex64)), **kw, backend=backend)


def test_spectrograms_with_strides_of_half_an_element(backend, dtype):
    """NumPy allows a complex view that steps by half an element (read-only, overlapping
    elements); the kernels index whole elements, so such input takes a copy first, on every backend."""
    X = specsep.stft(signal((2000,), seed=4, dtype=dtype), n_fft=128)
    complex_dtype = X.dtype
    half = complex_dtype.itemsize // 2
    frames = np.lib.stride_tricks.as_strided(X, shape=(65, 20), strides=(complex_dtype.itemsize * 20, half),
                                             writeable=False)
    masks = np.ones((65, 20), dtype)
    for run, name in ((lambda data: specsep.istft(data, n_fft=128, backend=backend), "istft"),
                      (lambda data: specsep.apply_mask(data, masks, backend=backend), "apply_mask")):
        expected = run(np.ascontiguousarray(frames))
        assert_close(run(frames), expected, RTOL[dtype] if backend != "numpy" else 0.0)


@pytest.mark.parametrize("in_dtype, out_dtype", [(np.float32, np.complex64), (np.float64, np.complex128)])
def test_dtypes_are_preserved(backend, in_dtype, out_dtype):
    x = signal(1000, dtype=in_dtype)
    X = specsep.stft(x, n_fft=128, backend=backend)
    assert X.dtype == out_dtype
    assert specsep.istft(X, backend=backend).dtype == in_dtype


# ---------------------------------------------------------------------------------------------
# lengths and n_fft inference


def test_length_trims_and_zero_pads(backend):
    x = signal((2, 1000), seed=5)
    X = specsep.stft(x, n_fft=128, hop_length=32, backend="numpy")
    full = specsep.istft(X, hop_length=32, backend=backend)
    assert full.shape == (2, 32 * (X.shape[-1] - 1))
    assert_close(full, x[:, :full.shape[-1]], ORACLE_RTOL)
    short = specsep.istft(X, hop_length=32, length=500, backend=backend)
    np.testing.assert_array_equal(short, full[:, :500])
    # longer: the n_fft // 2 samples that centring trims come back first (librosa's convention),
    # here the rest of x and then its zero padding; beyond the last frame, exact zeros
    long = specsep.istft(X, hop_length=32, length=1300, backend=backend)
    np.testing.assert_array_equal(long[:, :full.shape[-1]], full)
    assert_close(long, np.pad(x, [(0, 0), (0, 300)]), ORACLE_RTOL)
    last = 128 + 32 * (X.shape[-1] - 1) - 64  # end of the last frame, in output samples
    assert np.any(long[:, last - 1] != 0) and np.all(long[:, last:] == 0)
    assert_close(long, librosa.istft(X, hop_length=32, length=1300), RTOL[np.dtype(np.float64)])
    assert specsep.istft(X, hop_length=32, length=0, backend=backend).shape == (2, 0)


def test_istft_infers_even_n_fft():
    x = signal(2000)
    X = specsep.stft(x, n_fft=300, hop_length=75, backend="numpy")
    np.testing.assert_array_equal(specsep.istft(X, hop_length=75, backend="numpy"),
                                  specsep.istft(X, n_fft=300, hop_length=75, backend="numpy"))
    y = specsep.istft(X, hop_length=75, length=2000, backend="numpy")
    assert_close(y, x, ORACLE_RTOL)


def test_odd_n_fft_round_trip_needs_n_fft():
    x = signal(2000)
    X = specsep.stft(x, n_fft=301, hop_length=75, backend="numpy")
    assert X.shape[-2] == 151
    assert_close(specsep.istft(X, n_fft=301, hop_length=75, length=2000, backend="numpy"), x, ORACLE_RTOL)


@pytest.mark.parametrize("n_fft", [1024, 511, 100])
def test_istft_mismatched_n_fft_names_the_implied_size(n_fft):
    X = random_spectrogram((257, 10))
    with pytest.raises(ValueError, match=rf"X has 257 frequency bins, which implies n_fft=512 or 513, not n_fft={n_fft}"):
        specsep.istft(X, n_fft=n_fft)


def test_stft_center_false_too_short():
    with pytest.raises(ValueError, match=r"signal of 100 samples is shorter than n_fft=256 with center=False"):
        specsep.stft(np.zeros(100), n_fft=256, center=False)
    # exactly one frame is fine
    assert specsep.stft(np.zeros(256), n_fft=256, center=False, backend="numpy").shape == (129, 1)


# ---------------------------------------------------------------------------------------------
# NOLA


def test_nola_error_names_window_and_hop_and_suggests_one():
    X = random_spectrogram((9, 10))
    with pytest.raises(ValueError, match=r"window='hann' \(win_length=16, n_fft=16\) with hop_length=16 violates NOLA"
                                         r".*hop_length=15 would work"):
        specsep.istft(X, n_fft=16, hop_length=16)
    assert specsep.check_nola("hann", 15, win_length=16)
    # the suggested hop does invert
    assert np.all(np.isfinite(specsep.istft(X, n_fft=16, hop_length=15, backend="numpy")))


def test_nola_error_for_array_window_with_zeros():
    window = np.array([1.0, 1, 0, 0, 1, 1, 0, 0])  # with hop 4 the samples at 2 and 3 (mod 4) are never seen
    x = signal(100)
    X = specsep.stft(x, n_fft=8, hop_length=4, window=window, backend="numpy")  # the forward transform exists
    with pytest.raises(ValueError, match=r"window='the given window' .* hop_length=4 violates NOLA.*hop_length=3 would work"):
        specsep.istft(X, n_fft=8, hop_length=4, window=window)
    X3 = specsep.stft(x, n_fft=8, hop_length=3, window=window, backend="numpy")
    y = specsep.istft(X3, n_fft=8, hop_length=3, window=window, length=100, backend="numpy")
    # NOLA holds in the steady state, but near the ends fewer frames overlap: sample 98 sits at
    # window zeros in both frames that reach it, so the STFT does not depend on it at all
    seen = np.ones(100, dtype=bool)
    seen[98] = False
    assert_close(y[seen], x[seen], ORACLE_RTOL)
    assert y[98] == 0  # left undivided (as librosa does), not NaN


def test_istft_has_no_spike_where_the_window_is_an_exact_zero():
    """Blackman's first point is 0 exactly; computed as 0.42 - 0.5 + 0.08 it is -1.4e-17, whose
    square passes the envelope's `tiny` test, and dividing by it turned rounding into a spike
    (here 22x the signal at sample 23, as librosa still does). Every sample a frame reaches, even
    with a tiny envelope, must come back."""
    x = signal(700, seed=1)
    kwargs = dict(n_fft=257, win_length=211, window="blackman", hop_length=52, center=False)
    X = specsep.stft(x, **kwargs, backend="numpy")
    y = specsep.istft(X, **kwargs, length=700, backend="numpy")
    n_frames = X.shape[-1]
    reached = np.zeros(700, dtype=bool)
    reached[23:(n_frames - 1) * 52 + 23 + 211] = True  # window support of the first to last frame
    reached[23] = reached[(n_frames - 1) * 52 + 23] = False  # blackman's zero at each end
    # envelope down to ~1e-11 at the ends: rounding amplified by up to ~1e5 there
    assert_close(y[reached], x[reached], TAIL_RTOL)
    assert np.all(np.abs(y) <= 1.01 * np.max(np.abs(x)))


def test_nola_error_without_any_working_hop():
    with pytest.raises(ValueError, match=r"violates NOLA: the window-sum-square envelope vanishes, so the inverse STFT does not exist$"):
        specsep.istft(random_spectrogram((5, 4)), n_fft=8, hop_length=2, window=np.zeros(8))


def test_nola_error_through_separate_and_plan():
    with pytest.raises(ValueError, match="violates NOLA"):
        specsep.separate(signal(1000), np.ones((2, 9, 1000 // 16 + 1)), n_fft=16, hop_length=16)
    with pytest.raises(ValueError, match="violates NOLA"):
        specsep.STFT(16, hop_length=16, dtype=np.float64).inverse(random_spectrogram((9, 4)))


# ---------------------------------------------------------------------------------------------
# argument errors of the functions


def test_transform_argument_errors():
    with pytest.raises(TypeError, match="x has dtype int64"):
        specsep.stft(np.zeros(100, dtype=np.int64))
    with pytest.raises(TypeError, match="x must be real"):
        specsep.stft(np.zeros(100, dtype=np.complex128))
    with pytest.raises(ValueError, match=r"x must have at least 1 dimension"):
        specsep.stft(np.float64(1.0))
    with pytest.raises(TypeError, match="X must be a complex spectrogram"):
        specsep.istft(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"X must have at least 2 dimensions"):
        specsep.istft(np.zeros(5, dtype=np.complex128))
    with pytest.raises(ValueError, match="at least one frame"):
        specsep.istft(np.zeros((5, 0), dtype=np.complex128), hop_length=2)
    with pytest.raises(ValueError, match=r"length=-1 must be >= 0"):
        specsep.istft(random_spectrogram((5, 4)), hop_length=2, length=-1)
    with pytest.raises(TypeError, match=r"length must be an integer"):
        specsep.istft(random_spectrogram((5, 4)), hop_length=2, length=10.0)
    with pytest.raises(ValueError, match=r"backend='fortran' is not one of"):
        specsep.stft(np.zeros(100), n_fft=16, backend="fortran")
