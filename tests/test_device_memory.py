"""Device memory on the CUDA path, through cuda-emu (the same orchestration as on a GPU): every
method sizes its allocations before making any, refuses what does not fit with a MemoryError
naming both sizes, and Griffin-Lim/MISI split a batch into groups of items that fit, with the
same bits as one call. The inputs are in the emulator's device memory (host arrays are staged in
blocks that fit: tests/test_host_arrays.py)."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest
from conftest import assert_same_bits

import specsep
from specsep import _backends
from specsep._backends.cuda import HEADROOM
from specsep._cuda.launcher import EMULATED_DEVICE_MEMORY as EMULATED
from specsep._random_angles import RandomAngles

pytestmark = pytest.mark.skipif("cuda-emu" not in specsep.available_backends(), reason="cuda-emu not built")

KW = dict(n_fft=256, hop_length=64)
REFUSAL = r"on the cuda-emu backend needs ([\d,]+) bytes \(.* GiB\) of device memory.* but ([\d,]+) bytes .* is free"


@pytest.fixture
def emulator():
    return _backends.select("cuda-emu")


@pytest.fixture
def no_launches(emulator, monkeypatch):
    """Fail on any kernel launch: a refusal must come before the work."""
    def launch(*args, **kwargs):  # pragma: no cover - reaching it is the failure
        raise AssertionError("a kernel ran before the memory check")
    monkeypatch.setattr(emulator.launcher, "launch", launch)


def _signals(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_transforms_refuse_what_does_not_fit(emulator, no_launches, monkeypatch):
    x = emulator.xp.asarray(_signals((4, 20000)))
    X = emulator.xp.asarray(specsep.stft(_signals((4, 20000)), **KW, backend="cpu"))
    M = emulator.xp.ones((4, 2) + X.shape[-2:], np.float32)
    monkeypatch.setattr(emulator.launcher, "device_memory", 100_000)
    for name, call in [("stft", lambda: specsep.stft(x, **KW, backend="cuda-emu")),
                       ("istft", lambda: specsep.istft(X, **KW, backend="cuda-emu")),
                       ("separate", lambda: specsep.separate(x, M, **KW, backend="cuda-emu")),
                       ("griffin_lim", lambda: specsep.griffin_lim(np.abs(X), **KW, n_iter=2, backend="cuda-emu")),
                       ("misi", lambda: specsep.misi(x, np.abs(X)[:, None].repeat(2, 1), **KW, n_iter=2, init="random",
                                                     backend="cuda-emu"))]:
        with pytest.raises(MemoryError, match=rf"^{name} {REFUSAL}") as refused:
            call()
        needed, free = (int(n.replace(",", "")) for n in re.search(REFUSAL, str(refused.value)).groups())
        assert needed > free == 100_000


def test_chunk_frames_bound_the_transforms_workspace(emulator, monkeypatch):
    """What whole-signal calls are refused for, blocks of frames fit (the outputs are the caller's)."""
    x = emulator.xp.asarray(_signals((2, 60000)))
    whole = specsep.stft(x, **KW, backend="cuda-emu")
    y_whole = specsep.istft(whole, **KW, length=60000, backend="cuda-emu")
    monkeypatch.setattr(emulator.launcher, "device_memory", 2**20)  # the spectrogram is 1.8 MiB
    spectrogram = whole.size * whole.itemsize  # the output, all stft allocates for contiguous input
    with pytest.raises(MemoryError, match=rf"stft on the cuda-emu backend needs {spectrogram:,} bytes"):
        specsep.stft(x, **KW, backend="cuda-emu")
    assert_same_bits(specsep.stft(x, **KW, backend="cuda-emu", chunk_frames=128), whole, "chunked stft")
    assert_same_bits(specsep.istft(whole, **KW, length=60000, backend="cuda-emu", chunk_frames=128), y_whole,
                     "chunked istft")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_phase_retrieval_runs_in_groups_that_fit(emulator, monkeypatch, dtype):
    x = _signals((5, 3000), dtype)
    S = emulator.xp.asarray(np.abs(specsep.stft(x, **KW, backend="cpu")))
    sources = np.stack([x, 0.5 * x[:, ::-1]], axis=1)
    S_sources = emulator.xp.asarray(np.abs(specsep.stft(sources, **KW, backend="cpu")))
    x = emulator.xp.asarray(x)
    kw = dict(KW, n_iter=6, rng=2, tol=0.05, return_history=True, backend="cuda-emu")
    whole = (specsep.griffin_lim(S, **kw), specsep.misi(x, S_sources, **kw))
    plan = specsep.STFT(**KW, dtype=dtype)  # the iteration's precision: the data's
    launches = []
    retrieve = emulator._retrieve
    monkeypatch.setattr(emulator, "_retrieve", lambda plan, S, *a: launches.append(S.shape[0]) or retrieve(plan, S, *a))
    grouped = []
    for call, sources, mixture in ((lambda: specsep.griffin_lim(S, **kw), 1, False),
                                   (lambda: specsep.misi(x, S_sources, **kw), 2, True)):
        workspace, held = emulator._retrieval_bytes(plan, sources, S.shape[-1], 3000, 6, x.itemsize, mixture)
        usable = 5 * held + 2 * workspace + 1  # the outputs of the 5 items, the workspace of two at a time
        monkeypatch.setattr(emulator.launcher, "device_memory", -(-usable // (1 - HEADROOM)))
        grouped.append(call())
    assert launches == [2, 2, 1, 4, 4, 2]  # spectrograms per call: items, then items x 2 sources
    assert_same_bits(tuple(grouped), whole, "phase retrieval in groups")


# tracemalloc also counts the interpreter's objects (frames, tuples, array headers) beside the arrays
INTERPRETER_BYTES = 32 * 1024


def _allocation_peak(call):
    """Peak bytes allocated while ``call()`` runs: under the emulator the orchestration's device
    arrays are NumPy arrays, which NumPy reports to tracemalloc."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_allocations_stay_under_the_free_memory(emulator, monkeypatch, dtype):
    """The count each method makes before allocating covers its real peak: with the device memory
    lowered until each method is at the edge of refusing (the transforms) or runs two items at a
    time (phase retrieval), what it allocates stays under that memory."""
    x = emulator.xp.asarray(_signals((6, 3000), dtype))
    plan = specsep.STFT(**KW, dtype=dtype)
    other = specsep.STFT(**KW, dtype=np.float64 if dtype == np.float32 else np.float32)
    X = emulator.stft(plan, x)
    S = np.abs(X)
    S_sources = np.abs(emulator.stft(plan, emulator.xp.stack([x, x[:, ::-1]], axis=1)))
    M = emulator.xp.ones((6, 2) + X.shape[-2:], dtype)
    draws, source_draws = (RandomAngles(np.random.default_rng(3).random(shape)) for shape in (S.shape, S_sources.shape))
    weights = np.full(2, 0.5)
    counted = []
    reserve, groups = emulator._reserve, emulator._groups_that_fit
    monkeypatch.setattr(emulator, "_reserve", lambda what, nbytes: counted.append(nbytes) or reserve(what, nbytes))
    monkeypatch.setattr(emulator, "_groups_that_fit", lambda what, per_item, items, fixed: counted.append(
        fixed + 2 * per_item) or groups(what, per_item, items, fixed))
    calls = {
        "stft": lambda: emulator.stft(plan, x),
        "istft": lambda: emulator.istft(plan, X, plan.istft_length(X.shape[-1])),
        "separate": lambda: emulator.separate(plan, x, M, 3000),
        "griffin_lim": lambda: emulator.griffin_lim(plan, S, 4, 0.99, draws, plan.istft_length(S.shape[-1]), None),
        "misi": lambda: emulator.misi(plan, x, S_sources, 4, 0.5, source_draws, weights, None),
        # iterating in the other precision (the precision= argument)
        "griffin_lim, other precision": lambda: emulator.griffin_lim(other, S, 4, 0.99, draws, plan.istft_length(S.shape[-1]),
                                                                      None),
        "misi, other precision": lambda: emulator.misi(other, x, S_sources, 4, 0.5, source_draws, weights, None),
    }
    for name, call in calls.items():
        counted.clear()
        call()  # what the method counts (for phase retrieval: the output and two items' workspace)
        memory = int(max(counted) / (1 - HEADROOM)) + 1
        monkeypatch.setattr(emulator.launcher, "device_memory", memory)
        peak = _allocation_peak(call)
        assert peak <= memory + INTERPRETER_BYTES, f"{name} allocated {peak:,} bytes with {memory:,} free"
        monkeypatch.setattr(emulator.launcher, "device_memory", EMULATED)


def test_global_scratch_of_phase_retrieval_is_counted(emulator, monkeypatch):
    """An FFT too big for a T4's shared memory runs the global-memory kernels, whose per-launch
    scratch is part of each item's workspace: with memory for one item at a time, the peak stays
    under it."""
    from specsep._cuda.launcher import emulated_device

    kw = dict(n_fft=16384, hop_length=4096)
    x = _signals((2, 8192), np.float64)
    S = emulator.xp.asarray(np.abs(specsep.stft(x, **kw, backend="cpu")))
    plan = specsep.STFT(**kw, dtype=np.float64)
    draws = RandomAngles(np.random.default_rng(4).random(S.shape))
    counted = []
    groups = emulator._groups_that_fit
    monkeypatch.setattr(emulator, "_groups_that_fit", lambda what, per_item, items, fixed: counted.append(
        fixed + per_item) or groups(what, per_item, items, fixed))
    with emulated_device("T4"):
        assert emulator._scratch_bytes(plan, 1, S.shape[-1], 8192) > 0  # the global path
        call = lambda: emulator.griffin_lim(plan, S, 2, 0.99, draws, plan.istft_length(S.shape[-1]), None)  # noqa: E731
        call()
        memory = int(counted[-1] / (1 - HEADROOM)) + 1  # one item at a time
        monkeypatch.setattr(emulator.launcher, "device_memory", memory)
        peak = _allocation_peak(call)
    assert peak <= memory + INTERPRETER_BYTES, f"allocated {peak:,} bytes with {memory:,} free"
