"""The real cuda backend against the reference, on CuPy arrays and torch CUDA tensors. Marked
gpu: runs where cupy.cuda.is_available(), skips elsewhere (the emulated path, cuda-emu, runs the
same kernels in every other test)."""

from __future__ import annotations

import numpy as np
import pytest

import specsep
from conftest import RTOL, assert_close, import_torch

cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cupy.cuda.is_available(), reason="no CUDA device"),
]

SIZES = [(512, 128, True, "reflect"), (511, 100, True, "constant"), (256, 64, False, "edge")]


def _signals(rng, dtype, shape=(2, 3, 4000)):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("n_fft, hop, center, pad_mode", SIZES)
def test_stft_istft(rng, dtype, n_fft, hop, center, pad_mode):
    x = _signals(rng, dtype)
    kw = dict(n_fft=n_fft, hop_length=hop, center=center, pad_mode=pad_mode)
    X = specsep.stft(cupy.asarray(x), **kw)
    assert isinstance(X, cupy.ndarray) and X.dtype == np.result_type(dtype, np.complex64)
    reference = specsep.stft(x, **kw, backend="numpy")
    assert_close(cupy.asnumpy(X), reference, RTOL[dtype])
    y = specsep.istft(X, n_fft=n_fft, hop_length=hop, center=center, length=x.shape[-1])
    expected = specsep.istft(reference, n_fft=n_fft, hop_length=hop, center=center, length=x.shape[-1],
                             backend="numpy")
    assert_close(cupy.asnumpy(y), expected, 10 * RTOL[dtype] if not center else RTOL[dtype])


def test_separate_and_masks(rng, dtype):
    sources = _signals(rng, dtype, (2, 3, 8000))
    mix = sources.sum(axis=-2)
    S = specsep.magnitude(specsep.stft(sources, n_fft=512, backend="numpy"))
    M = specsep.masks.ideal_ratio(S)
    ours = specsep.separate(cupy.asarray(mix), cupy.asarray(M), n_fft=512)
    assert_close(cupy.asnumpy(ours), specsep.separate(mix, M, n_fft=512, backend="numpy"), RTOL[dtype])


def test_griffin_lim_and_misi(rng, dtype):
    x = _signals(rng, dtype, (2, 6000))
    S = np.abs(specsep.stft(x, n_fft=512, hop_length=128, backend="numpy"))
    kw = dict(n_iter=16, hop_length=128, init="zeros", tol=1e-3, return_history=True)
    y, history = specsep.griffin_lim(cupy.asarray(S), **kw)
    y_ref, history_ref = specsep.griffin_lim(S, **kw, backend="numpy")
    assert_close(cupy.asnumpy(y), y_ref, 1e-4 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(cupy.asnumpy(history), history_ref, rtol=1e-8)
    sources = _signals(rng, dtype, (2, 3, 6000))
    mix = sources.sum(axis=-2)
    S = np.abs(specsep.stft(sources, n_fft=512, hop_length=128, backend="numpy"))
    out = specsep.misi(cupy.asarray(mix), cupy.asarray(S), n_iter=8, hop_length=128)
    assert_close(cupy.asnumpy(out), specsep.misi(mix, S, n_iter=8, hop_length=128, backend="numpy"),
                 1e-4 if dtype == np.float32 else 1e-10)


def test_torch_cuda_tensor_in(rng):
    torch = import_torch()
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    x = _signals(rng, np.float32, (2, 4000))
    X = specsep.stft(torch.from_numpy(x).cuda(), n_fft=512)
    assert_close(cupy.asnumpy(cupy.asarray(X)), specsep.stft(x, n_fft=512, backend="numpy"), RTOL[np.dtype(np.float32)])


def test_host_arrays_on_cuda_give_the_bits_of_device_arrays(rng):
    """NumPy in, NumPy out, staged through page-locked memory on two streams in several blocks."""
    from specsep._cuda import host

    x = _signals(rng, np.float32, (2, 200_000))
    M = rng.random((2, 3, 257, 200_000 // 128 + 1)).astype(np.float32)
    kw = dict(n_fft=512, hop_length=128)
    previous, host.BLOCK_BYTES = host.BLOCK_BYTES, 2**20
    try:
        X = specsep.stft(x, **kw, backend="cuda")
        y = specsep.istft(X, **kw, length=x.shape[-1], backend="cuda")
        separated = specsep.separate(x, M, **kw, backend="cuda")
        out = np.empty_like(X)
        assert specsep.stft(x, **kw, backend="cuda", out=out, chunk_frames=100) is out
    finally:
        host.BLOCK_BYTES = previous
    assert type(X) is type(y) is type(separated) is np.ndarray
    cupy.testing.assert_array_equal(X, specsep.stft(cupy.asarray(x), **kw).get())
    cupy.testing.assert_array_equal(out, X)
    cupy.testing.assert_array_equal(y, specsep.istft(cupy.asarray(X), **kw, length=x.shape[-1]).get())
    cupy.testing.assert_array_equal(separated, specsep.separate(cupy.asarray(x), cupy.asarray(M), **kw).get())
    with pytest.raises(TypeError, match="out must be the same kind of array as the input"):
        specsep.stft(cupy.asarray(x), **kw, out=np.empty_like(X))


def test_device_array_to_a_host_backend_is_refused(rng):
    with pytest.raises(ValueError, match="in CUDA device memory"):
        specsep.stft(cupy.asarray(_signals(rng, np.float32)), n_fft=512, backend="cpu")


def test_chunks_and_out_on_the_device(rng):
    """chunk_frames and out= with CuPy arrays and torch CUDA tensors: the same bits as whole calls."""
    x = cupy.asarray(_signals(rng, np.float32, (2, 20000)))
    X = specsep.stft(x, n_fft=512, hop_length=128)
    cupy.testing.assert_array_equal(specsep.stft(x, n_fft=512, hop_length=128, chunk_frames=7), X)
    out = cupy.empty_like(X)
    assert specsep.stft(x, n_fft=512, hop_length=128, out=out) is out
    cupy.testing.assert_array_equal(out, X)
    y = cupy.empty((2, 20000), dtype=cupy.float32)
    specsep.istft(X, n_fft=512, hop_length=128, length=20000, out=y, chunk_frames=9)
    cupy.testing.assert_array_equal(y, specsep.istft(X, n_fft=512, hop_length=128, length=20000))
    torch = import_torch()
    if torch.cuda.is_available():
        t = torch.as_tensor(cupy.asnumpy(x), device="cuda")
        t_out = torch.empty(tuple(X.shape), dtype=torch.complex64, device="cuda")
        result = specsep.stft(t, n_fft=512, hop_length=128, out=t_out)
        assert isinstance(result, torch.Tensor) and result.data_ptr() == t_out.data_ptr()
        cupy.testing.assert_array_equal(cupy.asarray(t_out), X)


@pytest.mark.parametrize("n_fft", [2048, 4096])
def test_phase_retrieval_at_common_sizes(rng, dtype, n_fft):
    """Griffin-Lim and MISI at the sizes music uses, in both precisions (shared memory per block
    grows with n_fft: float64 at 4096 is where small devices run out)."""
    hop = n_fft // 4
    sources = _signals(rng, dtype, (2, 2, 6 * n_fft))
    mix = sources.sum(axis=-2)
    S = np.abs(specsep.stft(sources, n_fft=n_fft, hop_length=hop, backend="numpy"))
    kw = dict(n_iter=4, hop_length=hop, init="zeros")
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    assert_close(cupy.asnumpy(specsep.griffin_lim(cupy.asarray(S[:, 0]), **kw)),
                 specsep.griffin_lim(S[:, 0], **kw, backend="numpy"), tolerance)
    assert_close(cupy.asnumpy(specsep.misi(cupy.asarray(mix), cupy.asarray(S), **kw)),
                 specsep.misi(mix, S, **kw, backend="numpy"), tolerance)


def test_callers_streams(rng):
    """Kernels go on the caller's stream: a non-default CuPy stream, and torch's current stream."""
    x = _signals(rng, np.float32, (2, 20000))
    expected = specsep.stft(x, n_fft=1024, backend="numpy")
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        X = specsep.stft(cupy.asarray(x), n_fft=1024)
        y = specsep.istft(X, n_fft=1024, length=20000)
    stream.synchronize()
    assert_close(cupy.asnumpy(X), expected, RTOL[np.dtype(np.float32)])
    assert_close(cupy.asnumpy(y), x, 1e-5)
    torch = import_torch()
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        t = torch.from_numpy(x).cuda()
        T = specsep.stft(t, n_fft=1024)
    side.synchronize()
    assert_close(T.cpu().numpy(), expected, RTOL[np.dtype(np.float32)])


def test_second_device(rng):
    """Arrays on cuda:1 run there, with that device's constants; mixing devices is refused."""
    if cupy.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("one CUDA device")
    x = _signals(rng, np.float32, (2, 8000))
    expected = specsep.stft(x, n_fft=512, backend="numpy")
    on_zero = specsep.stft(cupy.asarray(x), n_fft=512)  # device 0's constants first
    with cupy.cuda.Device(1):
        x1 = cupy.asarray(x)
    X1 = specsep.stft(x1, n_fft=512)  # called with device 0 current: runs on the input's device
    assert X1.device.id == 1
    assert_close(cupy.asnumpy(X1), expected, RTOL[np.dtype(np.float32)])
    with pytest.raises(ValueError, match="must be on one CUDA device"):
        specsep.apply_mask(on_zero, _on_device(1, np.ones(on_zero.shape, np.float32)))
    torch = import_torch()
    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        T = specsep.stft(torch.from_numpy(x).to("cuda:1"), n_fft=512)
        assert T.device.index == 1
        assert_close(T.cpu().numpy(), expected, RTOL[np.dtype(np.float32)])


def _on_device(device, array):
    with cupy.cuda.Device(device):
        return cupy.asarray(array)
