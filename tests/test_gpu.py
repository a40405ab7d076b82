"""The real cuda backend against the reference, on CuPy arrays and torch CUDA tensors. Marked
gpu: runs where cupy.cuda.is_available(), skips elsewhere (the emulated path, cuda-emu, runs the
same kernels in every other test)."""

from __future__ import annotations

import numpy as np
import pytest

import specsep
from conftest import RTOL, assert_close

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
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    x = _signals(rng, np.float32, (2, 4000))
    X = specsep.stft(torch.from_numpy(x).cuda(), n_fft=512)
    assert_close(cupy.asnumpy(cupy.asarray(X)), specsep.stft(x, n_fft=512, backend="numpy"), RTOL[np.dtype(np.float32)])


def test_host_array_to_cuda_is_refused(rng):
    with pytest.raises(ValueError, match="takes CUDA arrays"):
        specsep.stft(_signals(rng, np.float32), n_fft=512, backend="cuda")
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
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        t = torch.as_tensor(cupy.asnumpy(x), device="cuda")
        t_out = torch.empty(tuple(X.shape), dtype=torch.complex64, device="cuda")
        result = specsep.stft(t, n_fft=512, hop_length=128, out=t_out)
        assert isinstance(result, torch.Tensor) and result.data_ptr() == t_out.data_ptr()
        cupy.testing.assert_array_equal(cupy.asarray(t_out), X)
