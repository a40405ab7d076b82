"""The STFT plan: parameters, identity, derived values, and its transforms."""

from __future__ import annotations

import pickle

import librosa
import numpy as np
import pytest
import scipy.signal

import specsep
from conftest import ORACLE_RTOL, RTOL, assert_close, direct_envelope
from specsep import _plan

WINDOW_NAMES = ("hann", "sqrt_hann", "hamming", "blackman", "triangle", "rectangular")


def scipy_window(name: str, n: int) -> np.ndarray:
    scipy_name = {"triangle": "triang", "rectangular": "boxcar", "sqrt_hann": "hann"}.get(name, name)
    window = scipy.signal.get_window(scipy_name, n, fftbins=True)
    return np.sqrt(window) if name == "sqrt_hann" else window


# ---------------------------------------------------------------------------------------------
# parameters


@pytest.mark.parametrize("n_fft, win_length, hop", [
    (2048, None, 512), (1024, 1000, 250), (16, 3, 1), (2, None, 1), (7, None, 1), (9, 8, 2), (4, None, 1),
])
def test_default_hop_is_a_quarter_of_win_length(n_fft, win_length, hop):
    plan = specsep.STFT(n_fft, win_length=win_length)
    assert plan.hop_length == hop
    assert plan.win_length == (n_fft if win_length is None else win_length)
    assert plan.n_freqs == n_fft // 2 + 1


def test_defaults():
    plan = specsep.STFT(512)
    assert (plan.window_spec, plan.center, plan.pad_mode, plan.normalized) == ("hann", True, "constant", False)
    assert plan.dtype == np.float32
    assert "n_fft=512" in repr(plan) and "hop_length=128" in repr(plan)


@pytest.mark.parametrize("attribute", ["n_fft", "hop_length", "win_length", "window_spec", "center",
                                       "pad_mode", "normalized", "dtype", "_window64", "anything"])
def test_plan_is_immutable(attribute):
    plan = specsep.STFT(64)
    before = hash(plan)
    with pytest.raises(AttributeError, match="immutable"):
        setattr(plan, attribute, 1)
    if attribute != "anything":
        with pytest.raises(AttributeError, match="immutable"):
            delattr(plan, attribute)
    assert hash(plan) == before
    assert plan == specsep.STFT(64)


def test_cached_arrays_are_read_only():
    window = np.hanning(32)
    plan = specsep.STFT(32, window=window)
    with pytest.raises(ValueError):
        plan.window64[0] = 1.0
    with pytest.raises(ValueError):
        plan.window_spec[0] = 1.0
    with pytest.raises(ValueError):
        plan.envelope(4)[0] = 1.0
    # the window given is copied: changing it later does not change the plan
    window[:] = 0
    assert np.all(plan.window_spec == np.hanning(32))
    # .window is a fresh copy in the plan's dtype
    plan.window[:] = 0
    assert np.any(plan.window != 0)


def test_equality_and_hash():
    a = specsep.STFT(512, hop_length=128, window="hann")
    b = specsep.STFT(512)  # same after defaults
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    different = [
        specsep.STFT(512, hop_length=64),
        specsep.STFT(512, win_length=400),
        specsep.STFT(512, window="hamming"),
        specsep.STFT(512, center=False),
        specsep.STFT(512, pad_mode="reflect"),
        specsep.STFT(512, normalized=True),
        specsep.STFT(512, dtype=np.float64),
        specsep.STFT(514),
    ]
    for other in different:
        assert a != other, other
    assert len({a, *different}) == len(different) + 1
    assert a != "STFT(512)"
    # array windows compare by value
    w = scipy_window("hann", 64)
    assert specsep.STFT(64, window=w) == specsep.STFT(64, window=w.copy())
    assert hash(specsep.STFT(64, window=w)) == hash(specsep.STFT(64, window=list(w)))
    assert specsep.STFT(64, window=w) != specsep.STFT(64, window=w * 2)


@pytest.mark.parametrize("plan", [
    specsep.STFT(512),
    specsep.STFT(511, hop_length=100, win_length=300, window="blackman", center=False,
                 pad_mode="reflect", normalized=True, dtype=np.float64),
    specsep.STFT(64, window=scipy_window("triangle", 48), win_length=48, pad_mode="edge"),
], ids=["default", "everything", "array-window"])
def test_pickle_round_trip(plan):
    again = pickle.loads(pickle.dumps(plan))
    assert again == plan and hash(again) == hash(plan)
    assert again.dtype == plan.dtype
    np.testing.assert_array_equal(again.window, plan.window)
    assert repr(again) == repr(plan)


def test_cached_plans_are_shared_and_type_checked():
    a = _plan.get(256, None, None, "hann", True, "constant", False, np.float32)
    assert _plan.get(256, None, None, "hann", True, "constant", False, np.float32) is a
    # 256.0 == 256 and True == 1 hash alike: the cache must not let them skip the type checks
    with pytest.raises(TypeError, match="n_fft must be an integer"):
        _plan.get(256.0, None, None, "hann", True, "constant", False, np.float32)
    with pytest.raises(TypeError, match="center must be a bool"):
        _plan.get(256, None, None, "hann", 1, "constant", False, np.float32)
    x = np.zeros(1000, dtype=np.float32)
    specsep.stft(x, n_fft=256)
    with pytest.raises(TypeError, match="n_fft must be an integer"):
        specsep.stft(x, n_fft=256.0)
    with pytest.raises(TypeError, match="normalized must be a bool"):
        specsep.stft(x, n_fft=256, normalized=0)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n_fft=1), ValueError, r"n_fft=1 must be >= 2"),
    (dict(n_fft=64.0), TypeError, r"n_fft must be an integer"),
    (dict(n_fft=64, hop_length=0), ValueError, r"hop_length=0 must be >= 1"),
    (dict(n_fft=64, win_length=65), ValueError, r"win_length=65 must be <= 64"),
    (dict(n_fft=64, win_length=0), ValueError, r"win_length=0 must be >= 1"),
    (dict(n_fft=64, window="hanning"), ValueError, r"window='hanning' is not one of"),
    (dict(n_fft=64, window=np.ones(32)), ValueError, r"window has 32 points but win_length=64"),
    (dict(n_fft=64, window=np.ones((2, 32))), ValueError, r"1-D array"),
    (dict(n_fft=64, pad_mode="wrap"), ValueError, r"pad_mode='wrap' is not one of"),
    (dict(n_fft=64, center="yes"), TypeError, r"center must be a bool"),
    (dict(n_fft=64, normalized=1), TypeError, r"normalized must be a bool"),
    (dict(n_fft=64, dtype=np.float16), TypeError, r"dtype must be float32 or float64"),
    (dict(n_fft=64, dtype=np.complex64), TypeError, r"dtype must be float32 or float64"),
])
def test_bad_plan_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        specsep.STFT(**kwargs)


# ---------------------------------------------------------------------------------------------
# derived values


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", WINDOW_NAMES)
@pytest.mark.parametrize("n_fft, win_length", [(64, 64), (64, 40), (64, 41), (63, 40), (63, 17), (16, 1)])
def test_window_is_centred_and_zero_padded(name, n_fft, win_length, dtype):
    plan = specsep.STFT(n_fft, win_length=win_length, window=name, hop_length=1, dtype=dtype)
    expected = librosa.util.pad_center(scipy_window(name, win_length), size=n_fft)
    assert plan.window.dtype == dtype
    assert plan.window.shape == (n_fft,)
    assert plan.window64.dtype == np.float64
    assert_close(plan.window64, expected, ORACLE_RTOL)
    assert_close(plan.window, expected, RTOL[np.dtype(dtype)])
    # explicitly: zeros outside [offset, offset + win_length)
    offset = (n_fft - win_length) // 2
    assert np.all(plan.window64[:offset] == 0) and np.all(plan.window64[offset + win_length:] == 0)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("n_fft, hop", [(512, 128), (511, 100), (64, 64), (64, 1), (2, 1), (9, 4)])
def test_n_frames_equals_librosa(n_fft, hop, center):
    plan = specsep.STFT(n_fft, hop_length=hop, center=center)
    for n in (n_fft, n_fft + 1, n_fft + hop - 1, n_fft + hop, 3 * n_fft + 7, 5000):
        frames = librosa.stft(np.zeros(n), n_fft=n_fft, hop_length=hop, center=center).shape[-1]
        assert plan.n_frames(n) == frames, n
    if center:
        # centred frames exist for any positive length (librosa warns there, so compare the formula)
        assert plan.n_frames(1) == 1 + (1 + 2 * (n_fft // 2) - n_fft) // hop
    else:
        with pytest.raises(ValueError, match=rf"shorter than n_fft={n_fft} with center=False"):
            plan.n_frames(n_fft - 1)
    with pytest.raises(ValueError, match="n_samples=0 must be >= 1"):
        plan.n_frames(0)


@pytest.mark.parametrize("n_fft", [2, 7, 512, 513, 2048])
@pytest.mark.parametrize("sr", [8000, 22050, 44100.0])
def test_freqs_equals_librosa(n_fft, sr):
    plan = specsep.STFT(n_fft)
    freqs = plan.freqs(sr)
    assert freqs.shape == (n_fft // 2 + 1,) and freqs.dtype == np.float64
    assert_close(freqs, librosa.fft_frequencies(sr=sr, n_fft=n_fft), ORACLE_RTOL)


def test_freqs_bad_sr():
    with pytest.raises(ValueError, match="sr=-1.0 must be >= 0"):
        specsep.STFT(16).freqs(-1)
    with pytest.raises(ValueError, match="must be finite"):
        specsep.STFT(16).freqs(np.inf)
    with pytest.raises(TypeError, match="sr must be a real number"):
        specsep.STFT(16).freqs("44100")


@pytest.mark.parametrize("kwargs, invertible", [
    (dict(n_fft=512), True),
    (dict(n_fft=512, hop_length=256), True),
    (dict(n_fft=512, hop_length=511), True),          # hann[1]^2 + ... still positive
    (dict(n_fft=512, hop_length=512), False),         # hann[0] == 0 with no overlap
    (dict(n_fft=512, window="sqrt_hann", hop_length=512), False),
    (dict(n_fft=512, window="blackman", hop_length=512), False),
    (dict(n_fft=512, window="triangle", hop_length=512), True),
    (dict(n_fft=512, window="rectangular", hop_length=512), True),
    (dict(n_fft=512, window="hamming", hop_length=512), True),
    (dict(n_fft=512, win_length=128, hop_length=128), False),   # zero-padded hann, no overlap
    (dict(n_fft=512, win_length=128, hop_length=127), True),
    (dict(n_fft=8, window=np.array([1.0, 1, 0, 0, 1, 1, 0, 0]), hop_length=4), False),
    (dict(n_fft=8, window=np.array([1.0, 1, 0, 0, 1, 1, 0, 0]), hop_length=3), True),
])
def test_invertible(kwargs, invertible):
    plan = specsep.STFT(**kwargs)
    assert plan.invertible is invertible
    assert plan.invertible is specsep.check_nola(plan.window64, plan.hop_length)
    if invertible:
        plan.check_invertible()
    else:
        with pytest.raises(ValueError, match="violates NOLA"):
            plan.check_invertible()


@pytest.mark.parametrize("name", WINDOW_NAMES)
@pytest.mark.parametrize("n_fft, win_length, hop, n_frames", [
    (16, 16, 4, 1), (16, 16, 4, 9), (17, 11, 3, 5), (64, 64, 64, 3), (64, 40, 7, 20), (2, 2, 1, 4),
])
def test_envelope_is_window_sum_square(name, n_fft, win_length, hop, n_frames):
    plan = specsep.STFT(n_fft, hop_length=hop, win_length=win_length, window=name)
    envelope = plan.envelope(n_frames)
    padded = librosa.util.pad_center(scipy_window(name, win_length), size=n_fft)
    expected = direct_envelope(padded, hop, n_frames)
    assert envelope.shape == (n_fft + hop * (n_frames - 1),)
    assert_close(envelope, expected, ORACLE_RTOL)
    if name != "sqrt_hann":  # librosa only takes scipy window specs by name
        scipy_name = {"triangle": "triang", "rectangular": "boxcar"}.get(name, name)
        librosa_envelope = librosa.filters.window_sumsquare(
            window=scipy_name, n_frames=n_frames, hop_length=hop, win_length=win_length,
            n_fft=n_fft, dtype=np.float64)
        assert_close(envelope, librosa_envelope, ORACLE_RTOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_envelope_equals_cpu_window_sum_square(dtype):
    from specsep import _cpu

    for n_fft, win_length, hop, n_frames in [(16, 16, 4, 9), (17, 11, 3, 5), (512, 400, 100, 30)]:
        plan = specsep.STFT(n_fft, hop_length=hop, win_length=win_length, window="hann", dtype=dtype)
        cpp = _cpu.window_sum_square(plan.window, hop, n_frames)
        assert cpp.dtype == dtype
        assert_close(cpp, plan.envelope(n_frames), RTOL[np.dtype(dtype)])


# ---------------------------------------------------------------------------------------------
# transforms through the plan


@pytest.mark.parametrize("kwargs", [
    dict(n_fft=256),
    dict(n_fft=255, hop_length=50, win_length=200, window="blackman", center=False),
    dict(n_fft=128, pad_mode="reflect", normalized=True, window="sqrt_hann"),
])
def test_forward_inverse_equal_the_functions(kwargs, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3000)).astype(dtype)
    plan = specsep.STFT(**kwargs, dtype=dtype)
    X = plan.forward(x, backend="numpy")
    expected = specsep.stft(x, **kwargs, backend="numpy")
    assert X.dtype == expected.dtype
    np.testing.assert_array_equal(X, expected)
    inverse_kwargs = {k: v for k, v in kwargs.items() if k != "pad_mode"}
    inverse_kwargs["n_fft"] = kwargs["n_fft"]
    y = plan.inverse(X, length=3000, backend="numpy")
    np.testing.assert_array_equal(y, specsep.istft(X, **inverse_kwargs, length=3000, backend="numpy"))
    assert y.dtype == dtype


def test_plan_refuses_the_other_precision():
    plan32 = specsep.STFT(64, dtype=np.float32)
    plan64 = specsep.STFT(64, dtype=np.float64)
    x = np.zeros(256)
    with pytest.raises(TypeError, match=r"x has dtype float64 but the plan is float32-based"):
        plan32.forward(x)
    with pytest.raises(TypeError, match=r"x has dtype float32 but the plan is float64-based"):
        plan64.forward(x.astype(np.float32))
    X64 = plan64.forward(x, backend="numpy")
    with pytest.raises(TypeError, match=r"X has dtype complex128 but the plan is float32-based"):
        plan32.inverse(X64)
    with pytest.raises(TypeError, match=r"X has dtype complex64 but the plan is float64-based"):
        plan64.inverse(X64.astype(np.complex64))
    with pytest.raises(TypeError, match="must be a complex spectrogram"):
        plan64.inverse(X64.real)
    with pytest.raises(TypeError, match="float32 or float64"):
        plan32.forward(np.zeros(256, dtype=np.int16))


def test_istft_length_matches_the_inverse():
    for center in (True, False):
        plan = specsep.STFT(31, hop_length=7, center=center, dtype=np.float64)
        X = plan.forward(np.ones(200), backend="numpy")
        assert plan.inverse(X, backend="numpy").shape == (plan.istft_length(X.shape[-1]),)
