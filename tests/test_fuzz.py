"""Hypothesis fuzzing of the C++ backends (``cpu``, and ``cuda-emu``: the CUDA kernels in the
emulator) against the reference.

Parameters and shapes are drawn together: n_fft from 2 to 8192 (primes, odd sizes, powers of two
and 2^a 3^b 5^c sizes), every window (named, and arbitrary arrays), win_length <= n_fft, hop from 1
to win_length, center on and off, every pad_mode, normalized or not, batch shapes including empty
leading axes, float32 and float64. Draws are bounded and reproducible (``derandomize``: the same
examples on every run, no example database), and signals are kept short where a frame is
expensive: the generic pass for a prime p costs O(p^2) per frame, ~0.1 s for a group of frames at
p = 8191.

Tolerances are relative L2 errors against the float64 reference: RTOL (1e-5 float32, 1e-12
float64) for stft / istft / separate; griffin_lim and misi run 32 iterations from the same initial
phases and must stay within 1e-4 (float32 output) and 1e-10 (float64).

On ``cuda-emu`` an FFT whose work buffers exceed a block's shared memory runs its kernels' global
memory variants (tests/test_device_limits.py), so every size is checked on every backend.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import specsep
from conftest import RTOL, largest_generic_prime, primes, rel_error

FUZZ_BACKENDS = [pytest.param(name, marks=pytest.mark.skipif(
    name not in specsep.available_backends(), reason=f"backend {name!r} not built")) for name in ("cpu", "cuda-emu")]
on_fuzz_backends = pytest.mark.parametrize("fuzz_backend", FUZZ_BACKENDS)
# Phase retrieval runs 32 iterations per example: on the emulator that takes minutes, so it is slow.
on_fuzz_backends_emu_slow = pytest.mark.parametrize("fuzz_backend", [
    pytest.param(*p.values, marks=[*p.marks, *([pytest.mark.slow] if p.values[0] == "cuda-emu" else [])])
    for p in FUZZ_BACKENDS])

WINDOW_NAMES = ("hann", "sqrt_hann", "hamming", "blackman", "triangle", "rectangular")
PAD_MODES = ("constant", "reflect", "edge")
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
COMPLEX = {F32: np.dtype(np.complex64), F64: np.dtype(np.complex128)}
PHASE_RTOL = {F32: 1e-4, F64: 1e-10}

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])


PRIMES = primes(8191)
SMOOTH = sorted({2 ** a * 3 ** b * 5 ** c for a in range(14) for b in range(9) for c in range(6)
                 if 2 <= 2 ** a * 3 ** b * 5 ** c <= 8192})
POWERS_OF_TWO = [2 ** k for k in range(1, 14)]
PRIME_SET, SMOOTH_SET = frozenset(PRIMES), frozenset(SMOOTH)


def _max_frames(n_fft, cap=40):
    """Frames per signal that keep one example around 0.1 s: a frame of n_fft costs about
    n_fft * (log2 n_fft + p) (p the generic prime factor); below 8 frames nothing is saved, since
    a group of 8 (float32) or 4 (float64) frames shares the SIMD lanes."""
    cost = n_fft * (math.log2(n_fft) + largest_generic_prime(n_fft))
    return int(max(8, min(cap, 2e6 / cost)))


def n_ffts(max_n=8192):
    small = st.integers(2, min(max_n, 300))  # odd and even, every radix mix; twice as likely
    return st.one_of(
        small,
        small,
        st.sampled_from([p for p in PRIMES if p <= max_n]),
        st.sampled_from([n for n in POWERS_OF_TWO if n <= max_n]),
        st.sampled_from([n for n in SMOOTH if n <= max_n]),
        st.integers(301, max_n),  # anything, mostly with a generic factor
    )


@st.composite
def configs(draw, max_n=8192, invertible=False, max_frames_cap=40):
    """STFT keyword arguments, a signal length and its frame count, a batch shape and a dtype."""
    n_fft = draw(n_ffts(max_n))
    win_length = draw(st.one_of(st.just(n_fft), st.integers(1, n_fft)))
    name = draw(st.sampled_from(WINDOW_NAMES + ("array",)))
    if name == "array":  # any positive window (the seed keeps the example reproducible)
        window = 0.1 + np.random.default_rng(draw(st.integers(0, 2 ** 16))).random(win_length)
    else:
        window = name
    hop = draw(st.one_of(st.integers(1, win_length), st.sampled_from([1, max(win_length // 4, 1), win_length])))
    if invertible and not specsep.check_nola(window, hop, win_length=win_length):
        hop = max(win_length // 4, 1)
    if invertible:
        assume(specsep.check_nola(window, hop, win_length=win_length))
    center = draw(st.booleans())
    kw = dict(n_fft=n_fft, hop_length=hop, win_length=win_length, window=window, center=center,
              pad_mode=draw(st.sampled_from(PAD_MODES)), normalized=draw(st.booleans()))
    # the signal length from a frame count, plus a remainder shorter than a hop (center pads
    # 2 * (n_fft // 2) samples; a centred signal may be a single sample)
    frames = draw(st.integers(1, _max_frames(n_fft, max_frames_cap)))
    extra = (frames - 1) * hop + draw(st.integers(0, hop - 1))
    n_samples = max(1, n_fft % 2 + extra) if center else n_fft + extra
    # empty leading axes in one draw of five
    batch = draw(st.sampled_from([(), (), (), (2,), (2,), (1, 2), (3,), (2, 1), (0,), (2, 0)]))
    dtype = draw(st.sampled_from([F32, F64]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    kind = ("prime" if n_fft in PRIME_SET else "2^a3^b5^c" if n_fft in SMOOTH_SET
            else "odd" if n_fft % 2 else "even")
    event(f"n_fft {kind} {'<= 300' if n_fft <= 300 else '> 300'}")
    event(f"center={center} {dtype.name} batch={batch}")
    return kw, n_samples, batch, dtype, seed


def _inverse_kw(kw):
    return {k: v for k, v in kw.items() if k != "pad_mode"}


def _check(ours, reference, dtype, keep=None, what=""):
    """Relative L2 error of ``ours`` against the float64 ``reference`` on the samples ``keep``."""
    assert ours.shape == reference.shape, (what, ours.shape, reference.shape)
    assert ours.dtype in (dtype, COMPLEX[dtype]), (what, ours.dtype)
    assert np.all(np.isfinite(ours)), what
    if keep is not None:
        ours, reference = ours[..., keep], reference[..., keep]
    if ours.size:
        error = rel_error(ours, reference)
        assert error <= RTOL[dtype], f"{what}: relative L2 error {error:.3e} > {RTOL[dtype]:.0e}"


def _well_conditioned(plan, n_frames, length, dtype):
    """Output samples whose window-sum-square envelope is at least 1e-3 of its peak (float32 only).

    The inverse divides the overlap-added frames by the envelope. With center=False it falls to
    w[0]^2 + ... at the first and last samples (exactly 0 for hann / blackman / sqrt_hann, then
    the next window values ~ (pi / n)^2, a few 1e-7 for n = 8192), and inside the signal it dips
    where hop is close to win_length and the window tails are small. Where it is e below its peak,
    float32 rounding of the numerator (~1e-7 of the peak) is amplified by 1 / e, so a handful of
    such samples can carry 1e-3 errors while the arithmetic is right. Float32 comparisons skip
    samples with e < 1e-3 (leaving at most ~1e-4 of amplified rounding per sample, far below a real
    fault); float64 (rounding 1e-16, amplification up to 1e10 at NOLA's 1e-10 floor) compares
    every sample.
    """
    if dtype == F64:
        return None
    envelope = plan.envelope(n_frames)
    start = plan.n_fft // 2 if plan.center else 0
    keep = np.ones(length, dtype=bool)
    inside = envelope[start:start + length]
    keep[:inside.size] = inside >= 1e-3 * envelope.max()
    return keep


def _plan(kw, dtype):
    return specsep.STFT(**kw, dtype=dtype)


@on_fuzz_backends
@FUZZ
@given(configs())
def test_stft(fuzz_backend, config):
    kw, n_samples, batch, dtype, seed = config
    x = np.random.default_rng(seed).standard_normal(batch + (n_samples,)).astype(dtype)
    X = specsep.stft(x, **kw, backend=fuzz_backend)
    reference = specsep.stft(x.astype(np.float64), **kw, backend="numpy")
    assert X.dtype == COMPLEX[dtype]
    _check(X, reference, dtype, what="stft")


@on_fuzz_backends
@FUZZ
@given(configs(invertible=True), st.sampled_from(["default", "shorter", "longer"]))
def test_istft(fuzz_backend, config, length_choice):
    kw, n_samples, batch, dtype, seed = config
    plan = _plan(kw, dtype)
    n_frames = plan.n_frames(n_samples)
    rng = np.random.default_rng(seed)
    shape = batch + (plan.n_freqs, n_frames)
    X = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(COMPLEX[dtype])
    length = {"default": None, "shorter": max(n_samples // 2, 0),
              "longer": plan.istft_length(n_frames) + kw["n_fft"]}[length_choice]
    ikw = _inverse_kw(kw)
    y = specsep.istft(X, **ikw, length=length, backend=fuzz_backend)
    reference = specsep.istft(X.astype(np.complex128), **ikw, length=length, backend="numpy")
    keep = _well_conditioned(plan, n_frames, reference.shape[-1], dtype)
    _check(y, reference, dtype, keep, what="istft")
    # beyond the last frame: exact zeros on both
    covered = plan.n_fft + plan.hop_length * (n_frames - 1) - (plan.n_fft // 2 if plan.center else 0)
    assert not np.any(y[..., covered:])


@on_fuzz_backends
@FUZZ
@given(configs(max_n=4096, invertible=True, max_frames_cap=24), st.integers(1, 3), st.booleans())
def test_separate(fuzz_backend, config, n_sources, one_mask):
    kw, n_samples, batch, dtype, seed = config
    plan = _plan(kw, dtype)
    n_frames = plan.n_frames(n_samples)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(batch + (n_samples,)).astype(dtype)
    sources = () if one_mask else (n_sources,)
    M = rng.random(batch + sources + (plan.n_freqs, n_frames)).astype(dtype)
    y = specsep.separate(x, M, **kw, backend=fuzz_backend)
    reference = specsep.separate(x.astype(np.float64), M.astype(np.float64), **kw, backend="numpy")
    keep = _well_conditioned(plan, n_frames, n_samples, dtype)
    _check(y, reference, dtype, keep, what="separate")


# Relative move of each bin of S (~5 ulp) that measures how well the reference defines an example's result.
PERTURBATION = 1e-15


def _perturbed(S):
    """S moved by PERTURBATION, bin by bin in random directions (a uniform scale would be a symmetry
    of the iteration), in float64: the reference's precision, which a float32 S could not hold."""
    directions = np.random.default_rng(0).choice([-1.0, 1.0], size=S.shape)
    return S.astype(np.float64) * (1 + PERTURBATION * directions)


def _differ(result, reference, tol):
    """Whether ``(signals, history)`` differ from the reference's by more than ``tol`` (relative)."""
    return rel_error(result[0], reference[0]) > tol or not np.allclose(result[1], reference[1], rtol=tol, atol=1e-12)


def _phase_rtol_check(ours, reference, dtype, what, perturbed_reference):
    """``(signals, history)`` within PHASE_RTOL of the reference's, on examples it defines that well.

    Some drawn configurations are chaotic (one frame with center=False divides by the window's
    tiny edge values, and every iteration feeds that back): there the reference itself moves by up
    to O(1) after 32 iterations when S moves by 1e-15, so no other FFT's rounding can stay within
    the tolerance. An example that misses it is rejected (not passed) when the reference's own move
    exceeds a tenth of the tolerance; any other miss fails.
    """
    (y, history), (y_ref, history_ref) = ours, reference
    assert y.shape == y_ref.shape and y.dtype == y_ref.dtype == dtype, what
    assert history.shape == history_ref.shape, what
    if not y.size:
        return
    tol = PHASE_RTOL[dtype]
    if _differ(ours, reference, tol) and _differ(perturbed_reference(), reference, tol / 10):
        event(f"{what}: rejected, the reference moves more than tolerance / 10 under a 1e-15 change of S")
        assume(False)
    error = rel_error(y, y_ref)
    assert error <= tol, f"{what}: relative L2 error {error:.3e} > {tol:.0e}"
    np.testing.assert_allclose(history, history_ref, rtol=tol, atol=1e-12)


@on_fuzz_backends_emu_slow
@FUZZ
@given(configs(max_n=1024, invertible=True, max_frames_cap=16),
       st.sampled_from([0.0, 0.5, 0.99]), st.sampled_from(["random", "zeros"]))
def test_griffin_lim(fuzz_backend, config, momentum, init):
    kw, n_samples, batch, dtype, seed = config
    kw = {k: v for k, v in kw.items() if k != "normalized"}
    x = np.random.default_rng(seed).standard_normal(batch + (n_samples,)).astype(dtype)
    S = np.abs(specsep.stft(x, **kw, backend="numpy"))
    args = dict(**kw, n_iter=32, momentum=momentum, init=init, rng=seed, length=n_samples, return_history=True,
                precision="float64")
    result = specsep.griffin_lim(S, **args, backend=fuzz_backend)
    _phase_rtol_check(result, specsep.griffin_lim(S, **args, backend="numpy"), dtype, "griffin_lim",
                      lambda: specsep.griffin_lim(_perturbed(S), **args, backend="numpy"))


@on_fuzz_backends_emu_slow
@FUZZ
@given(configs(max_n=1024, invertible=True, max_frames_cap=16), st.integers(1, 3),
       st.sampled_from([0.0, 0.5]), st.sampled_from(["mixture", "random"]))
def test_misi(fuzz_backend, config, n_sources, momentum, init):
    kw, n_samples, batch, dtype, seed = config
    kw = {k: v for k, v in kw.items() if k != "normalized"}
    rng = np.random.default_rng(seed)
    sources = rng.standard_normal(batch + (n_sources, n_samples)).astype(dtype)
    x_mix = sources.sum(axis=-2)
    S = np.abs(specsep.stft(sources, **kw, backend="numpy"))
    args = dict(**kw, n_iter=32, momentum=momentum, init=init, rng=seed, return_history=True, precision="float64")
    result = specsep.misi(x_mix, S, **args, backend=fuzz_backend)
    _phase_rtol_check(result, specsep.misi(x_mix, S, **args, backend="numpy"), dtype, "misi",
                      lambda: specsep.misi(x_mix.astype(np.float64), _perturbed(S), **args, backend="numpy"))
