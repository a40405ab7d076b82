"""``chunk_frames=`` and ``out=``: block-by-block stft/istft/separate equal the whole-signal calls.

Every block is computed from a slice of the input and takes exactly the frames its samples need
(see ``specsep._chunks``), so the results are not merely close but the same bits, on every backend:
the tests assert identical bytes.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_bits, import_torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specsep

WINDOWS = ["hann", "sqrt_hann", "hamming", "blackman", "triangle", "rectangular"]
EXAMPLES = {"numpy": 60, "cpu": 100, "cuda-emu": 30}


@st.composite
def configurations(draw):
    n_fft = draw(st.integers(2, 48))
    win_length = draw(st.integers(max(1, n_fft // 2), n_fft))
    window = draw(st.sampled_from(WINDOWS))
    hop = draw(st.integers(1, win_length))
    plan = specsep.STFT(n_fft, hop, win_length, window)
    if not plan.invertible:  # rectangular/triangle windows with long hops: no inverse to compare
        hop = max(1, win_length // 4)
    center = draw(st.booleans())
    pad_mode = draw(st.sampled_from(["constant", "reflect", "edge"]))
    minimum = 1 if center else n_fft
    n = draw(st.integers(minimum, minimum + 160))
    batch = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n_frames = specsep.STFT(n_fft, hop, win_length, window, center).n_frames(n)
    chunk = draw(st.integers(1, n_frames + 2))
    length = draw(st.sampled_from([None, n, max(1, n - hop), n + 2 * n_fft]))
    stft_kw = dict(n_fft=n_fft, hop_length=hop, win_length=win_length, window=window, center=center)
    return stft_kw, pad_mode, n, batch, np.dtype(dtype), chunk, length


def _signal(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _check_chunked_equals_whole(backend, config):
    stft_kw, pad_mode, n, batch, dtype, chunk, length = config
    x = _signal(batch + (n,), dtype)
    X = specsep.stft(x, **stft_kw, pad_mode=pad_mode, backend=backend)
    assert_same_bits(specsep.stft(x, **stft_kw, pad_mode=pad_mode, backend=backend, chunk_frames=chunk), X, "stft")
    y = specsep.istft(X, **stft_kw, length=length, backend=backend)
    assert_same_bits(specsep.istft(X, **stft_kw, length=length, backend=backend, chunk_frames=chunk), y, "istft")
    M = np.random.default_rng(1).random(batch + (2,) + X.shape[-2:]).astype(dtype)
    kw = dict(stft_kw, pad_mode=pad_mode, length=length, backend=backend)
    assert_same_bits(specsep.separate(x, M, **kw, chunk_frames=chunk), specsep.separate(x, M, **kw), "separate")


@pytest.mark.parametrize("backend_name", ["numpy", "cpu", "cuda-emu"])
def test_chunked_equals_whole_signal(backend_name):
    if backend_name not in specsep.available_backends():
        pytest.skip(f"backend {backend_name!r} is not available in this build")

    @settings(max_examples=EXAMPLES[backend_name], deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(configurations())
    def check(config):
        _check_chunked_equals_whole(backend_name, config)

    check()


def test_blocks_of_one_frame_and_longer_than_the_signal(backend):
    x = _signal((2, 1000), np.float32)
    kw = dict(n_fft=64, hop_length=16, backend=backend)
    X = specsep.stft(x, **kw)
    for chunk in (1, X.shape[-1], 10 * X.shape[-1]):
        assert_same_bits(specsep.stft(x, **kw, chunk_frames=chunk), X, f"stft chunk {chunk}")
        assert_same_bits(specsep.istft(X, **kw, length=1000, chunk_frames=chunk),
                         specsep.istft(X, **kw, length=1000), f"istft chunk {chunk}")


def test_separate_chunked_with_one_mask_and_broadcast_batch(backend):
    x = _signal((3, 1, 700), np.float64)  # (3, 1) batch; masks broadcast over the first axis
    kw = dict(n_fft=32, hop_length=8, backend=backend)
    X = specsep.stft(x, **kw)
    one = np.random.default_rng(2).random((1, 1) + X.shape[-2:])
    sources = np.random.default_rng(3).random((1, 4, 2) + X.shape[-2:])
    for M in (one, sources):
        whole = specsep.separate(x, M, **kw)
        assert_same_bits(specsep.separate(x, M, **kw, chunk_frames=7), whole, f"separate {M.shape}")


def test_separate_with_masks_made_block_by_block(backend):
    x = _signal((2, 900), np.float32)
    kw = dict(n_fft=64, hop_length=16, backend=backend)
    M = np.random.default_rng(4).random((2, 3) + specsep.stft(x, **kw).shape[-2:]).astype(np.float32)
    asked = []

    def masks_of(first, stop):
        asked.append((first, stop))
        return M[..., first:stop]

    whole = specsep.separate(x, M, **kw)
    assert_same_bits(specsep.separate(x, masks_of, **kw, chunk_frames=7), whole, "separate, masks of blocks")
    assert max(stop - first for first, stop in asked) <= 7 + 64 // 16 - 1  # the frames of 7 * hop samples
    assert_same_bits(specsep.separate(x, masks_of, **kw, length=0), whole[..., :0], "separate, length 0")
    assert_same_bits(specsep.separate(x, masks_of, **kw), whole, "separate, masks of one block")
    assert asked[-1] == (0, M.shape[-1])


@pytest.mark.parametrize("masks_of, exc, match", [
    (lambda first, stop: np.ones((2, 3, 33, stop - first + 1), np.float32), ValueError, "M of shape .* does not broadcast"),
    (lambda first, stop: np.full((2, 3, 33, stop - first), np.nan, np.float32), ValueError, "M contains NaN or Inf"),
    (lambda first, stop: np.ones((2, 3, 33, stop - first)), TypeError, "M .*float64.*float32|precision"),
])
def test_separate_checks_the_masks_of_every_block(masks_of, exc, match):
    with pytest.raises(exc, match=match):
        specsep.separate(_signal((2, 900), np.float32), masks_of, n_fft=64, hop_length=16, chunk_frames=7)


# ---- out= ------------------------------------------------------------------------------------


def test_stft_and_istft_write_into_out(backend):
    x = _signal((2, 900), np.float32)
    kw = dict(n_fft=128, hop_length=32, backend=backend)
    X = specsep.stft(x, **kw)
    out = np.full(X.shape, np.nan, dtype=np.complex64)
    result = specsep.stft(x, **kw, out=out)
    assert result is out
    assert_same_bits(out, X, "stft out")
    # any strides: every other column of a wider buffer
    wide = np.zeros(X.shape[:-1] + (2 * X.shape[-1],), dtype=np.complex64)
    specsep.stft(x, **kw, out=wide[..., ::2])
    assert_same_bits(wide[..., ::2], X, "stft strided out")
    assert not wide[..., 1::2].any(), "stft wrote outside out"
    y = np.full((2, 950), np.nan, dtype=np.float32)  # longer than the signal: zero tail
    assert specsep.istft(X, **kw, length=950, out=y) is y
    assert_same_bits(y, specsep.istft(X, **kw, length=950), "istft out")


def test_out_overlapping_the_input(backend):
    """An ``out`` that shares memory with the input is computed through a temporary: each block
    written into ``out`` would otherwise change input that later blocks still read."""
    n, kw = 5000, dict(n_fft=256, hop_length=64, backend=backend, chunk_frames=8)
    x = _signal((n,), np.float64)
    X = specsep.stft(x, **kw)
    # the STFT written over the signal's own memory: x is the start of a buffer out also covers
    memory = np.zeros(n + 2 * X.size + 64)
    memory[:n] = x
    out = memory[1000:1000 + 2 * X.size].view(np.complex128).reshape(X.shape[::-1]).T
    assert specsep.stft(memory[:n], **kw, out=out) is out
    assert_same_bits(out, X, "stft into overlapping out")
    # the iSTFT written over its own spectrogram
    X_copy = np.ascontiguousarray(X)
    y = X_copy.view(np.float64).reshape(-1)[:n]
    assert specsep.istft(X_copy, **kw, length=n, out=y) is y
    assert_same_bits(y, specsep.istft(X, **kw, length=n), "istft into overlapping out")


def test_out_with_chunk_frames_and_plan_methods():
    plan = specsep.STFT(256, 64, dtype=np.float64)
    x = _signal((5000,), np.float64)
    X = plan.forward(x)
    out = np.empty_like(X)
    assert plan.forward(x, out=out, chunk_frames=3) is out
    assert_same_bits(out, X, "plan.forward out")
    y = np.empty(5000)
    assert plan.inverse(X, length=5000, out=y, chunk_frames=5) is y
    assert_same_bits(y, plan.inverse(X, length=5000), "plan.inverse out")


def test_torch_tensors_in_and_out():
    torch = import_torch()
    x = torch.from_numpy(_signal((2, 800), np.float32))
    X = specsep.stft(x, n_fft=64, hop_length=16)
    out = torch.empty(tuple(X.shape), dtype=torch.complex64)
    result = specsep.stft(x, n_fft=64, hop_length=16, out=out)
    assert result is out  # out itself, as the docstring promises, not a new tensor on its memory
    assert torch.equal(out, X)
    y = torch.empty(2, 800)
    assert specsep.istft(X, n_fft=64, hop_length=16, length=800, out=y, chunk_frames=4) is y
    plan = specsep.STFT(64, 16)
    assert plan.forward(x, out=out) is out and plan.inverse(X, 800, out=y) is y
    assert torch.equal(y, specsep.istft(X, n_fft=64, hop_length=16, length=800))


@pytest.mark.parametrize("fn, out, exc, match", [
    ("stft", np.zeros((33, 10), np.complex64), ValueError, r"out has shape \(33, 10\), the result has shape \(33, 13\)"),
    ("stft", np.zeros((33, 13), np.complex128), TypeError, "out has dtype complex128, the result is complex64"),
    ("istft", np.zeros(200, np.float64), TypeError, "out has dtype float64, the result is float32"),
    ("istft", np.zeros(199, np.float32), ValueError, r"out has shape \(199,\), the result has shape \(200,\)"),
])
def test_out_errors(fn, out, exc, match):
    x = _signal((200,), np.float32)
    kw = dict(n_fft=64, hop_length=16)
    data = x if fn == "stft" else specsep.stft(x, **kw)
    extra = {} if fn == "stft" else {"length": 200}
    with pytest.raises(exc, match=match):
        getattr(specsep, fn)(data, **kw, **extra, out=out)


def test_read_only_out_and_bad_chunk_frames():
    x = _signal((200,), np.float32)
    out = np.zeros((33, 13), np.complex64)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        specsep.stft(x, n_fft=64, hop_length=16, out=out)
    for bad, exc in ((0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="chunk_frames"):
            specsep.stft(x, n_fft=64, hop_length=16, chunk_frames=bad)
        with pytest.raises(exc, match="chunk_frames"):
            specsep.separate(x, np.ones((33, 13), np.float32), n_fft=64, hop_length=16, chunk_frames=bad)
