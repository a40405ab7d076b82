"""The ``cpu`` backend beyond the per-function comparisons of test_transforms, test_masks and
test_phase: the FFT test hooks of both kernel modules against ``numpy.fft`` at every size class;
identical bits for any thread count, either instruction set and repeated runs; odd-but-valid
inputs against the reference; one plan used from many Python threads at once.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import specsep
from specsep._backends import cpu as cpu_backend
from conftest import RTOL, assert_close, assert_same_bits, largest_generic_prime, primes

pytestmark = pytest.mark.skipif("cpu" not in specsep.available_backends(), reason="cpu backend not built")
_cpu = pytest.importorskip("specsep._cpu", reason="the C++ module is not built")

HAS_AVX2 = bool(_cpu.cpu_has_avx2())
if HAS_AVX2:
    from specsep import _cpu_avx2
else:  # importing the AVX2 build on a CPU without AVX2 may already execute AVX2 instructions
    _cpu_avx2 = None
MODULES = [pytest.param(_cpu, id="baseline"),
           pytest.param(_cpu_avx2, id="avx2", marks=pytest.mark.skipif(not HAS_AVX2, reason="CPU has no AVX2"))]
needs_avx2 = pytest.mark.skipif(not HAS_AVX2, reason="CPU has no AVX2")

COMPLEX = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}
PAD_MODES = ("constant", "reflect", "edge")
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def signal(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def random_spectrogram(shape, seed=0, dtype=np.complex128):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


# =============================================================================================
# FFT test hooks: kernels.rfft(x (rows, n)) and kernels.irfft(X (rows, n // 2 + 1), n)


_PRIMES = primes(8191)
_LARGE = [p for p in _PRIMES if p > 300]
FFT_SIZES = {
    # every size from 1 to 300: all radix combinations and every prime below 300
    "1-300": list(range(1, 301)),
    # 2^a 3^b 5^c up to 8192 (powers of two included): the sizes with butterflies only
    "smooth": sorted({2 ** a * 3 ** b * 5 ** c for a in range(14) for b in range(9) for c in range(6)
                      if 300 < 2 ** a * 3 ** b * 5 ** c <= 8192}),
    # primes above 300 up to 8191 (the prime pass up to 401, Bluestein's transform above): a spread
    # of them (every 150th prime) and those beside powers of two, instead of all 980
    "primes": sorted(set(_LARGE[::150]) | {401, 409, 509, 521, 1021, 1031, 2039, 2053, 4093, 4099, 8191}),
}


def fft_rtol(n, dtype):
    """Relative L2 error allowed for a length-n real FFT.

    Rounding errors of independent operations add like a random walk: each output of the
    radix-2/3/4/5 passes goes through ~log2(n) butterflies, and each output of the generic pass of
    an odd prime p (up to 401; Bluestein's transform takes larger ones) sums p / 2 terms, so the error
    is ~eps * sqrt(log2 n + c * p). Measured over these sizes (4 random rows each, both modules):
    error / (eps * sqrt(log2 n + 1)) <= 0.52 for 2^a 3^b 5^c sizes. The bound below,
    eps * sqrt(log2 n + 1 + p / 4) (p = 0 for Bluestein's lengths: float32 at 8191 is 2e-7 = 1.7 eps),
    leaves a margin of 2x or more while a wrong twiddle, index or scale gives errors of order 1e-3 to 1.
    """
    eps = np.finfo(dtype).eps
    return eps * math.sqrt(math.log2(n) + 1 + largest_generic_prime(n) / 4)


@pytest.mark.parametrize("gpu_radices", [False, True], ids=["cpu-factors", "gpu-factors"])
@pytest.mark.parametrize("group", FFT_SIZES)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("kernels", MODULES)
def test_fft_hooks_equal_numpy(kernels, dtype, group, gpu_radices):
    """gpu_radices: the factorisation of the GPU plans (16s and an 8 first), here on the CPU's frame code."""
    rng = np.random.default_rng(len(group))
    failures = []
    for n in FFT_SIZES[group]:
        rows = 3 if n <= 1024 else 1
        x = rng.standard_normal((rows, n))
        X = kernels.rfft(x.astype(dtype), gpu_radices)
        assert X.dtype == COMPLEX[dtype] and X.shape == (rows, n // 2 + 1)
        # irfft of arbitrary bins: numpy ignores the imaginary parts of bin 0 and (even n) of the
        # Nyquist bin, i.e. it inverts the Hermitian completion of bins 1 .. (n - 1) // 2
        Y = rng.standard_normal((rows, n // 2 + 1)) + 1j * rng.standard_normal((rows, n // 2 + 1))
        y = kernels.irfft(Y.astype(COMPLEX[dtype]), n, gpu_radices)
        assert y.dtype == dtype and y.shape == (rows, n)
        for name, actual, expected in (("rfft", X, np.fft.rfft(x)), ("irfft", y, np.fft.irfft(Y, n))):
            error = np.linalg.norm(actual - expected) / np.linalg.norm(expected)
            if not error <= fft_rtol(n, dtype):
                failures.append(f"{name} n={n}: {error:.2e} > {fft_rtol(n, dtype):.2e}")
    assert not failures, failures


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 30, 97, 128, 255, 256, 1000, 1021])
@pytest.mark.parametrize("kernels", MODULES)
def test_irfft_ignores_imaginary_parts_of_dc_and_nyquist(kernels, n):
    for dtype in (F32, F64):
        Y = random_spectrogram((2, n // 2 + 1), seed=n, dtype=COMPLEX[dtype])
        real_edges = Y.copy()
        real_edges[:, 0] = real_edges[:, 0].real
        if n % 2 == 0:
            real_edges[:, -1] = real_edges[:, -1].real
        np.testing.assert_array_equal(kernels.irfft(Y, n), kernels.irfft(real_edges, n))
        assert_close(kernels.irfft(Y, n), np.fft.irfft(Y.astype(np.complex128), n), fft_rtol(n, dtype))


@needs_avx2
def test_fft_hooks_same_bits_on_both_modules():
    for dtype in (F32, F64):
        for n in (2, 7, 60, 128, 243, 250, 331, 1000, 1024, 2049):
            x = signal((3, n), seed=n, dtype=dtype)
            np.testing.assert_array_equal(_cpu.rfft(x), _cpu_avx2.rfft(x))
            Y = random_spectrogram((3, n // 2 + 1), seed=n, dtype=COMPLEX[dtype])
            np.testing.assert_array_equal(_cpu.irfft(Y, n), _cpu_avx2.irfft(Y, n))


# =============================================================================================
# Identical bits: any thread count, either instruction set, any run


def _workload(dtype):
    """Every cpu entry point on inputs big enough to be split over several tasks and threads."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 2, 9000)).astype(dtype)
    masks = rng.random((3, 2, 4, 257, 1 + 9000 // 100)).astype(dtype)
    small = rng.standard_normal((2, 3, 2500)).astype(dtype)
    kw = dict(n_fft=512, hop_length=100, win_length=480, window="hann", pad_mode="reflect")
    odd = dict(n_fft=251, hop_length=60, window="blackman", center=False)
    S = np.abs(specsep.stft(small, n_fft=256, hop_length=64, backend="numpy"))
    outputs = {
        "stft": specsep.stft(x, **kw, backend="cpu"),
        "stft_odd": specsep.stft(x, **odd, backend="cpu"),
        "istft": specsep.istft(random_spectrogram((3, 2, 257, 91), seed=1, dtype=COMPLEX[dtype]),
                               **{k: v for k, v in kw.items() if k != "pad_mode"}, length=9000, backend="cpu"),
        "separate": specsep.separate(x, masks, **kw, backend="cpu"),
        "griffin_lim": specsep.griffin_lim(S, n_iter=5, hop_length=64, momentum=0.9, rng=3, length=2500,
                                           return_history=True, backend="cpu"),
        "misi": specsep.misi(small.sum(axis=-2), S, n_iter=5, momentum=0.5, hop_length=64,
                             return_history=True, backend="cpu"),
    }
    return outputs


@pytest.fixture
def restore_threads():
    before = specsep.get_num_threads()
    yield
    specsep.set_num_threads(before)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_same_bits_for_any_thread_count(restore_threads, dtype):
    specsep.set_num_threads(1)
    assert specsep.get_num_threads() == 1
    serial = _workload(dtype)
    for k in (2, 3, 5):
        specsep.set_num_threads(k)
        assert specsep.get_num_threads() == k
        threaded = _workload(dtype)
        for name in serial:
            assert_same_bits(threaded[name], serial[name], f"{name} with {k} threads")


def test_same_bits_on_repeated_runs():
    for dtype in (F32, F64):
        first = _workload(dtype)
        for _ in range(2):
            again = _workload(dtype)
            for name in first:
                assert_same_bits(again[name], first[name], f"{name} run again")


@pytest.mark.parametrize("value", ["1", "3"])
def test_num_threads_environment_variable(value):
    env = {**os.environ, "SPECSEP_NUM_THREADS": value}
    out = subprocess.run([sys.executable, "-c", "import specsep; print(specsep.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == value


def _native_plan(kernels, plan):
    cls = {F32: kernels.PlanFloat32, F64: kernels.PlanFloat64}[plan.dtype]
    return cls(plan.window, plan.hop_length, plan.padding, plan.pad_mode_code, plan.normalized)


ISA_CASES = [
    dict(n_fft=512, hop_length=128, pad_mode="reflect"),
    dict(n_fft=1000, hop_length=250, window="hamming", normalized=True),
    dict(n_fft=243, hop_length=61, win_length=200, window="blackman", center=False),
    dict(n_fft=131, hop_length=1, window="sqrt_hann", pad_mode="edge"),
    dict(n_fft=2, hop_length=1, window="triangle"),
]


@needs_avx2
@pytest.mark.parametrize("kw", ISA_CASES, ids=lambda kw: "-".join(map(str, kw.values())))
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_baseline_and_avx2_plans_same_bits(dtype, kw):
    """PlanFloat32 / PlanFloat64 of both modules: the same lane width and no FMA contraction."""
    plan = specsep.STFT(dtype=dtype, **kw)
    baseline, avx2 = _native_plan(_cpu, plan), _native_plan(_cpu_avx2, plan)
    # hop 1 with a prime n_fft: 1000 frames of a generic-radix FFT, slow in the baseline build
    x = signal((3, 3000 if kw["hop_length"] > 1 else 300), seed=kw["n_fft"], dtype=dtype)
    frames = plan.n_frames(x.shape[-1])
    X = baseline.stft(x, frames)
    assert_same_bits(avx2.stft(x, frames), X, "stft")
    X = X.swapaxes(-1, -2)  # (batch, freq, frames), as the backend passes it
    for length in (x.shape[-1], 17):
        assert_same_bits(avx2.istft(X, length), baseline.istft(X, length), "istft")


@pytest.fixture
def baseline_backend(monkeypatch):
    """The cpu backend running the baseline module's plans instead of the AVX2 ones."""
    monkeypatch.setattr(cpu_backend, "_PLAN_CLASSES",
                        {F32: _cpu.PlanFloat32, F64: _cpu.PlanFloat64})
    cpu_backend._kernels.cache_clear()
    yield
    cpu_backend._kernels.cache_clear()


@needs_avx2
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_baseline_and_avx2_backends_same_bits(dtype, request):
    """Every entry point (separate, griffin_lim and misi included) through either module."""
    avx2 = _workload(dtype)
    request.getfixturevalue("baseline_backend")
    assert cpu_backend._kernels(specsep.STFT(n_fft=16, dtype=dtype)).__class__.__module__.endswith("_cpu")
    baseline = _workload(dtype)
    for name in avx2:
        assert_same_bits(baseline[name], avx2[name], f"{name}, baseline vs avx2")


# =============================================================================================
# Odd but valid inputs: the cpu backend against the reference


def _both(function, *args, **kwargs):
    """``function`` on the cpu backend and on the reference."""
    return function(*args, **kwargs, backend="cpu"), function(*args, **kwargs, backend="numpy")


def _assert_matches_reference(function, *args, dtype=None, **kwargs):
    ours, reference = _both(function, *args, **kwargs)
    assert ours.shape == reference.shape and ours.dtype == reference.dtype
    assert_close(ours, reference, RTOL[np.dtype(dtype or ours.real.dtype)])
    return ours


def _views(x):
    """Non-contiguous, negative-stride, Fortran-order, read-only and big-endian versions of a 2-D x."""
    wide = np.repeat(x, 3, axis=-1)
    read_only = x.copy()
    read_only.flags.writeable = False
    return {
        "every-third-sample": wide[:, ::3],
        "reversed-samples": np.ascontiguousarray(x[:, ::-1])[:, ::-1],
        "reversed-rows": np.ascontiguousarray(x[::-1])[::-1],
        "fortran": np.asfortranarray(x),
        "read-only": read_only,
        "big-endian": x.astype(x.dtype.newbyteorder(">")),
        "column-of-transpose": np.ascontiguousarray(x.T).T,
    }


@pytest.mark.parametrize("view", list(_views(np.zeros((2, 2)))))
def test_stft_of_views(dtype, view):
    x = signal((3, 4000), seed=1, dtype=dtype)
    v = _views(x)[view]
    np.testing.assert_array_equal(v, x)
    expected = specsep.stft(x, n_fft=256, hop_length=60, backend="cpu")
    ours = _assert_matches_reference(specsep.stft, v, n_fft=256, hop_length=60, pad_mode="reflect")
    assert ours.shape == expected.shape
    np.testing.assert_array_equal(specsep.stft(v, n_fft=256, hop_length=60, backend="cpu"), expected)


def _spectrogram_layouts(X):
    """One (..., F, T) spectrogram in the memory layouts callers produce."""
    read_only = X.copy()
    read_only.flags.writeable = False
    wide = np.repeat(X, 2, axis=-1)
    return {
        "stft-output": X,  # transposed view of frame-major memory, as stft returns it
        "freq-major": np.ascontiguousarray(X),  # C order (..., F, T): T fastest
        "fortran": np.asfortranarray(X),  # librosa's layout for 2-D spectrograms
        "frame-major-copy": np.ascontiguousarray(X.swapaxes(-1, -2)).swapaxes(-1, -2),
        "every-other-frame": wide[..., ::2],
        "reversed-frames": np.ascontiguousarray(X[..., ::-1])[..., ::-1],
        "reversed-bins": np.ascontiguousarray(X[..., ::-1, :])[..., ::-1, :],
        "reversed-batch": np.ascontiguousarray(X[::-1])[::-1],
        "read-only": read_only,
        "big-endian": X.astype(X.dtype.newbyteorder(">")),
    }


@pytest.mark.parametrize("layout", list(_spectrogram_layouts(np.zeros((2, 2, 2)))))
def test_istft_of_layouts(dtype, layout):
    x = signal((3, 4000), seed=2, dtype=dtype)
    kw = dict(n_fft=256, hop_length=64)
    X = specsep.stft(x, **kw, backend="cpu")
    Xv = _spectrogram_layouts(X)[layout]
    np.testing.assert_array_equal(Xv, X)
    expected = specsep.istft(X, **kw, length=4000, backend="cpu")
    ours = _assert_matches_reference(specsep.istft, Xv, **kw, length=4000)
    np.testing.assert_array_equal(ours, expected)
    assert_close(ours, x, 10 * RTOL[dtype])  # and it is the round trip


def test_stft_output_fed_back_to_istft_and_to_stft_again(dtype):
    """stft returns a transposed view; every consumer takes it as is."""
    x = signal((2, 3, 3000), seed=3, dtype=dtype)
    X = specsep.stft(x, n_fft=400, hop_length=100, window="sqrt_hann")
    assert X.strides[-2] < X.strides[-1]  # (F, T) view of (T, F) memory
    y = specsep.istft(X, n_fft=400, hop_length=100, window="sqrt_hann", length=3000)
    assert_close(y, x, 10 * RTOL[dtype])
    S = np.abs(X)  # keeps the transposed layout
    _assert_matches_reference(specsep.griffin_lim, S, n_iter=3, n_fft=400, hop_length=100, window="sqrt_hann",
                              init="zeros", length=3000)
    masks = np.abs(specsep.stft(signal((2, 3, 2, 3000), seed=4, dtype=dtype), n_fft=400, hop_length=100))
    _assert_matches_reference(specsep.separate, x, masks / (1 + masks), n_fft=400, hop_length=100)


def test_empty_leading_batch_dimensions(dtype):
    kw = dict(n_fft=64, hop_length=16)
    for batch in ((0,), (2, 0), (0, 3)):
        x = np.zeros(batch + (500,), dtype=dtype)
        X = specsep.stft(x, **kw, backend="cpu")
        assert X.shape == batch + (33, 32) and X.dtype == COMPLEX[dtype]
        y = specsep.istft(X, **kw, backend="cpu")
        assert y.shape == batch + (496,) and y.dtype == dtype
        assert specsep.istft(X, **kw, length=7, backend="cpu").shape == batch + (7,)
        M = np.zeros(batch + (2, 33, 32), dtype=dtype)
        assert specsep.separate(x, M, **kw, backend="cpu").shape == batch + (2, 500)
        S = np.abs(X)
        y, history = specsep.griffin_lim(S, n_iter=2, **kw, return_history=True, backend="cpu")
        assert y.shape == batch + (496,) and y.dtype == dtype
        assert history.shape == batch + (2,) or history.shape == batch + (0,)
        sources = specsep.misi(x, np.zeros(batch + (2, 33, 32), dtype=dtype), n_iter=2, **kw, backend="cpu")
        assert sources.shape == batch + (2, 500) and sources.dtype == dtype
        for ours, reference in (
            (specsep.stft(x, **kw, backend="cpu"), specsep.stft(x, **kw, backend="numpy")),
            (specsep.istft(X, **kw, backend="cpu"), specsep.istft(X, **kw, backend="numpy")),
        ):
            assert ours.shape == reference.shape and ours.dtype == reference.dtype


@pytest.mark.parametrize("pad_mode", PAD_MODES)
@pytest.mark.parametrize("n_fft", [2, 3, 16, 17])
def test_size_one_signals_with_center(dtype, n_fft, pad_mode):
    x = np.array([[1.5], [-0.25]], dtype=dtype)
    kw = dict(n_fft=n_fft, hop_length=1, pad_mode=pad_mode)
    X = _assert_matches_reference(specsep.stft, x, **kw)
    assert X.shape == (2, n_fft // 2 + 1, 1 + (n_fft % 2 == 0))  # 1 + 2 * (n_fft // 2) padded samples
    inverse = dict(n_fft=n_fft, hop_length=1)
    y = _assert_matches_reference(specsep.istft, X, **inverse, length=1)
    assert y.shape == (2, 1)
    if pad_mode != "constant" or n_fft > 2:  # a one-frame round trip under NOLA
        assert_close(y, x, 10 * RTOL[dtype])
    _assert_matches_reference(specsep.separate, x, np.full((2, 3) + X.shape[-2:], 0.5, dtype=dtype), **kw)


@pytest.mark.parametrize("kw", [
    dict(n_fft=2, hop_length=1),
    dict(n_fft=2, hop_length=2, window="rectangular", center=False),
    dict(n_fft=1021, hop_length=255),
    dict(n_fft=1021, hop_length=1021, window="rectangular", center=False),
    dict(n_fft=127, hop_length=1, window="blackman", pad_mode="reflect"),
    dict(n_fft=64, hop_length=1, win_length=17, window="triangle", pad_mode="edge"),
    dict(n_fft=100, hop_length=100, window="rectangular"),
    dict(n_fft=99, hop_length=33, win_length=33, window="rectangular", center=False),
], ids=lambda kw: "-".join(map(str, kw.values())))
def test_edge_geometries(dtype, kw):
    x = signal((2, 3100), seed=kw["n_fft"], dtype=dtype)
    X = _assert_matches_reference(specsep.stft, x, **kw)
    inverse = {k: v for k, v in kw.items() if k != "pad_mode"}
    y = _assert_matches_reference(specsep.istft, X, **inverse, length=3100)
    if kw.get("center", True):
        assert_close(y, x, 100 * RTOL[dtype])
    masks = np.random.default_rng(0).random((2, 2) + X.shape[-2:]).astype(dtype)
    _assert_matches_reference(specsep.separate, x, masks, **kw)


def test_separate_with_mask_views(dtype):
    x = signal((2, 3000), seed=5, dtype=dtype)
    kw = dict(n_fft=256, hop_length=64)
    F, T = 129, 1 + 3000 // 64
    rng = np.random.default_rng(6)
    base = rng.random((2, 3, F, T)).astype(dtype)
    expected = specsep.separate(x, base, **kw, backend="numpy")
    read_only = base.copy()
    read_only.flags.writeable = False
    views = {
        "every-other-frame": np.repeat(base, 2, axis=-1)[..., ::2],
        "frame-major": np.ascontiguousarray(base.swapaxes(-1, -2)).swapaxes(-1, -2),
        "fortran": np.asfortranarray(base),
        "reversed-sources": np.ascontiguousarray(base[:, ::-1])[:, ::-1],
        "reversed-bins": np.ascontiguousarray(base[..., ::-1, :])[..., ::-1, :],
        "read-only": read_only,
        "big-endian": base.astype(base.dtype.newbyteorder(">")),
    }
    for name, M in views.items():
        np.testing.assert_array_equal(M, base)
        ours = specsep.separate(x, M, **kw, backend="cpu")
        assert ours.shape == expected.shape, name
        assert_close(ours, expected, RTOL[dtype])


# The API's rule: masks have the mixture spectrogram's rank (one mask per mixture) or one more
# (a source axis at -3), and their batch axes broadcast against the mixture's.
@pytest.mark.parametrize("x_shape, m_shape, out_shape", [
    ((2, 3000), (1, 3, 129, 47), (2, 3, 3000)),           # one set of masks for every mixture
    ((1, 3000), (2, 3, 129, 47), (2, 3, 3000)),           # one mixture, a batch of mask sets
    ((3000,), (3, 129, 47), (3, 3000)),                   # one mixture, three sources
    ((2, 1, 3000), (1, 4, 3, 129, 47), (2, 4, 3, 3000)),  # both broadcast
    ((2, 3000), (1, 129, 47), (2, 3000)),                 # one mask (no source axis) for every mixture
    ((2, 3000), (2, 1, 129, 47), (2, 1, 3000)),           # one source
])
def test_separate_broadcasts_batch_axes(dtype, x_shape, m_shape, out_shape):
    x = signal(x_shape, seed=7, dtype=dtype)
    M = np.random.default_rng(8).random(m_shape).astype(dtype)
    ours = _assert_matches_reference(specsep.separate, x, M, n_fft=256, hop_length=64)
    assert ours.shape == out_shape


def _unaligned(a):
    """A copy of ``a`` at an odd address (as np.frombuffer at an odd offset gives)."""
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def test_unaligned_input(dtype):
    """Element loads at misaligned addresses are undefined behaviour in C++ (UBSan reports them)."""
    x = signal((2, 3000), seed=9, dtype=dtype)
    kw = dict(n_fft=128, hop_length=32)
    X = _assert_matches_reference(specsep.stft, _unaligned(x), **kw)
    _assert_matches_reference(specsep.istft, _unaligned(np.ascontiguousarray(X)), **kw)
    M = np.random.default_rng(1).random((2, 3) + X.shape[-2:]).astype(dtype)
    _assert_matches_reference(specsep.separate, _unaligned(x), _unaligned(M), **kw)
    S = np.abs(X)
    _assert_matches_reference(specsep.griffin_lim, _unaligned(S), n_iter=2, init="zeros", **kw)
    sources = signal((2, 3, 3000), seed=10, dtype=dtype)
    S_sources = np.abs(specsep.stft(sources, **kw))
    _assert_matches_reference(specsep.misi, _unaligned(sources.sum(axis=1)), _unaligned(S_sources), n_iter=2,
                              weights=_unaligned(np.array([0.5, 0.25, 0.25])), **kw)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_reach_exactly_the_frames_that_contain_them(dtype, bad):
    x = signal((2, 2000), seed=10, dtype=dtype)
    x[0, 1000] = bad
    kw = dict(n_fft=128, hop_length=32)
    ours, reference = _both(specsep.stft, x, **kw)
    touched = ~np.isfinite(reference)
    np.testing.assert_array_equal(~np.isfinite(ours), touched)
    frames = np.flatnonzero(touched[0].any(axis=0))
    # frame t reads samples [t * hop - n_fft / 2, t * hop + n_fft / 2)
    n_frames = specsep.STFT(**kw).n_frames(2000)
    np.testing.assert_array_equal(frames, [t for t in range(n_frames) if t * 32 - 64 <= 1000 < t * 32 + 64])
    assert not touched[1].any()
    assert_close(ours[~touched], reference[~touched], RTOL[dtype])


@pytest.mark.parametrize("length", [1000, 8000, 0])
def test_griffin_lim_length_must_give_the_frame_count_of_S(backend, length):
    """Each iteration compares the STFT of the length-sample estimate with S. A length with another
    frame count used to fail inside NumPy broadcasting on the reference and to run on the cpu
    backend; every backend refuses it up front now (n_iter=0 needs no STFT and takes any length)."""
    S = np.abs(specsep.stft(signal(4000, seed=12), n_fft=256, hop_length=64))
    with pytest.raises(ValueError, match=r"length=\d+ gives \d+ STFT frames but S has 63"):
        specsep.griffin_lim(S, n_iter=2, hop_length=64, length=length, backend=backend)
    assert specsep.griffin_lim(S, n_iter=2, hop_length=64, length=3990, backend=backend).shape == (3990,)
    assert specsep.griffin_lim(S, n_iter=0, hop_length=64, length=length, backend=backend).shape == (length,)


# =============================================================================================
# Thread counts changed while transforms run (8 Python threads on one plan: test_determinism.py)


def test_threads_change_count_while_others_run(restore_threads):
    """set_num_threads from one thread while others transform: every result stays exact."""
    x = signal((4, 30000), seed=11, dtype=np.float32)
    expected = specsep.stft(x, n_fft=1024, hop_length=256, backend="cpu")

    def job(i):
        if i % 4 == 0:
            specsep.set_num_threads(1 + i % 3)
        return specsep.stft(x, n_fft=1024, hop_length=256, backend="cpu")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(job, range(32)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_cpu_backend_is_the_default_for_numpy_arrays():
    assert cpu_backend.kernels_module.isa == ("avx2" if HAS_AVX2 else "baseline")
    x = signal(1000, dtype=np.float32)
    np.testing.assert_array_equal(specsep.stft(x, n_fft=64), specsep.stft(x, n_fft=64, backend="cpu"))


# =============================================================================================
# Phase retrieval in groups of items (Note [phase retrieval in groups of items])


def test_phase_retrieval_in_groups_of_items_gives_the_same_bits(monkeypatch):
    """Batches whose float64 state exceeds PHASE_STATE_BYTES run in groups of items: the signals
    and the histories (items stopping on ``tol`` at different iterations, NaN after) are the bits
    of one call."""
    n = 6000
    t = np.arange(n) / 8000
    tone = np.sin(2 * np.pi * 440 * t)
    items = np.stack([tone, signal(n, seed=1), 0.5 * tone + signal(n, seed=2), signal(n, seed=3)])  # (4, n)
    kw = dict(n_fft=256, hop_length=64, n_iter=24, tol=0.02, rng=5, return_history=True)
    for dtype in (F32, F64):
        x = items.reshape(2, 2, n).astype(dtype)
        S = np.abs(specsep.stft(x, n_fft=256, hop_length=64))
        sources = np.stack([x, 0.3 * x[..., ::-1]], axis=-2)  # (2, 2, J=2, n)
        S_sources = np.abs(specsep.stft(sources, n_fft=256, hop_length=64))
        whole = (specsep.griffin_lim(S, **kw, backend="cpu"), specsep.misi(x, S_sources, **kw, backend="cpu"))
        monkeypatch.setattr(cpu_backend, "PHASE_STATE_BYTES", 1)  # one item per group
        grouped = (specsep.griffin_lim(S, **kw, backend="cpu"), specsep.misi(x, S_sources, **kw, backend="cpu"))
        monkeypatch.undo()
        history = whole[0][1]
        assert np.isnan(history).any() and not np.isnan(history[..., 0]).any(), "items should stop at different times"
        assert_same_bits(grouped, whole, f"grouped phase retrieval, {dtype}")
