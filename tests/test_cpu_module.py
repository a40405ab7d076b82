"""The compiled module specsep._cpu, function by function, against direct NumPy definitions."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import RTOL, assert_close, direct_envelope

_cpu = pytest.importorskip("specsep._cpu", reason="the C++ module is not built")


@pytest.mark.parametrize("n_fft, hop, n_frames", [
    (1, 1, 1), (1, 1, 5), (2, 1, 3), (16, 4, 1), (16, 4, 10), (17, 5, 7), (16, 16, 3),
    (16, 3, 40), (1024, 256, 50), (1023, 1000, 4),
])
def test_window_sum_square(n_fft, hop, n_frames, dtype):
    window = np.random.default_rng(n_fft + hop).random(n_fft).astype(dtype)
    out = _cpu.window_sum_square(window, hop, n_frames)
    assert out.dtype == dtype, "each precision has its own overload"
    assert out.shape == (n_fft + hop * (n_frames - 1),)
    assert_close(out, direct_envelope(window, hop, n_frames), RTOL[dtype])


def test_window_sum_square_strided_and_integer_input():
    window = np.arange(1.0, 33.0)
    strided = window[::2]  # not contiguous: forcecast copies
    assert_close(_cpu.window_sum_square(strided, 3, 4), direct_envelope(strided, 3, 4), RTOL[np.dtype(np.float64)])
    ints = np.arange(1, 9)
    out = _cpu.window_sum_square(ints, 2, 3)
    assert out.dtype == np.float64
    assert_close(out, direct_envelope(ints, 2, 3), RTOL[np.dtype(np.float64)])


@pytest.mark.parametrize("args, message", [
    ((np.ones(8), 0, 3), "hop_length must be >= 1"),
    ((np.ones(8), -2, 3), "hop_length must be >= 1"),
    ((np.ones(8), 2, 0), "n_frames must be >= 1"),
    ((np.ones(0), 2, 3), "non-empty 1-D"),
    ((np.ones((2, 4)), 2, 3), "non-empty 1-D"),
    ((np.ones(8, dtype=np.float32), 2, 0), "n_frames must be >= 1"),
])
def test_window_sum_square_errors(args, message):
    with pytest.raises(ValueError, match=message):
        _cpu.window_sum_square(*args)


@pytest.mark.parametrize("padding, frames, message", [
    (-1, 1, r"padding must be in \[0, n_fft // 2\]"),
    (5, 1, r"padding must be in \[0, n_fft // 2\]"),
    (4, 0, "frames must be >= 1 and lie within the padded signal"),
    (4, 6, "frames must be >= 1 and lie within the padded signal"),  # 16 + 2 * 4 samples hold 5
    (0, 4, "frames must be >= 1 and lie within the padded signal"),  # 16 samples hold 3
])
def test_plan_checks_the_padding_and_frame_count_it_is_given(padding, frames, message):
    """The module takes the padding and the frame count from the Python plan and only checks them."""
    with pytest.raises(ValueError, match=message):
        _cpu.PlanFloat64(np.hanning(8), 4, padding, 0, False).stft(np.ones((1, 16)), frames)
