"""specsep.torch's transforms: gradients (torch.autograd.gradcheck in float64 on every host
backend, cuda-emu running the CUDA kernels), float32 gradients against torch.stft/torch.istft's own,
torch's argument conventions, the refused cases, and a mask estimator trained through them."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import has_module, requires_torch, subprocess_env

pytestmark = requires_torch
if has_module("torch"):
    import torch

    import specsep.torch as st

# torch's own STFT against specsep's (pocketfft against specsep's FFT, float32): relative L2
# errors measured at ~1e-7 for n_fft 9..64; the tolerance leaves two orders of margin
TORCH_RTOL32 = 1e-5


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def _window(n, dtype=None):
    import torch
    return torch.hann_window(n, dtype=dtype or torch.float64)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "replicate"])
@pytest.mark.parametrize("center", [True, False], ids=["center", "uncentred"])
@pytest.mark.parametrize("normalized", [False, True], ids=["plain", "normalized"])
def test_stft_gradcheck(backend, pad_mode, center, normalized):
    x = torch.randn(2, 29, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: st.stft(x, 8, 3, window=_window(8), center=center, pad_mode=pad_mode, normalized=normalized,
                          backend=backend), (x,))


@pytest.mark.parametrize("n_fft, win_length", [(9, 7), (10, 6)], ids=["odd", "even"])
def test_stft_gradcheck_short_window(backend, n_fft, win_length):
    """Odd n_fft (no Nyquist bin) and a zero-padded window; reflect padding longer than the
    signal (periodic reflection) folds gradients back more than once."""
    x = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: st.stft(x, n_fft, 2, win_length, _window(win_length), backend=backend), (x,))


@pytest.mark.parametrize("length", [None, 20, 40], ids=["default", "shorter", "longer"])
@pytest.mark.parametrize("center", [True, False], ids=["center", "uncentred"])
@pytest.mark.parametrize("normalized", [False, True], ids=["plain", "normalized"])
def test_istft_gradcheck(backend, length, center, normalized):
    X = torch.randn(2, 5, 8, dtype=torch.complex128, generator=torch.Generator().manual_seed(3), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda X: st.istft(X, 8, 3, window=_window(8), center=center, normalized=normalized, length=length,
                           backend=backend), (X,))


def test_istft_gradcheck_odd(backend):
    X = torch.randn(5, 6, dtype=torch.complex128, generator=torch.Generator().manual_seed(4), requires_grad=True)
    assert torch.autograd.gradcheck(lambda X: st.istft(X, 9, 2, 7, _window(7), backend=backend), (X,))


def test_apply_mask_gradcheck(backend):
    generator = torch.Generator().manual_seed(5)
    X = torch.randn(2, 5, 4, dtype=torch.complex128, generator=generator, requires_grad=True)
    M = torch.rand(2, 3, 5, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(lambda X, M: st.apply_mask(X, M, backend=backend), (X, M))
    one = torch.rand(1, 5, 4, dtype=torch.float64, generator=generator, requires_grad=True)  # broadcast
    assert torch.autograd.gradcheck(lambda X, M: st.apply_mask(X, M, backend=backend), (X, one))


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_separate_gradcheck(backend, pad_mode):
    generator = torch.Generator().manual_seed(6)
    x = torch.randn(2, 30, dtype=torch.float64, generator=generator, requires_grad=True)
    M = torch.rand(2, 3, 5, 11, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, M: st.separate(x, M, 8, 3, pad_mode=pad_mode, length=28, backend=backend), (x, M))


@pytest.mark.parametrize("n_fft", [16, 63, 64])
def test_float32_gradients_equal_torchs(backend, n_fft):
    """The gradient of a loss through specsep.torch equals the one through torch.stft/istft."""
    generator = torch.Generator().manual_seed(n_fft)
    x = torch.randn(3, 1000, generator=generator, requires_grad=True)
    window, hop = _window(n_fft, torch.float32), n_fft // 4
    weights = torch.randn(3, n_fft // 2 + 1, 1000 // hop + 1, dtype=torch.complex64, generator=generator)
    target = torch.randn(3, 990, generator=generator)

    def gradients(stft, istft):
        X = stft(x, n_fft, hop, window=window, return_complex=True)
        y = istft(X * weights, n_fft, hop, window=window, length=990)
        return torch.autograd.grad(((y - target) ** 2).sum(), x)[0]

    ours = gradients(lambda *a, **k: st.stft(*a, **k, backend=backend),
                     lambda *a, **k: st.istft(*a, **k, backend=backend))
    assert _rel(ours, gradients(torch.stft, torch.istft)) <= TORCH_RTOL32


def test_forward_equals_torchs(backend, dtype):
    x = torch.from_numpy(np.random.default_rng(7).standard_normal((2, 500)).astype(dtype))
    window = _window(64, x.dtype)
    for pad_mode in ("reflect", "constant", "replicate"):
        X = st.stft(x, 64, 16, window=window, pad_mode=pad_mode, backend=backend)
        expected = torch.stft(x, 64, 16, window=window, pad_mode=pad_mode, return_complex=True)
        assert _rel(X, expected) <= (TORCH_RTOL32 if dtype == np.float32 else 1e-12)
    y = st.istft(X, 64, 16, window=window, length=480, backend=backend)
    assert _rel(y, torch.istft(expected, 64, 16, window=window, length=480)) <= (
        TORCH_RTOL32 if dtype == np.float32 else 1e-12)


def test_defaults_are_torchs():
    """hop n_fft // 4 whatever win_length, all-ones window, reflect padding, onesided complex."""
    x = torch.randn(300, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    X = st.stft(x, 32, win_length=16)
    expected = torch.stft(x, 32, win_length=16, return_complex=True)
    assert X.shape == expected.shape and _rel(X, expected) <= 1e-12
    assert _rel(st.istft(expected, 32, window=_window(32)), torch.istft(expected, 32, window=_window(32))) <= 1e-12


def test_return_complex_false_is_view_as_real():
    x = torch.randn(100, dtype=torch.float64, requires_grad=True)
    pair = st.stft(x, 16, window=_window(16), return_complex=False)
    assert torch.equal(pair, torch.view_as_real(st.stft(x, 16, window=_window(16))))
    assert torch.autograd.gradcheck(lambda x: st.stft(x, 16, window=_window(16), return_complex=False), (x,))


def test_conjugate_views(backend):
    """A lazily conjugated input (``X.conj()``) is the conjugate, in the forward and the backward."""
    X = torch.randn(5, 6, dtype=torch.complex128, generator=torch.Generator().manual_seed(9), requires_grad=True)
    view = X.conj()
    assert view.is_conj()
    y = st.istft(view, 8, 2, window=_window(8), backend=backend)
    assert torch.equal(y, st.istft(view.resolve_conj(), 8, 2, window=_window(8), backend=backend))
    assert torch.autograd.gradcheck(lambda X: st.istft(X.conj(), 8, 2, window=_window(8), backend=backend), (X,))


def test_numpy_api_refuses_tensors_that_record_a_graph():
    import specsep

    x = torch.randn(64, requires_grad=True)
    with pytest.raises(TypeError, match="requires grad.*specsep.torch"):
        specsep.stft(x, 16)
    with torch.no_grad():  # no graph recorded: the tensor's data is taken
        assert isinstance(specsep.stft(x, 16), torch.Tensor)


def test_numpy_api_takes_conjugate_views():
    import specsep

    X = torch.randn(9, 5, dtype=torch.complex64)
    assert torch.equal(specsep.istft(X.conj(), n_fft=16), specsep.istft(X.conj().resolve_conj(), n_fft=16))


@pytest.mark.parametrize("call, error, match", [
    (lambda x: st.stft(x, 16, onesided=False), ValueError, "onesided=False.*onesided"),
    (lambda x: st.stft(x, 16, pad_mode="circular"), ValueError, "pad_mode"),
    (lambda x: st.stft(x.numpy(), 16), TypeError, "input must be a torch.Tensor"),
    (lambda x: st.stft(x.half(), 16), TypeError, "float32/float64"),
    (lambda x: st.stft(x, 16, window=torch.ones(16, requires_grad=True)), ValueError, "window requires grad"),
    (lambda x: st.stft(x.requires_grad_(), 16, 8, 4), ValueError, "requires grad.*NOLA"),
    (lambda x: st.istft(st.stft(x, 16), 16, return_complex=True), ValueError, "return_complex"),
    (lambda x: st.istft(x, 16), TypeError, "complex spectrogram"),
])
def test_refused(call, error, match):
    with pytest.raises(error, match=match):
        call(torch.randn(100))


def test_analysis_with_gaps_without_grad():
    """hop > win_length is analysis only: fine while no gradient is asked for."""
    x = torch.randn(100, dtype=torch.float64)
    X = st.stft(x, 16, 8, 4, window=torch.ones(4, dtype=torch.float64))
    assert _rel(X, torch.stft(x, 16, 8, 4, window=torch.ones(4, dtype=torch.float64), return_complex=True)) <= 1e-12


def _train(stft, istft, steps=40, seed=0):
    """A per-frame linear mask estimator on log magnitudes, trained on a seeded synthetic mixture
    (a harmonic tone in noise) to recover the tone with a waveform loss; the losses per step."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(4000) / 8000.0
    tone = sum(torch.sin(2 * torch.pi * 220 * k * t) / k for k in range(1, 4))
    mix = (tone + 0.5 * torch.randn(4000, generator=generator)).expand(4, -1)
    n_fft, hop = 128, 32
    window = torch.hann_window(n_fft)
    torch.manual_seed(seed)
    model = torch.nn.Linear(n_fft // 2 + 1, n_fft // 2 + 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        X = stft(mix, n_fft, hop, window=window, return_complex=True)
        mask = torch.sigmoid(model(torch.log1p(X.abs()).transpose(-1, -2))).transpose(-1, -2)
        estimate = istft(X * mask, n_fft, hop, window=window, length=4000)
        loss = ((estimate - tone) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


def test_training_through_specsep_like_torch():
    """Through specsep.torch a mask estimator learns as through torch.stft/istft: the loss falls
    below half of its first value (measured: 0.273 to 0.0275 in 40 steps), and both final losses
    agree within 1% (measured: 2e-7)."""
    ours = _train(st.stft, st.istft)
    theirs = _train(torch.stft, torch.istft)
    assert ours[-1] < 0.5 * ours[0]
    assert abs(ours[-1] / theirs[-1] - 1) < 0.01


def test_numpy_api_returns_tensors_for_tensors():
    """Every public function of the NumPy API gives tensors for tensors, of the values it gives
    for the arrays (the masks have their own test in test_torch_masks.py)."""
    import specsep

    x = torch.from_numpy(np.random.default_rng(10).standard_normal((2, 2000)).astype(np.float32))
    X = specsep.stft(x, 128)
    S, M = X.abs(), torch.rand((2, 2) + X.shape[-2:], generator=torch.Generator().manual_seed(10))
    calls = {
        "stft": lambda x, X, S, M: specsep.stft(x, 128),
        "istft": lambda x, X, S, M: specsep.istft(X, n_fft=128),
        "apply_mask": lambda x, X, S, M: specsep.apply_mask(X, M),
        "separate": lambda x, X, S, M: specsep.separate(x, M, 128),
        "griffin_lim": lambda x, X, S, M: specsep.griffin_lim(S, n_iter=2, rng=0),
        "misi": lambda x, X, S, M: specsep.misi(x, M * S[:, None], n_iter=2),
        "magnitude": lambda x, X, S, M: specsep.magnitude(X),
        "power": lambda x, X, S, M: specsep.power(X),
        "amplitude_to_db": lambda x, X, S, M: specsep.amplitude_to_db(S),
        "power_to_db": lambda x, X, S, M: specsep.power_to_db(S),
        "mel_spectrogram": lambda x, X, S, M: specsep.mel_spectrogram(x, 8000, 128, n_mels=16),
        "snr": lambda x, X, S, M: specsep.metrics.snr(x, x[0]),
        "si_sdr": lambda x, X, S, M: specsep.metrics.si_sdr(x, x[0]),
    }
    arrays = [a.numpy() for a in (x, X, S, M)]
    for name, call in calls.items():
        result = call(x, X, S, M)
        assert isinstance(result, torch.Tensor), name
        np.testing.assert_array_equal(result.numpy(), call(*arrays), err_msg=name)


def test_import_specsep_does_not_import_torch():
    code = "import sys, specsep; assert 'torch' not in sys.modules; import specsep.torch; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=subprocess_env())
