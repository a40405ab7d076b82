"""Inputs and outputs of any memory layout: every transform gives the same bits as on the
contiguous array of the same values, on every backend.

The layouts are those pipelines hand over: librosa's spectrograms (batch axes innermost: the
Fortran order of ``(..., F, T)``), torch.stft's (frame-major, as specsep's own), transposed batch
axes that no reshape merges, slices, negative strides, and signals as ``x.T`` of a
``(samples, channels)`` array.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import specsep

from conftest import assert_same_bits, requires_torch

N_FFT, HOP = 256, 64
ARGS = dict(n_fft=N_FFT, hop_length=HOP)


def in_layout(values, layout):
    """``values`` copied into memory laid out as ``layout`` says; the values are unchanged."""
    if layout == "contiguous":
        return np.ascontiguousarray(values)
    if layout in ("fortran", "librosa"):  # librosa.stft's output: the batch axes innermost
        return np.asfortranarray(values)
    if layout == "transposed":  # leading axes swapped in memory: no reshape merges them
        return np.ascontiguousarray(np.swapaxes(values, 0, 1)).swapaxes(0, 1)
    if layout == "sliced":  # every other element of a larger array, on every axis
        storage = np.zeros(tuple(2 * n for n in values.shape), values.dtype)
        view = storage[tuple(slice(None, None, 2) for _ in values.shape)]
    elif layout == "reversed":  # negative strides on every axis
        view = np.empty_like(values)[tuple(slice(None, None, -1) for _ in values.shape)]
    else:
        raise ValueError(layout)
    view[...] = values
    return view


LAYOUTS = ["fortran", "transposed", "sliced", "reversed"]


def _signals(dtype, shape=(4, 3, 3000), seed=0):
    """Seeded signals; 12 items: a full group of SIMD lanes in float32 (8) and float64 (4), and a
    partial one."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_librosa_layout_is_fortran_order():
    """``in_layout(..., "librosa")`` is the layout librosa.stft returns for a batch."""
    librosa = pytest.importorskip("librosa")
    x = _signals(np.float32)
    X = librosa.stft(x, **ARGS)
    assert X.strides == in_layout(X, "librosa").strides


@pytest.mark.parametrize("layout", LAYOUTS)
def test_stft_of_any_layout(backend, dtype, layout):
    for samples in (3000, 150):  # 150: reflect padding reads past the frames' own samples
        x = _signals(dtype, (2, 3, samples))
        for pad_mode in ("constant", "reflect", "edge"):
            expected = specsep.stft(x, **ARGS, pad_mode=pad_mode, backend=backend)
            actual = specsep.stft(in_layout(x, layout), **ARGS, pad_mode=pad_mode, backend=backend)
            assert_same_bits(actual, expected, f"stft {layout} {pad_mode} {samples}")


def test_stft_of_channels_as_columns(backend, dtype):
    """``x.T`` of a (samples, channels) array: samples ``channels`` elements apart."""
    columns = np.ascontiguousarray(_signals(dtype, (3, 5000)).T)
    expected = specsep.stft(np.ascontiguousarray(columns.T), **ARGS, backend=backend)
    assert_same_bits(specsep.stft(columns.T, **ARGS, backend=backend), expected, "stft of x.T")


@pytest.mark.parametrize("layout", LAYOUTS + ["librosa"])
def test_istft_of_any_layout(backend, dtype, layout):
    X = specsep.stft(_signals(dtype), **ARGS, backend="numpy")
    expected = specsep.istft(X, **ARGS, backend=backend)
    assert_same_bits(specsep.istft(in_layout(X, layout), **ARGS, backend=backend), expected, f"istft {layout}")


def test_istft_of_librosa_layout_in_lane_groups(backend, dtype):
    """35 items in librosa's layout: the cpu iSTFT reads them as up to 4 groups of SIMD lanes per
    task, in one pass over each frame's bins, then a partial group and single items."""
    X = specsep.stft(_signals(dtype, (5, 7, 1200)), **ARGS, backend="numpy")
    expected = specsep.istft(X, **ARGS, backend=backend)
    assert_same_bits(specsep.istft(in_layout(X, "librosa"), **ARGS, backend=backend), expected, "istft librosa")


def test_separate_with_librosa_layout_masks_in_lane_groups(backend, dtype):
    """The same for the masks of separate: 5 x 7 mixtures, 3 sources each (105 signals)."""
    x = _signals(dtype, (5, 7, 1200))
    n_frames = specsep.stft(x[..., :1, :], **ARGS).shape[-1]
    masks = np.random.default_rng(3).random((5, 7, 3, N_FFT // 2 + 1, n_frames)).astype(dtype)
    expected = specsep.separate(x, masks, **ARGS, backend=backend)
    assert_same_bits(specsep.separate(x, in_layout(masks, "librosa"), **ARGS, backend=backend), expected,
                     "separate librosa")


@requires_torch
def test_istft_of_torch_stft(backend, dtype):
    """torch.stft's output (frame-major), as the tensor and as its NumPy view."""
    import torch

    x = _signals(dtype, (4, 3000))
    X = torch.stft(torch.from_numpy(x), N_FFT, HOP, window=torch.hann_window(N_FFT, dtype=torch.from_numpy(x).dtype),
                   return_complex=True)
    expected = specsep.istft(np.ascontiguousarray(X.numpy()), **ARGS, backend=backend)
    assert_same_bits(specsep.istft(X.numpy(), **ARGS, backend=backend), expected, "istft of torch.stft")


@pytest.mark.parametrize("layout", LAYOUTS + ["librosa"])
def test_separate_with_masks_of_any_layout(backend, dtype, layout):
    x = _signals(dtype, (4, 3, 2000))
    n_frames = specsep.stft(x[..., :1, :], **ARGS).shape[-1]
    masks = np.random.default_rng(1).random((4, 3, 2, N_FFT // 2 + 1, n_frames)).astype(dtype)
    expected = specsep.separate(x, masks, **ARGS, backend=backend)
    actual = specsep.separate(in_layout(x, layout if layout != "librosa" else "fortran"), in_layout(masks, layout),
                              **ARGS, backend=backend)
    assert_same_bits(actual, expected, f"separate {layout}")


@pytest.mark.parametrize("layout", LAYOUTS + ["librosa"])
def test_apply_mask_of_any_layout(backend, dtype, layout):
    X = specsep.stft(_signals(dtype), **ARGS, backend="numpy")
    masks = np.random.default_rng(2).random(X.shape[:-2] + (2,) + X.shape[-2:]).astype(dtype)
    expected = specsep.apply_mask(X, masks, backend=backend)
    actual = specsep.apply_mask(in_layout(X, layout), in_layout(masks, layout), backend=backend)
    assert_same_bits(actual, expected, f"apply_mask {layout}")


def _memory_order(a):
    """The axes of ``a`` by decreasing stride (its layout, whatever its dtype)."""
    return [d for d in np.argsort([-abs(s) for s in a.strides], kind="stable") if a.shape[d] > 1]


@pytest.mark.parametrize("layout", LAYOUTS + ["librosa"])
@pytest.mark.parametrize("kind", ["complex", "real"])
@pytest.mark.parametrize("power", [2.0, 1.0, 0.5])
def test_ideal_ratio_of_any_layout(dtype, layout, kind, power):
    """The masks of NumPy arrays (the cpu kernel) have the contiguous input's bits in any layout,
    are laid out in the input's memory order, and equal the reference formula to a few ulps."""
    from specsep._reference import masks as reference

    X = specsep.stft(_signals(dtype, (4, 3, 1000)), **ARGS, backend="numpy").reshape(3, 4, 1, N_FFT // 2 + 1, -1)
    X = X * np.array([1.0, 0.5, 0.0, 2.0]).reshape(4, 1, 1, 1).astype(dtype)  # source 2 silent, others not
    X[..., :2, :] = 0  # bins where every source is silent
    S = X.reshape(3, 4, N_FFT // 2 + 1, -1) if kind == "complex" else np.abs(X).reshape(3, 4, N_FFT // 2 + 1, -1)
    expected = specsep.masks.ideal_ratio(S, power)
    M = specsep.masks.ideal_ratio(in_layout(S, layout), power)
    assert_same_bits(M, expected, f"ideal_ratio {layout}")
    assert _memory_order(M) == _memory_order(in_layout(S, layout))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(M, reference.ideal_ratio(S, power), rtol=0, atol=(4 if dtype == np.float32 else 16) * eps)


@pytest.mark.parametrize("layout", ["contiguous", "librosa"])
def test_ideal_ratio_of_broadcast_sources(dtype, layout):
    """A broadcast axis (stride 0) reads one item repeatedly; the masks are laid out as NumPy's
    order="K" lays out an elementwise result (the broadcast axis outermost)."""
    S = in_layout(np.abs(specsep.stft(_signals(dtype, (3, 500)), **ARGS, backend="numpy")), layout)
    broadcast = np.broadcast_to(S[None], (4,) + S.shape)
    M = specsep.masks.ideal_ratio(broadcast)
    assert_same_bits(M, specsep.masks.ideal_ratio(np.ascontiguousarray(broadcast)), f"broadcast {layout}")
    assert M.strides == np.abs(broadcast).strides


def test_ideal_ratio_of_librosa_layout_copies_nothing():
    """The masks of librosa's layout are computed in place: no NumPy array of the input's size
    (the output comes from the C++ buffer cache)."""
    S = in_layout(specsep.stft(_signals(np.float32, (4, 2, 20000)), **ARGS).reshape(2, 4, N_FFT // 2 + 1, -1),
                  "librosa")
    specsep.masks.ideal_ratio(S)
    tracemalloc.start()
    try:
        specsep.masks.ideal_ratio(S)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < S.nbytes / 8, f"peak {peak} bytes for an input of {S.nbytes} bytes"


@pytest.mark.parametrize("layout", LAYOUTS + ["librosa"])
def test_griffin_lim_of_any_layout(backend, dtype, layout):
    S = np.abs(specsep.stft(_signals(dtype, (2, 3, 1500)), **ARGS, backend="numpy"))
    expected = specsep.griffin_lim(S, **ARGS, n_iter=2, init="zeros", backend=backend)
    actual = specsep.griffin_lim(in_layout(S, layout), **ARGS, n_iter=2, init="zeros", backend=backend)
    assert_same_bits(actual, expected, f"griffin_lim {layout}")


@pytest.mark.parametrize("layout", LAYOUTS + ["librosa"])
def test_out_of_any_layout(backend, dtype, layout):
    """``out=`` buffers laid out in any way receive the contiguous call's bits."""
    x = _signals(dtype)
    X = specsep.stft(x, **ARGS, backend=backend)
    out = in_layout(np.zeros_like(X), layout)
    assert specsep.stft(x, **ARGS, backend=backend, out=out, chunk_frames=7) is out
    assert_same_bits(out, X, f"stft out= {layout}")
    y = specsep.istft(X, **ARGS, backend=backend)
    out = in_layout(np.zeros_like(y), layout)
    assert specsep.istft(in_layout(X, layout), **ARGS, backend=backend, out=out, chunk_frames=7) is out
    assert_same_bits(out, specsep.istft(X, **ARGS, backend=backend, chunk_frames=7), f"istft out= {layout}")


def test_istft_of_librosa_layout_copies_nothing():
    """The cpu iSTFT reads librosa's layout in place: no array of the input's size is allocated
    (tracemalloc sees NumPy's allocations; the output comes from the C++ buffer cache)."""
    X = in_layout(specsep.stft(_signals(np.float32, (4, 2, 20000)), **ARGS), "librosa")
    specsep.istft(X, **ARGS, backend="cpu")  # plans and caches made outside the measurement
    tracemalloc.start()
    try:
        specsep.istft(X, **ARGS, backend="cpu")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 8, f"peak {peak} bytes for an input of {X.nbytes} bytes"


@pytest.mark.skipif("cuda-emu" not in specsep.available_backends(), reason="cuda-emu not built")
def test_separate_of_frame_major_device_masks(dtype):
    """Masks made from specsep's spectrograms on the device are frame-major in memory; the cuda
    backend reads them in place (coalesced) with the bits of the same masks laid out (F, T)."""
    from specsep import _backends

    xp = _backends.select("cuda-emu").xp
    x = xp.asarray(_signals(dtype, (2, 3, 2000)))
    X = np.abs(specsep.stft(x, **ARGS, backend="cuda-emu"))
    masks = xp.stack([X, 2 * X], axis=-3) / (3 * X[..., None, :, :] + 1)
    assert masks.swapaxes(-1, -2).flags.c_contiguous and not masks.flags.c_contiguous
    expected = specsep.separate(np.asarray(x), np.ascontiguousarray(np.asarray(masks)), **ARGS, backend="cuda-emu")
    assert_same_bits(np.asarray(specsep.separate(x, masks, **ARGS, backend="cuda-emu")), expected,
                     "separate of frame-major device masks")
