"""Shared fixtures: backends, the per-dtype tolerance table, seeded signals, the music fixture."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import site
from pathlib import Path

import numpy as np
import pytest

import specsep
from specsep._cuda import bluestein

# Relative L2 error allowed between a backend and the reference, per real dtype. The reference
# computes in float64; float32 results carry ~sqrt(log2 n_fft) * eps32 of rounding from the output
# cast and the backend's own float32 arithmetic.
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
# Independent float64 oracles (librosa, torch, direct DFT) against the reference.
ORACLE_RTOL = 1e-12

def _host_backend(name):
    return pytest.param(name, id=name, marks=pytest.mark.skipif(
        name not in specsep.available_backends(), reason=f"backend {name!r} is not available in this build"))


# Every backend that takes NumPy arrays: cuda-emu runs the CUDA kernels through the emulator. The
# real cuda backend takes device arrays and has its own tests (test_gpu.py, marked gpu).
BACKENDS = [_host_backend(name) for name in ("numpy", "cpu", "cuda-emu")]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Every host-array backend this installation runs."""
    return request.param


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return np.dtype(request.param)


def has_module(name) -> bool:
    """Whether the optional package ``name`` imports here."""
    try:
        __import__(name)
    except ImportError:
        return False
    return True


# torch is an oracle of some tests, not a dependency of the suite: a CPU build is enough, and plain
# `pip install torch` may pull a multi-GB CUDA build, so the test extra leaves it out.
TORCH_MISSING = "torch is not installed (an oracle; pip install torch --index-url https://download.pytorch.org/whl/cpu)"
requires_torch = pytest.mark.skipif(not has_module("torch"), reason=TORCH_MISSING)


def import_torch():
    """torch, or a skip that says how to install its CPU build."""
    return pytest.importorskip("torch", reason=TORCH_MISSING)


def rel_error(actual, expected) -> float:
    """Relative L2 error ``||actual - expected|| / ||expected||`` (absolute when expected is 0)."""
    actual = np.asarray(actual, dtype=np.complex128)
    expected = np.asarray(expected, dtype=np.complex128)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = np.linalg.norm(expected.ravel())
    error = np.linalg.norm((actual - expected).ravel())
    return float(error / scale) if scale > 0 else float(error)


def assert_close(actual, expected, rtol):
    error = rel_error(actual, expected)
    assert error <= rtol, f"relative L2 error {error:.3e} > {rtol:.1e}"


def assert_same_bits(a, b, what):
    """Identical bytes (tuples element by element): -0.0 vs 0.0 and NaN payloads count."""
    if isinstance(a, tuple):
        for i, (u, v) in enumerate(zip(a, b)):
            assert_same_bits(u, v, f"{what}[{i}]")
        return
    assert a.dtype == b.dtype and a.shape == b.shape, what
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), f"{what}: bits differ"


def primes(limit):
    """Every prime <= limit (sieve of Eratosthenes)."""
    sieve = np.ones(limit + 1, dtype=bool)
    sieve[:2] = False
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i::i] = False
    return [int(p) for p in np.flatnonzero(sieve)]


def direct_envelope(window, hop, n_frames):
    """Window-sum-square by its definition: sum over frames of the shifted squared window (float64)."""
    window = np.asarray(window, dtype=np.float64)
    n_fft = window.shape[0]
    out = np.zeros(n_fft + hop * (n_frames - 1))
    for t in range(n_frames):
        out[t * hop:t * hop + n_fft] += window ** 2
    return out


def largest_generic_prime(n):
    """Largest prime factor > 5 of the complex transform length (n / 2 for even n) that the O(p^2)
    prime pass handles, else 0 (none, or Bluestein's transform takes the length): it sets rounding
    error and run time."""
    m, largest, d = (n // 2 if n % 2 == 0 else n), 0, 2
    size = m
    while d * d <= m:
        while m % d == 0:
            largest, m = max(largest, d), m // d
        d += 1
    largest = max(largest, m)
    return largest if largest > 5 and not bluestein.convolution_length(size) else 0


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


MUSIC = Path(__file__).resolve().parents[2] / "shared" / "music" / "setA"
# Reference SDRs of ../shared/music/setA/piece1 (its README): ideal ratio mask on power, mixture
# phase, n_fft 2048, hop 512, plain SDR (specsep.metrics.snr) over the whole stereo stem.
PIECE1_IRM_SDR_DB = {"drums": 11.35, "bass": 11.88, "keys": 9.76, "lead": 10.64}
README_ROUNDING_DB = 0.05


@pytest.fixture(scope="session")
def music_piece():
    """``(mix, stems, sr)`` of ../shared/music/setA/piece1 as float64 (channels, samples); skips if absent."""
    sf = pytest.importorskip("soundfile")
    piece = MUSIC / "piece1"
    if not piece.is_dir():
        pytest.skip("../shared/music is not beside this checkout")
    mix, sr = sf.read(piece / "mix.wav", dtype="float64", always_2d=True)
    stems = {name: sf.read(piece / f"{name}.wav", dtype="float64", always_2d=True)[0].T
             for name in ("drums", "bass", "keys", "lead")}
    return mix.T, stems, sr


def subprocess_env():
    """The environment, with the folder of the ``specsep`` this test imported first on the path
    (unless it is an installed site-packages), so that a child process runs the same package."""
    env = dict(os.environ)
    root = str(Path(specsep.__file__).resolve().parents[1])
    installed = {str(Path(p).resolve()) for p in site.getsitepackages() + [site.getusersitepackages()]}
    if root not in installed:
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_cli(argv):
    """The ``specsep`` command ``argv`` in this process: ``(exit status, stdout, stderr)``."""
    from specsep.tools.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def results_rows(out):
    """The rows of ``out/results.csv`` (specsep oracle) as dicts."""
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))
