"""Device limits on the CUDA path, through cuda-emu and its device profiles (the emulator refuses
a launch as that device would): grid dimensions, threads and shared memory per block. The
orchestration reads the limits from its launcher, splits every launch over signals or items to
fit gridDim.y, and sizes shared memory to the device, with the same bits on every device."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same_bits

import specsep
from specsep import _backends

pytestmark = pytest.mark.skipif("cuda-emu" not in specsep.available_backends(), reason="cuda-emu not built")

SELFTEST_MISSING = ("specsep._emu_selftest is test-only and not in wheels "
                    "(build with SPECSEP_INSTALL_TEST_MODULES=ON, as .ci/run does)")
_emu = pytest.importorskip("specsep._emu")
selftest = pytest.importorskip("specsep._emu_selftest", reason=SELFTEST_MISSING)
from specsep._cuda.launcher import emulated_device  # noqa: E402

KIB = 1024
CUDA_GRID = (2**31 - 1, 65535, 65535)
LOW_GRID = (2**31 - 1, 3, 3)  # gridDim.y of 3: every batch below needs several launches


def _signals(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---- the emulator's device profiles ------------------------------------------------------------------

@pytest.mark.parametrize(("profile", "optin"), [("T4", 64 * KIB), ("A100", 163 * KIB), ("RTX 4090", 99 * KIB),
                                                ("H100", 227 * KIB)])
def test_device_profiles(profile, optin):
    with emulated_device(profile):
        assert _emu.device_profile() == dict(name=profile, max_threads_per_block=1024, max_grid=CUDA_GRID,
                                             shared_default=48 * KIB, shared_optin=optin)
        launcher = _backends.select("cuda-emu").launcher
        assert (launcher.max_grid, launcher.max_shared_memory) == (CUDA_GRID, optin)
    assert _emu.device_profile()["name"] == "H100"  # the default, restored


def test_unknown_profile():
    with pytest.raises(ValueError, match=r"no device profile named 'V100'; known: T4, A100, RTX 4090, H100"):
        _emu.set_device_profile("V100")


def test_static_shared_size_is_ptxas_figure():
    """The emulator's static shared memory per kernel is ptxas's (docs/kernel-resources.md, sm_90)."""
    table = (Path(__file__).resolve().parents[1] / "docs" / "kernel-resources.md").read_text()
    ptxas = {name: int(smem) for name, smem in re.findall(r"^\| `([^`]+)` \| sm_90 \| .* \| (\d+) \|$", table, re.M)}
    assert set(ptxas) == set(_emu.kernels())
    assert {name: _emu.static_shared_size(name) for name in _emu.kernels()} == ptxas
    assert selftest.static_shared_size("specsep::cuda::selftest_reverse<double>") == 1024 * 8


@pytest.fixture
def selftest_device():
    """set(profile, **limits) on specsep._emu_selftest (an emulator of its own), restored after."""
    previous = selftest.device_profile()
    yield selftest.set_device_profile
    selftest.set_device_profile(previous.pop("name"), **previous)


def _reverse(dtype, grid, shared_mem):
    x = np.arange(int(np.prod(grid)) * 32, dtype=dtype)
    selftest.launch(f"specsep::cuda::selftest_reverse<{'double' if dtype == np.float64 else 'float'}>", grid, (32,),
                    (x, np.empty_like(x), np.int32(shared_mem > 0)), shared_mem=shared_mem)


def test_launch_checks_static_plus_dynamic_shared_memory(selftest_device):
    selftest_device("T4")
    _reverse(np.float64, (1,), 64 * KIB - 8192)  # 8 KiB static: the rest may be dynamic
    with pytest.raises(ValueError, match=r"8192 bytes of static and 57345 of dynamic shared memory exceed the "
                                         r"65536 bytes a block may have on the T4"):
        _reverse(np.float64, (1,), 64 * KIB - 8192 + 1)


def test_launch_checks_lowered_grid_limits(selftest_device):
    selftest_device("H100", max_grid=LOW_GRID)
    _reverse(np.float32, (5, 3), 0)
    with pytest.raises(ValueError, match=r"grid \(1, 4, 1\) exceeds the H100's grid limits \(2147483647, 3, 3\)"):
        _reverse(np.float32, (1, 4), 0)


# ---- gridDim.y: signals and items split over launches ------------------------------------------------

KW = dict(n_fft=64, hop_length=16)


def _stft(x):
    return specsep.stft(x, **KW, backend="cuda-emu")


def _istft(x):
    return specsep.istft(specsep.stft(x, **KW, backend="cpu"), **KW, length=x.shape[-1], backend="cuda-emu")


def _separate(x):
    masks = np.random.default_rng(1).uniform(size=(x.shape[0], 2, KW["n_fft"] // 2 + 1, x.shape[-1] // 16 + 1))
    return specsep.separate(x, masks, **KW, backend="cuda-emu")


def _griffin_lim(x):
    S = np.abs(specsep.stft(x, **KW, backend="cpu"))
    return specsep.griffin_lim(S, n_iter=3, rng=2, return_history=True, **KW, backend="cuda-emu")


def _misi(x):
    sources = np.stack([x, 0.5 * x[:, ::-1]], axis=1)
    S = np.abs(specsep.stft(sources, **KW, backend="cpu"))
    return specsep.misi(x, S, n_iter=3, tol=1e-3, **KW, backend="cuda-emu")


@pytest.mark.parametrize("function", [_stft, _istft, _separate, _griffin_lim, _misi],
                         ids=["stft", "istft", "separate", "griffin_lim", "misi"])
def test_signals_beyond_grid_y_split_into_launches(function):
    """7 items (14 signals for two sources) with gridDim.y lowered to 3: same bits as one launch."""
    x = _signals((7, 400))
    whole = function(x)
    with emulated_device("H100", max_grid=LOW_GRID):
        split = function(x)
    assert_same_bits(split if isinstance(split, tuple) else (split,), whole if isinstance(whole, tuple) else (whole,),
                     function.__name__)


def test_more_sources_than_grid_y_refused_before_any_launch(monkeypatch):
    backend = _backends.select("cuda-emu")
    monkeypatch.setattr(backend.launcher, "launch", lambda *a: pytest.fail("a kernel ran before the check"))
    x = _signals((2, 400))
    S = np.abs(specsep.stft(np.stack([x] * 4, axis=1), **KW, backend="cpu"))
    with emulated_device("H100", max_grid=LOW_GRID), pytest.raises(
            ValueError, match=r"sources: 4 per item on the cuda-emu backend exceed the 3 signals one launch may hold"):
        specsep.misi(x, S, n_iter=2, init="random", rng=0, **KW, backend="cuda-emu")


# ---- shared memory: static + dynamic against the device, segments that shrink, a global path ---------

def _gl(n_fft, dtype=np.float64, n_iter=2):
    hop = n_fft // 4
    x = _signals((1, 3 * n_fft), dtype)
    S = np.abs(specsep.stft(x, n_fft=n_fft, hop_length=hop, backend="cpu"))
    return specsep.griffin_lim(S, n_iter=n_iter, hop_length=hop, rng=3, return_history=True, backend="cuda-emu")


@pytest.mark.parametrize(("profile", "n_fft"), [("T4", 2048), ("RTX 4090", 4096)])
def test_segments_shrink_to_fit_shared_memory(profile, n_fft):
    """float64 Griffin-Lim whose iSTFT segment of 8 hops does not fit the device beside its static
    shared memory (T4 at n_fft 2048, RTX 30/40 at 4096): shorter segments, the same bits."""
    backend = _backends.select("cuda-emu")
    plan = specsep.STFT(n_fft=n_fft, hop_length=n_fft // 4, dtype=np.float64)
    whole = _gl(n_fft)
    assert backend._segment(plan)[0] == 8 * plan.hop_length
    with emulated_device(profile):
        segment, work = backend._segment(plan)
        assert work[0] == "shared" and segment < 8 * plan.hop_length
        assert_same_bits(_gl(n_fft), whole, f"griffin_lim on the {profile}")


def test_work_too_big_for_shared_memory_runs_in_global_memory():
    """n_fft 16384 in float64 fits no block's shared memory on a T4: the *_global kernels run it."""
    from conftest import RTOL, assert_close

    n_fft, hop = 16384, 4096
    x = _signals((1, 2 * n_fft))
    before = _emu.launches()
    with emulated_device("T4"):
        X = specsep.stft(x, n_fft=n_fft, hop_length=hop, backend="cuda-emu")
        y = specsep.istft(X, n_fft=n_fft, hop_length=hop, length=x.shape[-1], backend="cuda-emu")
        gl = _gl(n_fft, n_iter=1)
    launched = {name: count - before[name] for name, count in _emu.launches().items()}
    assert all(launched[f"specsep::cuda::{k}_global<double>"] > 0 for k in ("stft", "istft", "stft_phase_update"))
    assert_close(X, specsep.stft(x, n_fft=n_fft, hop_length=hop, backend="numpy"), RTOL[np.dtype(np.float64)])
    assert_close(y, x, RTOL[np.dtype(np.float64)])
    S = np.abs(specsep.stft(_signals((1, 3 * n_fft)), n_fft=n_fft, hop_length=hop, backend="cpu"))
    reference = specsep.griffin_lim(S, n_iter=1, hop_length=hop, rng=3, return_history=True, backend="numpy")
    assert_close(gl[0], reference[0], RTOL[np.dtype(np.float64)])
