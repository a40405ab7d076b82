"""specsep for torch training: the transforms as ``torch.autograd.Function``s.

``specsep.torch.stft`` and ``specsep.torch.istft`` take ``torch.stft``/``torch.istft``'s
arguments and defaults, so a training step swaps them in by name. Forward passes run specsep's
kernels (CPU tensors on the ``cpu`` backend, CUDA tensors on the ``cuda`` backend, zero-copy);
backward passes are the adjoint transforms, computed by the same kernels (``_adjoint.py``).
Importing this module imports torch; ``import specsep`` does not.
"""

from __future__ import annotations

import torch

from .. import _plan
from .. import _validate as v
from . import _functions, masks, phase
from ._tensors import check_tensor, window_spec
from .phase import griffin_lim, misi
from .masks import binarize, ideal_binary, ideal_ratio, normalize, phase_sensitive, softmask, wiener

__all__ = ["apply_mask", "binarize", "griffin_lim", "ideal_binary", "ideal_ratio", "istft", "masks", "misi",
           "normalize", "phase", "phase_sensitive", "separate", "softmask", "stft", "wiener"]

# torch's pad_mode names for the paddings specsep computes ("replicate" is NumPy's "edge")
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "edge": "edge"}


def _window(window):
    """torch's ``window`` as a plan's window: ``None`` is torch's all-ones window."""
    return "rectangular" if window is None else window_spec(check_tensor("window", window))


def _plan_of(n_fft, hop_length, win_length, window, center, pad_mode, normalized, dtype):
    """The plan of torch's arguments: ``hop_length`` defaults to ``n_fft // 4`` (torch's rule,
    whatever ``win_length``)."""
    n_fft = v.check_int("n_fft", n_fft, minimum=2)
    if hop_length is None:
        hop_length = max(n_fft // 4, 1)
    v.check_choice("pad_mode", pad_mode, tuple(_PAD_MODES))
    real = {torch.float32: "float32", torch.float64: "float64",
            torch.complex64: "float32", torch.complex128: "float64"}.get(dtype)
    if real is None:
        raise TypeError(f"the input has dtype {dtype}; specsep.torch takes float32/float64 signals and "
                        "complex64/complex128 spectrograms")
    return _plan.get(n_fft, hop_length, win_length, _window(window), center, _PAD_MODES[pad_mode], normalized,
                     real)


def _check_onesided(onesided):
    if onesided is not None and onesided is not True:
        raise ValueError(f"onesided={onesided!r}: specsep computes the onesided spectrum of real signals only "
                         "(onesided=True or None)")


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=True, return_complex=True, *, backend=None):
    """Short-time Fourier transform with ``torch.stft``'s arguments, differentiable.

    Parameters
    ----------
    input : torch.Tensor, shape (..., samples), float32 or float64
        Signals, on the CPU or a CUDA device; may require grad.
    n_fft, hop_length, win_length, center, normalized
        As ``torch.stft`` (``hop_length`` defaults to ``n_fft // 4``).
    window : torch.Tensor, shape (win_length,), optional
        Default: all ones, as torch. No gradient flows to it.
    pad_mode : {"reflect", "constant", "replicate"}
        As ``torch.stft`` (``"edge"`` is accepted as ``"replicate"``); ``"circular"`` is refused.
    onesided : True or None
        specsep computes onesided spectra only.
    return_complex : bool
        ``False`` returns ``torch.view_as_real`` of the result, as torch.
    backend : {None, "cpu", "numpy", "cuda", "cuda-emu"}
        As :func:`specsep.stft`; ``None`` picks ``cpu`` or ``cuda`` by the tensor's device.

    Returns
    -------
    torch.Tensor, shape (..., n_fft // 2 + 1, frames), complex64 or complex128
        (``(..., n_fft // 2 + 1, frames, 2)`` real with ``return_complex=False``).

    Raises
    ------
    ValueError
        When ``input`` requires grad and the window and hop violate NOLA: the gradient is
        computed by the inverse's overlap-add, which needs NOLA.
    """
    check_tensor("input", input)
    _check_onesided(onesided)
    v.check_bool("return_complex", return_complex)
    plan = _plan_of(n_fft, hop_length, win_length, window, center, pad_mode, normalized, input.dtype)
    if input.requires_grad and torch.is_grad_enabled() and not plan.invertible:
        raise ValueError(f"input requires grad, but its STFT's adjoint runs the iSTFT's overlap-add, which "
                         f"needs NOLA: {_plan._nola_message(plan)}")
    X = _functions.STFT.apply(input, plan, backend)
    return X if return_complex else torch.view_as_real(X)


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False, *, backend=None):
    """Inverse STFT (least squares) with ``torch.istft``'s arguments, differentiable.

    Parameters
    ----------
    input : torch.Tensor, shape (..., n_fft // 2 + 1, frames), complex64 or complex128
        Spectrograms; conjugate views and tensors that require grad are taken.
    n_fft, hop_length, win_length, window, center, normalized, length
        As ``torch.istft`` (see :func:`stft` for the defaults).
    onesided : True or None
    return_complex : False
        specsep's inverse returns real signals only.
    backend : {None, "cpu", "numpy", "cuda", "cuda-emu"}

    Returns
    -------
    torch.Tensor, shape (..., length), float32 or float64
    """
    check_tensor("input", input)
    _check_onesided(onesided)
    if return_complex is not False:
        raise ValueError(f"return_complex={return_complex!r}: specsep's iSTFT returns real signals only")
    if not input.is_complex():
        raise TypeError(f"input must be a complex spectrogram (complex64 or complex128), got {input.dtype}")
    plan = _plan_of(n_fft, hop_length, win_length, window, center, "constant", normalized, input.dtype)
    v.check_spectrogram(plan, input, "input")
    return _functions.ISTFT.apply(input, plan, v.check_optional_length(length), backend)


def apply_mask(X_mix, M, *, backend=None):
    """Masked mixture ``X_mix * M``, differentiable in both; as :func:`specsep.apply_mask`.

    Parameters
    ----------
    X_mix : torch.Tensor, shape (..., F, T), complex64 or complex128
    M : torch.Tensor, shape (..., F, T) or (..., J, F, T), real of the same precision
    backend : {None, "cpu", "numpy", "cuda", "cuda-emu"}

    Returns
    -------
    torch.Tensor, shape of the broadcast, complex of ``X_mix``'s dtype
    """
    return _functions.ApplyMask.apply(check_tensor("X_mix", X_mix), check_tensor("M", M), backend)


def separate(x_mix, M, n_fft=2048, hop_length=None, win_length=None, window="hann", center=True,
             pad_mode="constant", normalized=False, length=None, *, backend=None):
    """STFT, masks and inverse STFT in one kernel call, differentiable in ``x_mix`` and ``M``.

    Arguments, defaults and result as :func:`specsep.separate` (``window`` a name or a tensor;
    ``M`` a tensor, not a callable).
    """
    check_tensor("x_mix", x_mix)
    check_tensor("M", M)
    window = window_spec(window)
    plan = _plan.get(n_fft, hop_length, win_length, window, center, pad_mode, normalized,
                     str(x_mix.dtype).removeprefix("torch."))
    return _functions.Separate.apply(x_mix, M, plan, length, backend)
