"""Several CUDA devices, through the emulator: what the orchestration keeps across calls (the
window, twiddles and factors of each plan) lives on one device, so it is kept per device; the
emulator remembers where each such array was made and fails a launch on another device, as a GPU
would. Arrays of one call on different devices are refused before any work."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same_bits

import specsep
from specsep import _arrays, _backends

pytestmark = pytest.mark.skipif("cuda-emu" not in specsep.available_backends(), reason="cuda-emu not built")

KW = dict(n_fft=256, hop_length=64, backend="cuda-emu")


@pytest.fixture
def emulator(monkeypatch):
    backend = _backends.select("cuda-emu")
    monkeypatch.setattr(backend.launcher, "device", 0)
    return backend


def test_constants_are_kept_per_device(emulator, monkeypatch):
    x = np.random.default_rng(0).standard_normal((2, 3000)).astype(np.float32)
    on_first = specsep.stft(x, **KW)
    y_first = specsep.istft(on_first, **KW, length=3000)
    S = np.abs(on_first)
    gl_first = specsep.griffin_lim(S, **KW, n_iter=3, init="zeros")
    monkeypatch.setattr(emulator.launcher, "device", 1)  # the same plans, now on a second device
    assert_same_bits(specsep.stft(x, **KW), on_first, "stft on device 1")
    assert_same_bits(specsep.istft(on_first, **KW, length=3000), y_first, "istft on device 1")
    assert_same_bits(specsep.griffin_lim(S, **KW, n_iter=3, init="zeros"), gl_first, "griffin_lim on device 1")
    plan = specsep.STFT(256, 64, dtype=np.float32)
    first, second = emulator._constants_of(plan, 0), emulator._constants_of(plan, 1)
    assert all(first[key] is not second[key] for key in ("window", "roots", "factors"))


def test_a_launch_with_another_devices_array_fails(emulator, monkeypatch):
    """The emulator's check itself: what a plan cache keyed by plan alone would have done."""
    plan = specsep.STFT(256, 64, dtype=np.float32)
    constants = emulator._constants(plan)  # made on device 0
    monkeypatch.setattr(emulator, "_constants", lambda plan: constants)
    monkeypatch.setattr(emulator.launcher, "device", 1)
    with pytest.raises(ValueError, match=r"stft<float>: argument 3 lives on device 0, but the launch runs on device 1"):
        specsep.stft(np.zeros((1, 2000), np.float32), **KW)


def test_arrays_on_different_devices_are_refused(monkeypatch):
    """The rule, with the device of each array faked (CuPy arrays need a GPU to exist)."""
    x = np.zeros((2, 2000), np.float32)
    M = np.ones((2, 129, 32), np.float32)
    devices = {id(x): 0}
    monkeypatch.setattr(_arrays, "device_of", lambda array: devices.get(id(array), 1))
    with pytest.raises(ValueError, match=r"must be on one CUDA device, got x_mix on cuda:0, M on cuda:1"):
        specsep.separate(x, M, n_fft=256, hop_length=64, backend="numpy")
    with pytest.raises(ValueError, match=r"got input on cuda:0, out on cuda:1"):
        specsep.stft(x, n_fft=256, hop_length=64, out=np.empty((2, 129, 32), np.complex64), backend="numpy")
    monkeypatch.setattr(_arrays, "device_of", lambda array: None)  # host arrays: no device to compare
    specsep.separate(x, M, n_fft=256, hop_length=64, backend="numpy")
