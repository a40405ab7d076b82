"""The implementations under test: specsep's backends and the peers, each with its own best settings.

An implementation binds a workload and its inputs to a zero-argument callable (the thing that is
timed): ``impl.bind(w, inputs)()`` returns the workload's output as NumPy arrays in the shapes
specsep returns (spectrograms ``(..., freq, frames)``, signals ``(..., samples)``, separated
sources ``(..., J, samples)``). Input conversion that is not part of the work (memory layout of a
given spectrogram) happens in ``bind``, outside the timing.

Every implementation computes the same function as specsep on the workloads (window, centring,
padding, least-squares iSTFT, the fast Griffin-Lim update of librosa and torchaudio with the same
random initial phases); where a peer's conventions differ, the class says how it is made to agree.

An implementation on a GPU (``device.on_device``, see :mod:`.devices`) gets its inputs copied to the
device in ``bind`` (not timed), returns device arrays, and the harness fetches them after timing;
on the device the initial phases of Griffin-Lim are an input too, drawn and copied in ``bind``.
The GPU implementations besides ``Torch("cuda")`` are in :mod:`.gpu_peers`.
"""

from __future__ import annotations

import contextlib
import importlib.util

import numpy as np

from . import devices
from .signals import GL_SEED

_TORCH_PAD = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
_SCIPY_PAD = {"constant": "zeros", "reflect": "even", "edge": "edge"}


def _installed(*modules):
    return all(importlib.util.find_spec(m) is not None for m in modules)


def _window(w, dtype=np.float64):
    import specsep

    return specsep.get_window(w.window, w.n_fft).astype(dtype)


def _layout(X, layout):
    """``X (..., F, T)`` with the memory order an implementation's own STFT returns."""
    if layout == "frames":  # (..., T, F) memory, a transposed view: specsep, torch, numpy+scipy.fft
        return np.ascontiguousarray(X.swapaxes(-1, -2)).swapaxes(-1, -2)
    if layout == "fortran":  # librosa allocates its STFT in Fortran order
        return np.asfortranarray(X)
    return np.ascontiguousarray(X)


def _seeded_phases(shape, dtype=np.complex64):
    """The random initial phases every Griffin-Lim here starts from (librosa's formula and seed)."""
    return np.exp(2j * np.pi * np.random.default_rng(GL_SEED).random(shape)).astype(dtype)


def ideal_ratio_numpy(X):
    """Ideal ratio mask on powers, sources on axis -3, in the input's precision (NumPy peers)."""
    P = np.square(X.real)
    P += np.square(X.imag)
    total = P.sum(axis=-3, keepdims=True)
    return np.divide(P, total, out=np.full_like(P, 1.0 / X.shape[-3]), where=total > 0)


class Implementation:
    key = ""  # short name for the command line and JSON
    label = ""  # name in tables
    specsep = False  # specsep's own backends are not peers
    slow = False  # run once, without warm-up (or skipped with --skip-slow)
    layout = "C"  # memory order of given spectrograms
    interior = ()  # workload kinds checked without n_fft samples at each end (see the class)
    device = devices.HOST  # where its inputs and outputs live
    note = ""

    def available(self) -> str | None:
        """``None`` when it can run here, else why not."""
        return None

    def skip_reason(self, w) -> str | None:
        """``None`` when it runs workload ``w``, else why it does not (it has no such function)."""
        return None

    def initial_angles(self, shape):
        """The shared initial phases of Griffin-Lim, as this implementation takes them."""
        return _seeded_phases(shape)

    def setup(self, threads: int) -> None:
        """Global settings for a run with ``threads`` threads (undone by :meth:`teardown`)."""

    def teardown(self) -> None:
        pass

    def bind(self, w, inputs):
        kind, put = w.kind, self.device.put
        if kind == "stft":
            x = put(inputs["x"])
            return lambda: self.stft(w, x)
        if kind == "istft":
            X = put(_layout(inputs["X"], w.layout or self.layout))
            return lambda: self.istft(w, X, w.samples)
        if kind == "roundtrip":
            x = put(inputs["x"])
            return lambda: self.roundtrip(w, x)
        if kind == "griffinlim":
            S = put(_layout(inputs["S"], self.layout))
            if self.device.on_device:
                angles = put(self.initial_angles(S.shape))
                return lambda: self.griffinlim(w, S, angles)
            return lambda: self.griffinlim(w, S)
        if kind == "separate" and w.layout:
            S, mix = put(_layout(inputs["sources_stft"], w.layout)), put(inputs["mix"])
            return lambda: self.separate_stfts(w, S, mix)
        if kind == "separate":
            sources, mix = put(inputs["sources"]), put(inputs["mix"])
            return lambda: self.separate(w, sources, mix)
        raise ValueError(f"unknown workload kind {kind!r}")

    def roundtrip(self, w, x):
        return self.istft(w, self.stft(w, x), w.samples)

    def separate_stfts(self, w, S, mix):
        """Separation given the sources' STFTs ``S (..., J, F, T)``: the ideal ratio masks from
        them, the mixture's STFT times the masks, the inverse."""
        return self.istft(w, np.expand_dims(self.stft(w, mix), -3) * ideal_ratio_numpy(S), w.samples)


# ---------------------------------------------------------------------------------------------
# specsep


class Specsep(Implementation):
    """specsep's public functions; the ideal ratio mask is ``specsep.masks.ideal_ratio`` and the
    separation ``specsep.separate`` (mixture STFT, mask and iSTFT fused)."""

    specsep = True
    layout = "frames"

    def __init__(self, backend):
        self.backend = backend
        self.key = f"specsep-{backend}"
        self.label = f"specsep {backend}"
        self.slow = backend == "numpy"
        self._threads = None

    def available(self):
        import specsep

        return None if self.backend in specsep.available_backends() else "backend not available"

    def setup(self, threads):
        import specsep

        if self.backend == "cpu":
            self._threads = specsep.get_num_threads()
            specsep.set_num_threads(threads)

    def teardown(self):
        import specsep

        if self._threads is not None:
            specsep.set_num_threads(self._threads)
            self._threads = None

    def stft(self, w, x):
        import specsep

        return specsep.stft(x, **w.stft_args, pad_mode=w.pad_mode, backend=self.backend)

    def istft(self, w, X, length):
        import specsep

        return specsep.istft(X, **w.stft_args, length=length, backend=self.backend)

    def griffinlim(self, w, S):
        import specsep

        return specsep.griffin_lim(S, w.n_iter, **w.stft_args, pad_mode=w.pad_mode, length=w.samples,
                                   momentum=w.momentum, init="random", rng=GL_SEED, backend=self.backend)

    def ideal_ratio(self, X):
        import specsep

        return specsep.masks.ideal_ratio(X)

    def separate(self, w, sources, mix):
        return self.separate_stfts(w, self.stft(w, sources), mix)

    def separate_stfts(self, w, S, mix):
        import specsep

        return specsep.separate(mix, self.ideal_ratio(S), **w.stft_args, pad_mode=w.pad_mode, length=w.samples,
                                backend=self.backend)


# ---------------------------------------------------------------------------------------------
# librosa


class Librosa(Implementation):
    """librosa.stft / istft / griffinlim; separation as librosa STFTs, a NumPy float32 mask and
    librosa.istft. Best settings: librosa's FFT library is scipy.fft (its default since 0.11), run
    with ``scipy.fft.set_workers(threads)``."""

    key = "librosa"
    label = "librosa"
    layout = "fortran"

    def available(self):
        return None if _installed("librosa", "scipy") else "librosa or scipy not installed"

    def setup(self, threads):
        self._workers = threads

    def _workers_ctx(self):
        import scipy.fft

        return scipy.fft.set_workers(self._workers)

    def _window(self, w):
        return w.window if w.window == "hann" else _window(w)

    def _stft(self, w, x):
        import librosa

        return librosa.stft(x, n_fft=w.n_fft, hop_length=w.hop, window=self._window(w), center=w.center,
                            pad_mode=w.pad_mode)

    def _istft(self, w, X, length):
        import librosa

        return librosa.istft(X, hop_length=w.hop, n_fft=w.n_fft, window=self._window(w), center=w.center,
                             length=length)

    def stft(self, w, x):
        with self._workers_ctx():
            return self._stft(w, x)

    def istft(self, w, X, length):
        with self._workers_ctx():
            return self._istft(w, X, length)

    def roundtrip(self, w, x):
        with self._workers_ctx():
            return self._istft(w, self._stft(w, x), w.samples)

    def griffinlim(self, w, S):
        import librosa

        with self._workers_ctx():
            return librosa.griffinlim(S, n_iter=w.n_iter, hop_length=w.hop, n_fft=w.n_fft, window=self._window(w),
                                      center=w.center, length=w.samples, pad_mode=w.pad_mode, momentum=w.momentum,
                                      init="random", random_state=np.random.default_rng(GL_SEED))

    def separate(self, w, sources, mix):
        with self._workers_ctx():
            M = ideal_ratio_numpy(self._stft(w, sources))
            Y = np.expand_dims(self._stft(w, mix), -3) * M
            return self._istft(w, Y, w.samples)


# ---------------------------------------------------------------------------------------------
# scipy.signal.ShortTimeFFT


class ScipyShortTimeFFT(Implementation):
    """scipy.signal.ShortTimeFFT with ``mfft=n_fft``, ``scale_to=None`` (no scaling: the plain DFT),
    ``phase_shift=None`` (DFT index 0 at the first sample of the slice, as librosa and torch), the
    workload's padding (``zeros``, or ``even`` for reflect), ``scipy.fft.set_workers(threads)``, and
    ``p0=0, p1=frames``: slice ``p`` is centred on sample ``p * hop``, which is ``center=True``.

    Its inverse uses the canonical dual window of the steady state and expects the slices from
    ``p_min < 0``, which a centred spectrogram does not have: given spectrograms (W2, Griffin-Lim)
    are prefixed with zero slices, so the first and last ``n_fft`` samples differ from the
    least-squares inverse and are left out of the check. The round trip (W3) and the separation (W5)
    use ShortTimeFFT's own full slice range. Outputs are float64 / complex128, as it computes."""

    key = "scipy-stfft"
    label = "scipy ShortTimeFFT"
    interior = ("istft", "separate")

    def available(self):
        return None if _installed("scipy") else "scipy not installed"

    def setup(self, threads):
        self._workers = threads
        self._plans = {}

    def _plan(self, w):
        from scipy.signal import ShortTimeFFT

        if w not in self._plans:
            self._plans[w] = ShortTimeFFT(_window(w, np.float32), w.hop, fs=w.sr, fft_mode="onesided",
                                          mfft=w.n_fft, scale_to=None, phase_shift=None)
        return self._plans[w]

    def _ctx(self):
        import scipy.fft

        return scipy.fft.set_workers(self._workers)

    def _stft(self, w, x, full=False):
        plan = self._plan(w)
        if full:
            return plan.stft(x, padding=_SCIPY_PAD[w.pad_mode])
        return plan.stft(x, p0=0, p1=w.n_frames, padding=_SCIPY_PAD[w.pad_mode])

    def _istft(self, w, X, length, full=False):
        plan = self._plan(w)
        if not full and plan.p_min < 0:
            zeros = np.zeros(X.shape[:-1] + (-plan.p_min,), dtype=X.dtype)
            X = np.concatenate([zeros, X], axis=-1)
        return plan.istft(X, k1=length)

    def stft(self, w, x):
        self._plan(w)
        with self._ctx():
            return self._stft(w, x)

    def istft(self, w, X, length):
        self._plan(w)
        with self._ctx():
            return self._istft(w, X, length)

    def roundtrip(self, w, x):
        self._plan(w)
        with self._ctx():
            return self._istft(w, self._stft(w, x, full=True), w.samples, full=True)

    def griffinlim(self, w, S):
        self._plan(w)
        momentum = w.momentum / (1 + w.momentum)
        with self._ctx():
            angles = _seeded_phases(S.shape) * S
            tprev = None
            for _ in range(w.n_iter):
                rebuilt = self._stft(w, self._istft(w, angles, w.samples))
                angles = rebuilt.copy() if tprev is None else rebuilt - momentum * tprev
                angles /= np.abs(angles) + np.finfo(angles.real.dtype).tiny
                angles *= S
                tprev = rebuilt
            return self._istft(w, angles, w.samples)

    def separate(self, w, sources, mix):
        self._plan(w)
        with self._ctx():
            M = ideal_ratio_numpy(self._stft(w, sources, full=True))
            Y = np.expand_dims(self._stft(w, mix, full=True), -3) * M
            return self._istft(w, Y, w.samples, full=True)


# ---------------------------------------------------------------------------------------------
# NumPy + scipy.fft, written for speed


class NumpyScipyFFT(Implementation):
    """A hand-written NumPy STFT with scipy.fft (``workers=threads``): padding by ``np.pad``, frames
    as a strided view (``sliding_window_view``), the window product, ``scipy.fft.rfft`` over the
    frame axis in frame-major memory; the inverse ``irfft``, window, overlap-add by ``n_fft / hop``
    shifted slice additions, and multiplication by the inverse window-sum-square envelope (cached).
    Whole arrays at once: processing blocks of frames that stay in cache was measured no faster
    (slower for n_fft 512), the Python loop costing what the cache saves."""

    key = "numpy-scipyfft"
    label = "numpy + scipy.fft"
    layout = "frames"

    def available(self):
        return None if _installed("scipy") else "scipy not installed"

    def setup(self, threads):
        self._workers = threads
        self._windows = {}
        self._envelopes = {}

    def _win(self, w):
        if w not in self._windows:
            self._windows[w] = _window(w, np.float32)
        return self._windows[w]

    def _stft(self, w, x):
        import scipy.fft
        from numpy.lib.stride_tricks import sliding_window_view

        if w.center:
            pad = [(0, 0)] * (x.ndim - 1) + [(w.n_fft // 2, w.n_fft // 2)]
            x = np.pad(x, pad, mode=w.pad_mode)
        frames = sliding_window_view(x, w.n_fft, axis=-1)[..., :: w.hop, :]
        X = scipy.fft.rfft(frames * self._win(w), axis=-1, workers=self._workers)
        return X.swapaxes(-1, -2)

    def _overlap_add(self, w, frames):
        """``(..., T, n_fft)`` frames -> ``(..., (T - 1) * hop + n_fft)`` signals."""
        n_frames, hop = frames.shape[-2], w.hop
        if w.n_fft % hop == 0:
            r = w.n_fft // hop
            out = np.zeros(frames.shape[:-2] + (n_frames + r - 1, hop), dtype=frames.dtype)
            for j in range(r):
                out[..., j : j + n_frames, :] += frames[..., j * hop : (j + 1) * hop]
            return out.reshape(frames.shape[:-2] + (-1,))
        out = np.zeros(frames.shape[:-2] + ((n_frames - 1) * hop + w.n_fft,), dtype=frames.dtype)
        for t in range(n_frames):
            out[..., t * hop : t * hop + w.n_fft] += frames[..., t, :]
        return out

    def _inverse_envelope(self, w, n_frames):
        key = (w, n_frames)
        if key not in self._envelopes:
            win2 = np.square(self._win(w).astype(np.float64))
            env = self._overlap_add(w, np.broadcast_to(win2, (n_frames, w.n_fft)))
            tiny = np.finfo(np.float32).tiny
            self._envelopes[key] = np.where(env > tiny, 1.0 / np.where(env > tiny, env, 1.0), 1.0).astype(np.float32)
        return self._envelopes[key]

    def _istft(self, w, X, length):
        import scipy.fft

        n_frames = X.shape[-1]
        frames = scipy.fft.irfft(X.swapaxes(-1, -2), n=w.n_fft, axis=-1, workers=self._workers)
        frames *= self._win(w)
        y = self._overlap_add(w, frames)
        start = w.n_fft // 2 if w.center else 0
        stop = min(start + length, y.shape[-1])
        out = y[..., start:stop] * self._inverse_envelope(w, n_frames)[start:stop]
        if out.shape[-1] < length:
            out = np.concatenate([out, np.zeros(out.shape[:-1] + (length - out.shape[-1],), out.dtype)], axis=-1)
        return out

    def stft(self, w, x):
        return self._stft(w, x)

    def istft(self, w, X, length):
        return self._istft(w, X, length)

    def griffinlim(self, w, S):
        momentum = np.float32(w.momentum / (1 + w.momentum))
        St = S.swapaxes(-1, -2)  # frame-major, like the spectra below
        angles = _seeded_phases(S.shape).swapaxes(-1, -2) * St
        tiny = np.finfo(np.float32).tiny
        tprev = None
        for _ in range(w.n_iter):
            rebuilt = self._stft(w, self._istft(w, angles.swapaxes(-1, -2), w.samples)).swapaxes(-1, -2)
            angles = rebuilt.copy() if tprev is None else rebuilt - momentum * tprev
            angles /= np.abs(angles) + tiny
            angles *= St
            tprev = rebuilt
        return self._istft(w, angles.swapaxes(-1, -2), w.samples)

    def separate(self, w, sources, mix):
        M = ideal_ratio_numpy(self._stft(w, sources))
        Y = np.expand_dims(self._stft(w, mix), -3) * M
        return self._istft(w, Y, w.samples)


# ---------------------------------------------------------------------------------------------
# torch


class Torch(Implementation):
    """torch.stft / torch.istft; Griffin-Lim is torchaudio's ``griffinlim`` loop written in torch
    ops (torchaudio itself is not needed), with the workload's padding and the shared initial
    phases; the ideal ratio mask in torch ops.

    ``Torch("cpu")``: on the CPU (``torch.set_num_threads(threads)``, NumPy arrays shared with
    ``torch.from_numpy``, outputs returned with ``.numpy()``, both zero-copy, inside the timed call).
    ``Torch("cuda")``: the same code on CUDA tensors: inputs (and Griffin-Lim's initial phases) are
    copied to the device before timing, the windows live on the device, outputs stay there."""

    layout = "frames"

    def __init__(self, device="cpu"):
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        self.torch_device = device
        self.device = devices.HOST if device == "cpu" else devices.TORCH_CUDA
        self.key = "torch" if device == "cpu" else "torch-cuda"
        self.label = "torch" if device == "cpu" else "torch cuda"
        self._windows = {}

    def available(self):
        if not _installed("torch"):
            return "torch not installed"
        return devices.torch_cuda_missing() if self.torch_device == "cuda" else None

    def setup(self, threads):
        import torch

        self._threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        if not self.device.on_device:  # on the device the windows stay there between runs
            self._windows = {}

    def teardown(self):
        import torch

        torch.set_num_threads(self._threads)

    def _win(self, w):
        import torch

        if w not in self._windows:
            self._windows[w] = torch.from_numpy(_window(w, np.float32)).to(self.torch_device)
        return self._windows[w]

    def _tensor(self, a):
        """An input as a tensor: NumPy arrays (the CPU peer) are shared, tensors taken as they are."""
        import torch

        return a if isinstance(a, torch.Tensor) else torch.from_numpy(a)

    def _result(self, t):
        return t if self.device.on_device else t.numpy()

    def _stft(self, w, x):
        import torch

        rows = x.reshape((-1, x.shape[-1]))
        X = torch.stft(rows, w.n_fft, w.hop, window=self._win(w), center=w.center,
                       pad_mode=_TORCH_PAD[w.pad_mode], return_complex=True)
        return X.reshape(tuple(x.shape[:-1]) + tuple(X.shape[-2:]))

    def _istft(self, w, X, length):
        import torch

        rows = X.reshape((-1,) + tuple(X.shape[-2:]))
        y = torch.istft(rows, w.n_fft, w.hop, window=self._win(w), center=w.center, length=length)
        return y.reshape(tuple(X.shape[:-2]) + (length,))

    def stft(self, w, x):
        import torch

        with torch.inference_mode():
            return self._result(self._stft(w, self._tensor(x)))

    def istft(self, w, X, length):
        import torch

        with torch.inference_mode():
            return self._result(self._istft(w, self._tensor(X), length))

    def roundtrip(self, w, x):
        import torch

        with torch.inference_mode():
            return self._result(self._istft(w, self._stft(w, self._tensor(x)), w.samples))

    @staticmethod
    def _random_angles(shape):
        """The shared initial phases made by torch, on its threads: the same draws as
        :func:`_seeded_phases`, ``torch.polar`` in float32 (within 1e-6 of its complex64 angles)."""
        import torch

        turns = torch.from_numpy(np.random.default_rng(GL_SEED).random(shape)).to(torch.float32)
        return torch.polar(torch.ones_like(turns), turns.mul_(2 * np.pi))

    def griffinlim(self, w, S, angles=None):
        import torch

        with torch.inference_mode():
            specgram = self._tensor(S)
            angles = self._random_angles(S.shape) if angles is None else self._tensor(angles)
            tprev = torch.tensor(0.0, dtype=specgram.dtype, device=specgram.device)
            for _ in range(w.n_iter):
                inverse = self._istft(w, specgram * angles, w.samples)
                rebuilt = self._stft(w, inverse)
                angles = rebuilt
                if w.momentum:
                    angles = angles - tprev.mul_(w.momentum / (1 + w.momentum))
                angles = angles.div(angles.abs().add(1e-16))
                tprev = rebuilt
            return self._result(self._istft(w, specgram * angles, w.samples))

    def separate(self, w, sources, mix):
        import torch

        with torch.inference_mode():
            return self._separate(w, self._stft(w, self._tensor(sources)), mix)

    def separate_stfts(self, w, S, mix):
        import torch

        with torch.inference_mode():
            return self._separate(w, self._tensor(S), mix)

    def _separate(self, w, X, mix):
        """Ideal ratio masks from the sources' STFTs ``X`` in torch ops, then the masked inverse."""
        import torch

        P = X.abs().square_()
        total = P.sum(dim=-3, keepdim=True)
        M = torch.where(total > 0, P / total, 1.0 / X.shape[-3])
        Y = self._stft(w, self._tensor(mix)).unsqueeze(-3) * M
        return self._result(self._istft(w, Y, w.samples))


def all_implementations():
    """Every implementation, specsep's first (``cpu`` leading)."""
    return [Specsep("cpu"), Specsep("numpy"), Librosa(), ScipyShortTimeFFT(), NumpyScipyFFT(), Torch()]
