"""Host arrays on the device backend, through cuda-emu (the same code as backend='cuda' with NumPy
input): blocks staged through page-locked buffers on two streams give the bits of the device-array
calls, the copy of block k + 1 is issued on the other stream before the host waits for block k,
device and page-locked memory stay bounded by the block size, and bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import RTOL, assert_close, assert_same_bits

import specsep
from specsep import _backends
from specsep._arrays import namespace
from specsep._cuda import host

pytestmark = pytest.mark.skipif("cuda-emu" not in specsep.available_backends(), reason="cuda-emu not built")

KW = dict(n_fft=256, hop_length=64)


@pytest.fixture
def emulator():
    return _backends.select("cuda-emu")


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of about 40 KiB: a few seconds of audio make many."""
    monkeypatch.setattr(host, "BLOCK_BYTES", 40_000)


def _signals(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _calls(x):
    """Every method on ``x`` (host or emulated device signals, 2 items), seeded: name -> call(backend)."""
    xp = namespace(x)
    X = specsep.stft(x, **KW, backend="cuda-emu")
    S = np.abs(X)
    masks = xp.asarray(np.random.default_rng(1).uniform(size=(x.shape[0], 3) + X.shape[-2:]).astype(x.dtype))
    S_sources = np.abs(specsep.stft(xp.stack([x, 0.5 * x], axis=-2), **KW, backend="cuda-emu"))
    return {
        "stft": lambda: specsep.stft(x, **KW, backend="cuda-emu"),
        "istft": lambda: specsep.istft(X, **KW, length=x.shape[-1], backend="cuda-emu"),
        "apply_mask": lambda: specsep.apply_mask(X, masks, backend="cuda-emu"),
        "separate": lambda: specsep.separate(x, masks, **KW, backend="cuda-emu"),
        "griffin_lim": lambda: specsep.griffin_lim(S, **KW, n_iter=3, rng=2, return_history=True, backend="cuda-emu"),
        "misi": lambda: specsep.misi(x, S_sources, **KW, n_iter=3, tol=1e-4, return_history=True, backend="cuda-emu"),
    }


def _host(result):
    return tuple(np.asarray(part) for part in result) if isinstance(result, tuple) else np.asarray(result)


@pytest.mark.parametrize("shape", [(1, 9000), (40, 300)], ids=["item larger than a block", "many small items"])
@pytest.mark.parametrize("method", ["stft", "istft", "apply_mask", "separate", "griffin_lim", "misi"])
def test_host_arrays_give_the_bits_of_device_arrays(emulator, small_blocks, method, shape, dtype):
    x = _signals(shape, dtype)
    on_device = _calls(emulator.xp.asarray(x))[method]()
    on_host = _calls(x)[method]()
    for part in on_host if isinstance(on_host, tuple) else (on_host,):
        assert type(part) is np.ndarray
    assert_same_bits(on_host, _host(on_device), f"{method} of host arrays")
    if method == "stft":  # and the device path is the reference's (tests/test_backend_agreement.py for the rest)
        assert_close(on_host, specsep.stft(x, **KW, backend="numpy"), RTOL[x.dtype])


def test_blocks_overlap_on_two_streams(emulator, small_blocks):
    """Block k + 1's host-to-device copy is issued on the other stream before the host waits for
    block k, and each block's kernels and result copy run on its own stream."""
    x = _signals((1, 9000), np.float32)
    with emulator.launcher.recording() as log:
        specsep.stft(x, **KW, backend="cuda-emu")
    copies = [i for i, (op, _, _) in enumerate(log) if op == "h2d"]
    waits = [i for i, (op, _, _) in enumerate(log) if op == "wait"]
    assert len(copies) == len(waits) >= 4
    streams = [log[i][1] for i in copies]
    assert all(a != b for a, b in zip(streams, streams[1:]))  # alternating streams
    assert [log[i][1] for i in waits] == streams  # each block waited on its own stream
    for k in range(len(copies) - 1):
        assert copies[k + 1] < waits[k], f"block {k + 1}'s copy comes after the wait for block {k}"
        between = log[copies[k]:copies[k + 1]]
        kernels = [stream for op, stream, _ in between if op in ("kernel", "d2h")]
        assert kernels and set(kernels) == {streams[k]}, between  # block k's kernels and result: its stream


def test_memory_is_bounded_by_the_blocks(emulator, monkeypatch):
    """A signal 8x larger than the free device memory: it runs, the device holds at most the two
    blocks in flight (the emulator's accounting), and the page-locked staging is a few blocks."""
    x = _signals((2, 500_000), np.float32)  # 4 MB of input, 16 MB of spectrogram
    expected = specsep.stft(x, **KW, backend="cpu")
    monkeypatch.setattr(emulator.launcher, "device_memory", 2**21)
    xp = emulator.xp
    held = xp.in_use  # the plans' constants
    xp.reset_peak()
    emulator.launcher.reset_pinned_peak()
    got = specsep.stft(x, **KW, backend="cuda-emu")
    assert_close(got, expected, RTOL[x.dtype])
    assert xp.peak - held <= 2**21
    assert emulator.launcher.pinned_peak <= 2**21 < (x.nbytes + expected.nbytes) // 8


def test_out_takes_a_host_buffer(dtype):
    x = _signals((3, 5000), dtype)
    X = specsep.stft(x, **KW, backend="cuda-emu")
    out = np.full(X.shape, np.nan, X.dtype)
    assert specsep.stft(x, **KW, backend="cuda-emu", out=out, chunk_frames=7) is out
    assert_same_bits(out, X, "stft into out")
    y = np.full(x.shape, np.nan, dtype)
    assert specsep.istft(X, **KW, length=x.shape[-1], backend="cuda-emu", out=y, chunk_frames=5) is y
    assert_same_bits(y, specsep.istft(X, **KW, length=x.shape[-1], backend="cuda-emu"), "istft into out")


def test_chunk_frames_bounds_the_blocks(emulator):
    x = _signals((1, 6400), np.float32)
    with emulator.launcher.recording() as log:
        specsep.stft(x, **KW, backend="cuda-emu", chunk_frames=20)
    assert sum(op == "h2d" for op, _, _ in log) == -(-(6400 // 64 + 1) // 20)


def test_a_device_out_with_host_input_is_refused(emulator):
    x = _signals((2, 3000), np.float32)
    out = emulator.xp.empty((2, 129, 47), np.complex64)
    with pytest.raises(TypeError, match=r"out must be the same kind of array as the input \(ndarray\), "
                                        r"got DeviceArray"):
        specsep.stft(x, **KW, backend="cuda-emu", out=out)


def test_a_host_out_with_device_input_is_refused(emulator):
    x = emulator.xp.asarray(_signals((2, 3000), np.float32))
    with pytest.raises(TypeError, match=r"out must be the same kind of array as the input \(DeviceArray\), "
                                        r"got ndarray"):
        specsep.stft(x, **KW, backend="cuda-emu", out=np.empty((2, 129, 47), np.complex64))


def test_arrays_on_two_devices_are_refused(emulator, monkeypatch):
    x = emulator.xp.asarray(_signals((2, 3000), np.float32))
    monkeypatch.setattr(emulator.launcher, "device", 1)
    M = emulator.xp.ones((2, 129, 47), np.float32)
    with pytest.raises(ValueError, match=r"must be on one CUDA device, got x_mix on cuda:0, M on cuda:1"):
        specsep.separate(x, M, **KW, backend="cuda-emu")


def test_device_masks_with_a_host_mixture_are_refused(emulator):
    x = _signals((2, 3000), np.float32)
    M = emulator.xp.ones((2, 129, 47), np.float32)
    with pytest.raises(TypeError, match=r"M is in device memory but the call's input is a host \(NumPy\) array"):
        specsep.separate(x, lambda first, stop: M[..., first:stop], **KW, backend="cuda-emu")


def test_emulated_and_cuda_arrays_do_not_mix_backends(emulator):
    x = emulator.xp.asarray(_signals((2, 3000), np.float32))
    with pytest.raises(ValueError, match=r"backend='cpu' takes NumPy arrays, but the input is in CUDA device memory"):
        specsep.stft(x, **KW, backend="cpu")
    assert type(specsep.stft(x, **KW)) is type(x)  # backend=None: the emulator's, for its arrays


def test_pinned_memory_unavailable_is_an_error_before_any_copy(emulator, monkeypatch):
    monkeypatch.setattr(emulator.launcher, "pinned_memory", 1000)
    x = _signals((2, 3000), np.float32)
    with emulator.launcher.recording() as log, pytest.raises(
            MemoryError, match=r"pinned \(page-locked\) host memory of [\d,]+ bytes .* is unavailable"):
        specsep.stft(x, **KW, backend="cuda-emu")
    assert log == []


def test_a_kernel_refuses_host_arrays(emulator):
    """The emulator's check that keeps the pipeline honest: no host array reaches a kernel."""
    plan = specsep.STFT(**KW, dtype=np.float32)
    with pytest.raises(ValueError, match=r"argument 0 is a host array \(numpy.ndarray\), but a kernel reads "
                                         r"device memory"):
        emulator._stft_rows(plan, np.zeros((1, 2000), np.float32), plan.n_frames(2000))


def test_a_block_that_does_not_fit_is_refused_before_any_kernel(emulator, monkeypatch):
    """Blocks shrink to one frame (one group of one item); what does not fit even so meets the
    device backend's own memory check, the error of device arrays."""
    monkeypatch.setattr(emulator.launcher, "device_memory", 10_000)
    x = _signals((16, 20000), np.float32)  # the spectrum of one frame of 16 signals: 16.5 KB
    with emulator.launcher.recording() as log, pytest.raises(
            MemoryError, match=r"^stft on the cuda-emu backend needs [\d,]+ bytes .* of device memory "
                               r"but 10,000 bytes"):
        specsep.stft(x, **KW, backend="cuda-emu")
    assert [op for op, _, _ in log if op == "kernel"] == []
