"""The implementations of the GPU run (``--gpu``): specsep's ``cuda`` backend on CuPy arrays, torch on
CUDA tensors (``peers.Torch("cuda")``: the CPU peer's code, on the device) and cupyx.scipy.signal.

They compute the functions of :mod:`.peers` on the device; the harness copies their inputs there
before timing and their outputs back after it (:mod:`.devices`).
"""

from __future__ import annotations

import warnings

import numpy as np

from . import devices, peers
from .signals import GL_SEED


def ideal_ratio_xp(X, xp):
    """Ideal ratio mask on powers, sources on axis -3, in the input's precision, in ``xp``'s
    operations (CuPy here; specsep.masks takes NumPy arrays only). Silent bins get ``1 / J``."""
    P = xp.square(X.real)
    P += xp.square(X.imag)
    total = P.sum(axis=-3, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 in silent bins, replaced (NumPy)
        return xp.where(total > 0, P / total, P.dtype.type(1.0 / X.shape[-3]))


class SpecsepCuda(peers.Specsep):
    """specsep's public functions on CuPy arrays (``backend="cuda"``), with two exceptions where
    the public path would do host work inside the timed call:

    - W5's ideal ratio mask is :func:`ideal_ratio_xp` in CuPy operations (``specsep.masks`` takes
      NumPy arrays; specsep has no mask kernel on the device), then ``specsep.separate``;
    - W4 calls the cuda backend's ``griffin_lim`` under the public function with the initial phases
      already on the device: ``specsep.griffin_lim(init="random", rng=seed)`` draws them with NumPy
      on the host (complex128, tens of milliseconds for W4) and copies them in, inside the call.
      The phases are the ones it would draw; the backend call is what the public function makes
      after its argument checks.

    ``SpecsepCuda("cuda-emu")`` runs the same code on NumPy arrays through the emulated backend
    (tests: the GPU path's logic, where no GPU exists)."""

    def __init__(self, backend="cuda"):
        if backend not in ("cuda", "cuda-emu"):
            raise ValueError(f"backend must be 'cuda' or 'cuda-emu', got {backend!r}")
        super().__init__(backend)
        self.device = devices.CUPY if backend == "cuda" else devices.HOST

    def _xp(self):
        if self.backend == "cuda-emu":
            return np
        import cupy

        return cupy

    def available(self):
        return (devices.cuda_missing() if self.backend == "cuda" else None) or super().available()

    def initial_angles(self, shape):
        """The phases ``init="random", rng=GL_SEED`` draws (the formula of :func:`specsep.griffin_lim`),
        as phase angles: given as ``init=``, they make the same unit-modulus angles bit for bit."""
        return 2 * np.pi * np.random.default_rng(GL_SEED).random(shape)

    def griffinlim(self, w, S, angles=None):
        import specsep

        init = {"init": "random", "rng": GL_SEED} if angles is None else {"init": angles}
        return specsep.griffin_lim(S, w.n_iter, hop_length=w.hop, n_fft=w.n_fft, window=w.window, center=w.center,
                                   pad_mode=w.pad_mode, length=w.samples, momentum=w.momentum, backend=self.backend,
                                   **init)


class CupyxSignal(peers.Implementation):
    """cupyx.scipy.signal.stft / istft (scipy's legacy functions on CuPy) made to compute specsep's
    function:

    - the window as a float32 device array, ``nperseg = nfft = n_fft``, ``noverlap = n_fft - hop``,
      ``detrend=False``, one-sided;
    - no scaling: ``scaling="psd"`` with ``fs = 1 / sum(window**2)`` makes its scale factor
      ``sqrt(1 / (fs * sum(window**2)))`` one, in the STFT and in the iSTFT (the default
      ``"spectrum"`` scaling divides by ``sum(window)``; ``fs`` only labels the axes);
    - centring: ``boundary`` ``"zeros"`` / ``"even"`` / ``"constant"`` is constant / reflect / edge
      padding by ``n_fft // 2``, and ``padded=False`` gives ``1 + samples // hop`` frames, as
      ``center=True``;
    - the iSTFT with ``boundary=False`` (the whole overlap-add divided by the window-sum-square
      envelope where it exceeds 1e-10, the least-squares inverse), cut here to
      ``[n_fft // 2, n_fft // 2 + length)``, which keeps the last samples that ``boundary=True``
      would drop (it has no ``length``). Its warning that NOLA fails refers to the zero-weight
      outer samples, outside the kept range, and is silenced.

    Differences that remain: its STFT copies the padded signal and casts its result (``astype``),
    and its iSTFT overlap-adds in a Python loop over frames (two launches per frame) and reads the
    envelope test back to the host; that is the function as cupyx ships it. It has no Griffin-Lim:
    W4 is not run. W5 uses :func:`ideal_ratio_xp`."""

    key = "cupyx-signal"
    label = "cupyx.scipy.signal"
    layout = "frames"
    device = devices.CUPY

    def __init__(self):
        self._windows = {}

    def available(self):
        missing = devices.cuda_missing()
        if missing:
            return missing
        try:
            import cupyx.scipy.signal  # noqa: F401
        except Exception as error:  # noqa: BLE001 - a missing CUDA library raises ImportError or OSError
            return f"cupyx.scipy.signal does not import ({type(error).__name__}: {str(error).splitlines()[0]})"
        return None

    def skip_reason(self, w):
        return "cupyx.scipy.signal has no Griffin-Lim" if w.kind == "griffinlim" else None

    def _win(self, w):
        """The window on the device and the ``fs`` that makes the scaling one (cached: a setting)."""
        if w not in self._windows:
            import cupy

            window = peers._window(w, np.float32)
            self._windows[w] = (cupy.asarray(window), 1.0 / float(np.sum(np.square(window, dtype=np.float64))))
        return self._windows[w]

    def _boundary(self, w):
        return {"constant": "zeros", "reflect": "even", "edge": "constant"}[w.pad_mode] if w.center else None

    def stft(self, w, x):
        import cupyx.scipy.signal as signal

        window, fs = self._win(w)
        _, _, X = signal.stft(x, fs=fs, window=window, nperseg=w.n_fft, noverlap=w.n_fft - w.hop, nfft=w.n_fft,
                              detrend=False, return_onesided=True, boundary=self._boundary(w), padded=False,
                              axis=-1, scaling="psd")
        return X

    def istft(self, w, X, length):
        import cupy
        import cupyx.scipy.signal as signal

        window, fs = self._win(w)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "NOLA condition failed")
            _, y = signal.istft(X, fs=fs, window=window, nperseg=w.n_fft, noverlap=w.n_fft - w.hop, nfft=w.n_fft,
                                input_onesided=True, boundary=False, time_axis=-1, freq_axis=-2, scaling="psd")
        start = w.n_fft // 2 if w.center else 0
        y = y[..., start:start + length]
        if y.shape[-1] < length:
            y = cupy.concatenate([y, cupy.zeros(y.shape[:-1] + (length - y.shape[-1],), y.dtype)], axis=-1)
        return y

    def separate(self, w, sources, mix):
        return self.separate_stfts(w, self.stft(w, sources), mix)

    def separate_stfts(self, w, S, mix):
        import cupy

        M = ideal_ratio_xp(S, cupy)
        Y = cupy.expand_dims(self.stft(w, mix), -3) * M
        return self.istft(w, Y, w.samples)


def gpu_implementations():
    """The implementations of the GPU run, specsep's first."""
    return [SpecsepCuda(), peers.Torch("cuda"), CupyxSignal()]
