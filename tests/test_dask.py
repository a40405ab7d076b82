"""specsep.dask: the transforms over Dask arrays equal the in-memory calls, on the threaded
scheduler with every backend and on a real ``dask.distributed`` cluster of worker processes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_bits

import specsep

da = pytest.importorskip("dask.array")
sd = pytest.importorskip("specsep.dask")

KW = dict(n_fft=256, hop_length=64)


def _signals(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_stft_istft_separate_equal_in_memory(backend, dtype):
    x = _signals((5, 2, 2500), dtype)
    lazy = da.from_array(x, chunks=(2, 1, 700))  # batch blocks, and a split sample axis to rechunk
    X = specsep.stft(x, **KW, backend=backend)
    X_lazy = sd.stft(lazy, **KW, backend=backend)
    assert X_lazy.shape == X.shape and X_lazy.dtype == X.dtype
    assert X_lazy.chunks[:2] == ((2, 2, 1), (1, 1))
    assert_same_bits(X_lazy.compute(), X, "stft")
    y = sd.istft(da.from_array(X, chunks=(3, 2, -1, -1)), **KW, length=2500, backend=backend)
    assert_same_bits(y.compute(), specsep.istft(X, **KW, length=2500, backend=backend), "istft")
    M = np.random.default_rng(1).random((5, 1, 3) + X.shape[-2:]).astype(dtype)  # broadcast over channels
    separated = sd.separate(lazy, da.from_array(M, chunks=(3, 1, 3, -1, -1)), **KW, backend=backend)
    assert_same_bits(separated.compute(), specsep.separate(x, M, **KW, backend=backend), "separate")


def test_separate_with_one_mask_per_item_as_in_memory(backend):
    """Masks without a source axis, (..., F, T), give (..., length) as :func:`specsep.separate` does
    (the batch axis is not taken for sources); with a source axis, (..., J, length)."""
    x = _signals((4, 1200))
    X = specsep.stft(x, **KW)
    rng = np.random.default_rng(2)
    for shape, chunks in ((X.shape, (2, -1, -1)), ((1, 3) + X.shape[-2:], (1, 2, -1, -1)),
                          ((1,) + X.shape[-2:], (1, -1, -1))):
        M = rng.random(shape, np.float32)
        lazy_M = da.from_array(M, chunks=chunks)
        separated = sd.separate(da.from_array(x, chunks=(2, -1)), lazy_M, **KW, backend=backend)
        expected = specsep.separate(x, M, **KW, backend=backend)
        assert separated.shape == expected.shape
        assert_same_bits(separated.compute(), expected, f"separate with masks {M.shape}")


@pytest.mark.parametrize("call, exc, match", [
    (lambda: sd.stft(np.zeros((2, 300), np.float32), **KW), TypeError, r"x must be a dask.array.Array, got ndarray"),
    (lambda: sd.stft(da.zeros((2, 300), dtype=np.int16), **KW), TypeError, r"x has dtype int16"),
    (lambda: sd.stft(da.zeros((2, 300)), n_fft=1), ValueError, r"n_fft=1 must be >= 2"),
    (lambda: sd.stft(da.zeros((2, 100)), n_fft=256, center=False), ValueError, r"shorter than n_fft=256"),
    (lambda: sd.istft(da.zeros((2, 129, 5)), **KW), TypeError, r"X must be a complex spectrogram"),
    (lambda: sd.istft(da.zeros((2, 100, 5), dtype=np.complex64), **KW), ValueError, r"X has 100 frequency bins"),
    (lambda: sd.separate(da.zeros((2, 300)), da.zeros((2, 3, 129, 4)), **KW), ValueError,
     r"M has \(freq, frames\) = \(129, 4\), the mixture \(129, 5\)"),
    (lambda: sd.separate(da.zeros((2, 300)), da.zeros((3, 1, 129, 5)), **KW), ValueError, r"does not broadcast"),
    (lambda: sd.separate(da.zeros((2, 300)), da.zeros((1, 2, 1, 129, 5)), **KW), ValueError,
     r"M must have shape \(\.\.\., F, T\) or \(\.\.\., J, F, T\) for a mixture of shape \(2, 300\)"),
    (lambda: sd.separate(da.zeros((2, 300)), da.zeros((2, 1, 129, 5), dtype=np.float32), **KW), TypeError,
     r"M has dtype float32 but x_mix is float64"),
])
def test_errors_before_any_task(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_distributed_cluster_of_worker_processes():
    distributed = pytest.importorskip("distributed")
    x = _signals((6, 4000))
    M = np.random.default_rng(2).random((6, 2) + specsep.stft(x, **KW).shape[-2:]).astype(np.float32)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        lazy = da.from_array(x, chunks=(2, -1))
        X, separated = client.compute([sd.stft(lazy, **KW), sd.separate(lazy, da.from_array(M, chunks=(2, 2, -1, -1)),
                                                                         **KW)], sync=True)
        workers = client.run(lambda: specsep.available_backends())
    assert len(workers) == 2
    assert_same_bits(X, specsep.stft(x, **KW), "stft on the cluster")
    assert_same_bits(separated, specsep.separate(x, M, **KW), "separate on the cluster")
