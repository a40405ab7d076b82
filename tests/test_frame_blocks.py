"""The forward STFT kernels run several consecutive frames of one signal per block (cpp/cuda/stft.cu,
FRAMES_PER_BLOCK in _backends/cuda.py): the grid the launches get, and the same bits whatever the
frames per block, where frames are not a multiple of it, where there is one frame, and where it
exceeds the frame count (each frame is computed exactly as with one frame per block)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_bits

import specsep
from specsep import _backends
from specsep._backends import cuda

pytestmark = pytest.mark.skipif("cuda-emu" not in specsep.available_backends(), reason="cuda-emu not built")

N_FFT, HOP = 32, 8
# The forward kernels and the position of their frames_per_block argument.
FORWARD = {"stft": 12, "stft_phase_update": 11}


def _signals(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _transforms(x):
    """stft, Griffin-Lim with its error tracked and MISI with momentum of x (1 item, 2 sources, samples):
    the forward kernels' paths."""
    kw = dict(n_fft=N_FFT, hop_length=HOP)
    X = specsep.stft(x, **kw, pad_mode="reflect" if x.shape[-1] > N_FFT // 2 else "constant", backend="cuda-emu")
    S = np.abs(specsep.stft(x, **kw, backend="cpu"))
    gl = specsep.griffin_lim(S[0], n_iter=3, rng=1, length=x.shape[-1], return_history=True, **kw,
                             backend="cuda-emu")
    misi = specsep.misi(x.sum(1), S, n_iter=3, momentum=0.5, length=x.shape[-1], return_history=True, **kw,
                        backend="cuda-emu")
    return (X, *gl, *misi)


@pytest.fixture
def launches(monkeypatch):
    """``(kernel, grid, args)`` of every cuda-emu launch of a forward STFT kernel in the test."""
    launcher = _backends.select("cuda-emu").launcher
    record, launch = [], launcher.launch

    def recorded(name, grid, block, args, shared_mem):
        kernel = name.split("::")[-1].split("<")[0].removesuffix("_global")
        if kernel in FORWARD:
            record.append((kernel, tuple(grid), args))
        return launch(name, grid, block, args, shared_mem)

    monkeypatch.setattr(launcher, "launch", recorded)
    return record


# 41 samples: 6 frames (not a multiple of 4); 1 sample: one frame
@pytest.mark.parametrize("samples", [41, 1])
def test_forward_launches_run_several_frames_per_block(launches, samples):
    x = _signals((1, 2, samples), np.float32)
    _transforms(x)
    n_frames = 1 + samples // HOP
    per_block = min(cuda.FRAMES_PER_BLOCK, n_frames)
    assert {kernel for kernel, _, _ in launches} == set(FORWARD)
    for kernel, grid, args in launches:
        assert grid[0] == -(-n_frames // per_block), kernel
        assert args[FORWARD[kernel] - 1] == n_frames and args[FORWARD[kernel]] == per_block, kernel
    if samples == 41:
        assert cuda.FRAMES_PER_BLOCK > 1 and grid[0] < n_frames  # several frames in a block


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("samples", [41, 100, 1])  # 6, 13 and 1 frames
@pytest.mark.parametrize("per_block", [3, 4, 64])  # a divisor of 6, none of 13; more than the frames
def test_frames_per_block_keep_the_bits(monkeypatch, dtype, samples, per_block):
    x = _signals((1, 2, samples), dtype, seed=samples)
    monkeypatch.setattr(cuda, "FRAMES_PER_BLOCK", 1)
    one = _transforms(x)
    monkeypatch.setattr(cuda, "FRAMES_PER_BLOCK", per_block)
    assert_same_bits(_transforms(x), one, f"{per_block} frames per block")


def test_grid_x_limit_counts_blocks_of_frames(monkeypatch):
    """gridDim.x is the blocks of frames of a signal: with it lowered to 3, 12 frames (3 blocks of
    4) run, 13 (4 blocks) are refused before any launch."""
    from specsep._cuda.launcher import emulated_device

    monkeypatch.setattr(cuda, "FRAMES_PER_BLOCK", 4)
    x = _signals((1, 2, 100), np.float64)  # 13 frames
    whole = specsep.stft(x[..., :88], n_fft=N_FFT, hop_length=HOP, backend="cuda-emu")  # 12 frames
    with emulated_device("H100", max_grid=(3, 65535, 65535)):
        assert_same_bits(specsep.stft(x[..., :88], n_fft=N_FFT, hop_length=HOP, backend="cuda-emu"), whole, "stft")
        with pytest.raises(ValueError, match=r"stft on the cuda-emu backend needs gridDim.x = 4 \(blocks of frames"):
            specsep.stft(x, n_fft=N_FFT, hop_length=HOP, backend="cuda-emu")
