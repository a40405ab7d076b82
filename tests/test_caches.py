"""Memory kept between calls: every cache is bounded, and specsep.clear_caches() empties them all.

Counted without RSS: tracemalloc for NumPy allocations, the cpu module's counters
(cached_bytes, scratch_bytes) for the C++ ones. Environment variables are parsed strictly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import specsep
from specsep import _plan

needs_cpu = pytest.mark.skipif("cpu" not in specsep.available_backends(), reason="cpu backend not built")


@pytest.fixture
def kernels():
    from specsep._backends.cpu import kernels_module

    return kernels_module


@pytest.fixture
def cache_limit(kernels):
    """Restores the buffer cache's budget after a test that changes it."""
    limit = kernels.buffer_cache_limit()
    yield
    kernels.set_buffer_cache_limit(limit)


def test_envelopes_of_many_lengths_hold_no_memory():
    """The reference's envelopes are assembled from O(n_fft) cached pieces: computing those of 40
    signal lengths (3.2 MB each) must not keep any of them."""
    plan = specsep.STFT(512, 128, window="hann", dtype=np.float64)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n_frames in range(100_000, 100_040):
            assert plan.envelope(n_frames).shape == (512 + 128 * (n_frames - 1),)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1 << 20, f"{held} bytes held after 40 envelopes"


@pytest.mark.parametrize("n_fft,hop,n_frames", [(4, 3, 1), (4, 3, 2), (7, 2, 3), (7, 2, 4), (7, 2, 9),
                                                (16, 16, 5), (9, 1, 8), (9, 1, 9), (9, 1, 30)])
def test_envelope_equals_the_sum_of_squared_windows(n_fft, hop, n_frames):
    window = np.random.default_rng(n_fft * hop + n_frames).uniform(0.1, 1.0, n_fft)
    plan = specsep.STFT(n_fft, hop, window=window, center=False, dtype=np.float64)
    expected = np.zeros(n_fft + hop * (n_frames - 1))
    for t in range(n_frames):
        expected[t * hop:t * hop + n_fft] += window ** 2
    np.testing.assert_allclose(plan.envelope(n_frames), expected, rtol=1e-15)
    # the assembled envelope has the bits of the direct sum over one window chunk after another
    direct = _plan._direct_envelope(plan.window64.tobytes(), n_fft, hop, n_frames)[:expected.size]
    assert plan.envelope(n_frames).tobytes() == direct.tobytes()


@pytest.fixture
def one_thread(kernels):
    """One cpu thread (every task on the caller: which thread runs which task is up to the OS)."""
    threads = kernels.get_num_threads()
    kernels.set_num_threads(1)
    yield
    kernels.set_num_threads(threads)


@needs_cpu
def test_fft_scratch_is_released(kernels, one_thread):
    """Scratch for a huge n_fft is given back at the thread's next call with ordinary frames, and
    clear_caches() frees all of it."""
    x = np.random.default_rng(0).standard_normal(1 << 18).astype(np.float32)
    specsep.clear_caches()  # earlier calls may have left larger scratch that is kept (<= 2^16 points)
    specsep.stft(x, n_fft=2048, backend="cpu")
    ordinary = kernels.scratch_bytes()
    specsep.stft(x, n_fft=1 << 18, hop_length=1 << 16, backend="cpu")
    assert kernels.scratch_bytes() > ordinary + (16 << 20)  # > 64 B per frame sample
    specsep.stft(x, n_fft=2048, backend="cpu")
    assert kernels.scratch_bytes() == ordinary
    assert specsep.clear_caches() >= ordinary > 0
    assert kernels.scratch_bytes() == 0


@needs_cpu
def test_clear_caches_empties_every_cache(kernels):
    x = np.random.default_rng(0).standard_normal(1 << 19).astype(np.float32)
    X = specsep.stft(x, n_fft=1024, backend="cpu")
    y = specsep.istft(X, n_fft=1024, backend="numpy")
    del X, y  # the stft's 2 MB output goes to the buffer cache
    held = kernels.cached_bytes() + kernels.scratch_bytes()
    assert kernels.cached_bytes() > 0 and kernels.scratch_bytes() > 0
    assert _plan._cached.cache_info().currsize > 0 and _plan._envelope_of_q_frames.cache_info().currsize > 0
    assert specsep.clear_caches() == held
    assert kernels.cached_bytes() == kernels.scratch_bytes() == 0
    assert _plan._cached.cache_info().currsize == 0
    assert _plan._envelope_of_q_frames.cache_info().currsize == 0
    from specsep._backends import cpu as cpu_backend

    assert cpu_backend._kernels.cache_info().currsize == 0
    if "cuda-emu" in specsep.available_backends():
        from specsep import _backends

        emu = _backends.select("cuda-emu")
        specsep.stft(x[:4096], n_fft=256, backend="cuda-emu")
        assert emu._constants_of.cache_info().currsize > 0
        specsep.clear_caches()
        assert emu._constants_of.cache_info().currsize == 0


def _istft_output(length):
    """A float32 cpu istft output of ``length`` samples (4 * length bytes from the buffer cache)."""
    X = np.zeros((129, 3), dtype=np.complex64)
    return specsep.istft(X, n_fft=256, hop_length=64, length=length, backend="cpu")


@needs_cpu
def test_buffer_cache_keeps_the_latest_sizes_within_its_budget(kernels, cache_limit):
    specsep.clear_caches()
    kernels.set_buffer_cache_limit(8 << 20)
    mb = 1 << 18  # float32 samples per MB
    for size in (3 * mb, 3 * mb + 16, 3 * mb + 32):  # three blocks of ~3 MB, one after another
        _istft_output(size)
        assert kernels.cached_bytes() <= 8 << 20
    assert kernels.cached_bytes() == 4 * (6 * mb + 48)  # the oldest one was evicted for the newest
    held = kernels.cached_bytes()
    y = _istft_output(3 * mb + 32)  # the newest size is reused from the cache
    assert kernels.cached_bytes() == held - 4 * (3 * mb + 32)
    del y
    kernels.set_buffer_cache_limit(2 << 20)
    assert kernels.cached_bytes() == 0
    _istft_output(3 * mb)  # larger than the budget: not kept
    assert kernels.cached_bytes() == 0


def _import_with(variable, value):
    env = {**os.environ, variable: value}
    code = ("import specsep._backends.cpu as c; "
            "print(c.kernels_module.buffer_cache_limit(), c.kernels_module.get_num_threads())")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


@needs_cpu
@pytest.mark.parametrize("variable,value", [
    ("SPECSEP_BUFFER_CACHE_MB", "-1"), ("SPECSEP_BUFFER_CACHE_MB", "1e3"), ("SPECSEP_BUFFER_CACHE_MB", " 8"),
    ("SPECSEP_BUFFER_CACHE_MB", ""), ("SPECSEP_BUFFER_CACHE_MB", "99999999999999999999"),
    ("SPECSEP_NUM_THREADS", "0"), ("SPECSEP_NUM_THREADS", "2x"), ("SPECSEP_NUM_THREADS", "-4"),
])
def test_environment_variables_are_parsed_strictly(variable, value):
    result = _import_with(variable, value)
    assert result.returncode != 0
    assert f"ValueError: environment variable {variable}=" in result.stderr


@needs_cpu
def test_environment_variables_set_the_cpu_backend():
    assert _import_with("SPECSEP_BUFFER_CACHE_MB", "3").stdout.split()[0] == str(3 << 20)
    assert _import_with("SPECSEP_NUM_THREADS", "3").stdout.split()[1] == "3"


@needs_cpu
def test_buffer_cache_serves_slightly_smaller_requests(kernels, cache_limit):
    """Lengths that vary a little share blocks: a cached block serves requests down to 4/5 of it."""
    specsep.clear_caches()
    mb = 1 << 18  # float32 samples per MB
    _istft_output(4 * mb)
    assert kernels.cached_bytes() == 16 * mb
    y = _istft_output(int(3.5 * mb))  # served by the 4 MB block
    assert kernels.cached_bytes() == 0
    del y
    assert kernels.cached_bytes() == 16 * mb  # the block goes back with its own size
    y = _istft_output(2 * mb)  # would waste half of it: a block of its own
    assert kernels.cached_bytes() == 16 * mb
    del y
    assert kernels.cached_bytes() == 16 * mb + 8 * mb


_RSS_SCRIPT = """
import numpy as np, specsep
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 >> 20
X = np.zeros((129, 3), dtype=np.complex64)
specsep.istft(X, n_fft=256, hop_length=64, length=1000, backend="cpu")
base = rss_mb()
rng = np.random.default_rng(0)
peak = 0
for _ in range(150):  # outputs of 1 to 16 MB, every page touched, freed at once
    y = specsep.istft(X, n_fft=256, hop_length=64, length=int(rng.integers(1 << 18, 1 << 22)), backend="cpu")
    y[::1024] = 1.0
    del y
    peak = max(peak, rss_mb() - base)
specsep.clear_caches()
print(peak, rss_mb() - base)
"""


@pytest.mark.slow
@needs_cpu
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/statm: Linux")
def test_buffer_cache_budget_holds_in_resident_memory():
    """150 outputs of varying size under a 64 MB budget: resident memory stays within the budget
    plus one output, and clear_caches() gives it all back to the system."""
    env = {**os.environ, "SPECSEP_BUFFER_CACHE_MB": "64"}
    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT], env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    peak, after = map(int, out.stdout.split())
    assert peak <= 64 + 16 + 8, f"resident memory grew by {peak} MB"
    assert after <= 8, f"{after} MB still resident after clear_caches()"
