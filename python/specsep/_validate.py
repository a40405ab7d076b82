"""Argument checks shared by every public function.

Each check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value)
with a message that names the argument and the rule, before any computation starts.
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings
from typing import Literal, get_args

import numpy as np

from ._arrays import as_array, check_same_device, namespace

WindowName = Literal["hann", "sqrt_hann", "hamming", "blackman", "triangle", "rectangular"]
WINDOW_NAMES: tuple[str, ...] = get_args(WindowName)
PAD_MODES = ("constant", "reflect", "edge")
REAL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}
REAL_OF = {c: r for r, c in COMPLEX_OF.items()}


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python int; bools and floats are refused, not rounded."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value} must be <= {maximum}")
    return value


#: The most samples one float64 array can hold (NumPy's limit on an array's bytes).
MAX_LENGTH = np.iinfo(np.intp).max // 8


def check_length(name: str, value) -> int:
    """An output length in samples: an int in ``[0, MAX_LENGTH]``."""
    return check_int(name, value, minimum=0, maximum=MAX_LENGTH)


def check_float(name: str, value, *, minimum: float | None = None, below: float | None = None) -> float:
    """``value`` as a finite Python float in ``[minimum, below)``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}={value} must be finite")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value} must be >= {minimum}")
    if below is not None and value >= below:
        raise ValueError(f"{name}={value} must be < {below}")
    return value


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")
    return value


def check_mel_norm(norm):
    """``norm`` of :func:`specsep.mel_filterbank`: None, "slaney" or a float that names a norm
    (``librosa.util.normalize``'s: ``inf``, ``-inf``, ``0`` or ``p > 0``)."""
    if norm is None or isinstance(norm, str) and norm == "slaney":
        return norm
    if isinstance(norm, (bool, np.bool_)) or not isinstance(norm, numbers.Real) or not (norm >= 0 or norm == -np.inf):
        raise ValueError(f"norm={norm!r} must be 'slaney', None, inf, -inf, 0 or a number > 0")
    return float(norm)


def check_window_name(name) -> str:
    return check_choice("window", name, WINDOW_NAMES)


def check_pad_mode(pad_mode) -> str:
    return check_choice("pad_mode", pad_mode, PAD_MODES)


def check_window_array(window) -> np.ndarray:
    """A user-given window as a finite, non-empty, 1-D float64 array."""
    array = np.asarray(window)
    if array.dtype.kind not in "fiu" or array.dtype.kind == "b":
        raise TypeError(f"window must be a window name or a real 1-D array, got dtype {array.dtype}")
    if array.ndim != 1 or array.shape[0] == 0:
        raise ValueError(f"window must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("window must contain only finite values")
    return array.astype(np.float64)


def _native(array: np.ndarray) -> np.ndarray:
    # Big-endian float data is byte-swapped into native order rather than refused; data at an
    # address that is not a multiple of the element size (np.frombuffer at an odd offset) is copied,
    # since the C++ kernels load whole elements, which must be aligned (UBSan reports it otherwise).
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    if isinstance(array, np.ndarray) and not array.flags.aligned:
        return array.copy()
    return array


def as_real_array(name: str, x, *, min_ndim: int = 1):
    """``x`` as a float32 or float64 array (NumPy, or CuPy for device memory) of rank >=
    ``min_ndim`` (no dtype conversion)."""
    array = _native(as_array(x))
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must be real (float32 or float64), got complex dtype {array.dtype}")
    if array.dtype not in REAL_DTYPES:
        raise TypeError(
            f"{name} has dtype {array.dtype}; specsep accepts float32 or float64 "
            f"(convert explicitly, e.g. {name}.astype(np.float32))"
        )
    if array.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {array.shape}")
    return array


def as_complex_array(name: str, X, *, min_ndim: int = 2):
    """``X`` as a complex64 or complex128 array (NumPy or CuPy) of rank >= ``min_ndim``."""
    array = _native(as_array(X))
    if array.dtype not in REAL_OF:
        raise TypeError(
            f"{name} must be a complex spectrogram (complex64 or complex128), got dtype {array.dtype}"
        )
    if array.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions (..., freq, frames), got shape {array.shape}")
    return array


def check_finite(name: str, array, why: str = "which would spread through every iteration") -> None:
    xp = namespace(array)
    if not bool(xp.all(xp.isfinite(array))):
        raise ValueError(f"{name} contains NaN or Inf, {why}")


def check_same_precision(name: str, array: np.ndarray, real_dtype: np.dtype, other: str) -> None:
    got = REAL_OF.get(array.dtype, array.dtype)
    if got != real_dtype:
        raise TypeError(
            f"{name} has dtype {array.dtype} but {other} is {real_dtype.name}-based; "
            "specsep never mixes precisions silently"
        )


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def warn(message: str) -> None:
    """A UserWarning attributed to the caller's line: the first frame outside specsep."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2: warn's caller
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, UserWarning, stacklevel=level)


def warn_if_shorter_than_frame(name: str, x, n_fft: int) -> None:
    """Warn, as librosa does, when the signals are shorter than one frame: centre padding still
    gives frames, but most likely the samples are not on the last axis (soundfile and most audio
    readers return ``(samples, channels)``)."""
    n = x.shape[-1]
    if n >= n_fft:
        return
    message = f"n_fft={n_fft} is too large for {name} of {n} samples on its last axis"
    longest = max(range(x.ndim - 1), key=lambda axis: x.shape[axis], default=None)
    if longest is not None and x.shape[longest] >= n_fft:
        message += (f"; {name} has shape {tuple(x.shape)}: specsep takes signals as (..., samples), so if axis "
                    f"{longest} holds the samples (audio files read as (samples, channels)), pass {name}.T")
    warn(message)


# ---- arguments checked against a plan or the mixture ---------------------------------------------


def check_samples(name, x):
    """A signal needs one sample on its last axis."""
    if x.shape[-1] < 1:
        raise ValueError(f"{name} must have at least one sample on its last axis, got shape {x.shape}")


def check_spectrogram(plan, X, name="X"):
    """``X (..., F, T)`` on ``plan``'s frequency grid, with at least one frame."""
    if X.shape[-2] != plan.n_freqs:
        implied = 2 * (X.shape[-2] - 1)
        raise ValueError(
            f"{name} has {X.shape[-2]} frequency bins, which implies n_fft={implied} or {implied + 1}, "
            f"not n_fft={plan.n_fft} ({plan.n_freqs} bins)"
        )
    if X.shape[-1] < 1:
        raise ValueError(f"{name} must have at least one frame, got shape {X.shape}")


def check_optional_length(length):
    """The ``length`` argument: None (the default length) or an output length."""
    return None if length is None else check_length("length", length)


def check_masks(M, X_shape, real_dtype, name="M"):
    """Masks ``(..., F, T)`` or ``(..., J, F, T)`` for a mixture spectrogram of ``X_shape``."""
    M = as_real_array(name, M, min_ndim=2)
    check_same_precision(name, M, real_dtype, "the mixture")
    if M.ndim not in (len(X_shape), len(X_shape) + 1):
        raise ValueError(
            f"{name} must have shape (..., F, T) or (..., J, F, T) for a mixture of shape {X_shape}, got {M.shape}"
        )
    mixture_shape = X_shape if M.ndim == len(X_shape) else X_shape[:-2] + (1,) + X_shape[-2:]
    try:
        np.broadcast_shapes(mixture_shape, M.shape)
    except ValueError:
        raise ValueError(f"{name} of shape {M.shape} does not broadcast against the mixture of shape {X_shape}") from None
    if M.shape[-2:] != X_shape[-2:]:
        raise ValueError(f"{name} has (freq, frames) = {M.shape[-2:]}, the mixture {X_shape[-2:]}")
    check_finite(name, M, "but masks must be finite (a mask scales the mixture's magnitude)")
    return M


def check_masks_of(X_name, X, M, X_shape=None):
    """:func:`check_masks` of ``M`` for the mixture ``X`` (its spectrogram's shape ``X_shape``)."""
    M = check_masks(M, X.shape if X_shape is None else X_shape, REAL_OF.get(X.dtype, X.dtype))
    check_same_device(**{X_name: X, "M": M})
    return M


def checking_block_masks(masks_of, x_mix, n_freqs):
    """``masks_of(first, stop)`` whose every result is checked as masks of frames ``[first, stop)``
    of the mixture ``x_mix`` (:func:`check_masks_of`)."""
    def checked(first, stop):
        return check_masks_of("x_mix", x_mix, masks_of(first, stop), x_mix.shape[:-1] + (n_freqs, stop - first))

    return checked


def check_precision(precision):
    """The ``precision`` argument of phase retrieval as a real dtype; None: the data's."""
    if precision is None:
        return None
    return np.dtype(check_choice("precision", precision, ("float32", "float64")))


def check_iteration(n_iter, momentum, tol, unstable_momentum):
    """The iteration arguments of phase retrieval: ``(n_iter, momentum, tol)``."""
    n_iter = check_int("n_iter", n_iter, minimum=0)
    unstable_momentum = check_bool("unstable_momentum", unstable_momentum)
    momentum = check_float("momentum", momentum, minimum=0.0)
    if momentum >= 1.0 and not unstable_momentum:
        raise ValueError(f"momentum={momentum} must be < 1: from 1 on, fast Griffin-Lim's extrapolation "
                         "usually diverges (pass unstable_momentum=True to run it anyway)")
    tol = None if tol is None else check_float("tol", tol, minimum=0.0)
    return n_iter, momentum, tol


def _frames_of(plan, n_samples):
    """STFT frames of an ``n_samples``-sample signal; 0 where it has none."""
    try:
        return plan.n_frames(n_samples)
    except ValueError:
        return 0


def check_iterated_length(plan, length, n_frames):
    """Each iteration takes the STFT of the estimate, which must have ``n_frames`` frames again
    (with one frame, centre padding and an even ``n_fft``, the default length is 0 samples)."""
    target = plan.istft_length(n_frames) if length is None else length
    if _frames_of(plan, target) == n_frames:
        return
    # the lengths with n_frames frames are hop_length consecutive ones from the default on
    default = plan.istft_length(n_frames)
    fits = [n for n in range(max(default, 1), default + plan.hop_length) if _frames_of(plan, n) == n_frames]
    given = f"length={length}" if length is not None else f"the default length ({default} samples)"
    hint = f"e.g. length={fits[0]}" if fits else "no length does; use hop_length > 1 or center=False"
    raise ValueError(f"{given} gives {_frames_of(plan, target)} STFT frames but S has {n_frames}; with "
                     f"n_iter > 0 the length must give S's frame count ({hint})")


def check_magnitudes(name, S, min_ndim):
    """Finite, non-negative target magnitudes."""
    S = as_real_array(name, S, min_ndim=min_ndim)
    check_finite(name, S)
    if bool((S < 0).any()):
        raise ValueError(f"{name} must be non-negative magnitudes")
    return S


def check_weights(weights, n_sources):
    """MISI's share of the mixture error per source: ``1 / J`` each by default."""
    if weights is None:
        return np.full(n_sources, 1.0 / n_sources)
    # a copy: aligned (the kernels load whole doubles; np.asarray keeps a caller's unaligned view)
    weights = np.array(weights, dtype=np.float64)
    if weights.shape != (n_sources,) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"weights must be {n_sources} non-negative numbers summing to 1, got {weights}")
    return weights


# ---- chunk_frames= and out= ------------------------------------------------------------------

#: Frames per block when ``out=`` is given without ``chunk_frames``: a few MiB per batch item.
DEFAULT_CHUNK_FRAMES = 1024


def check_chunk_frames(chunk_frames, out):
    """``chunk_frames`` as an int (``None`` without ``out``: no blocks)."""
    if chunk_frames is None:
        return DEFAULT_CHUNK_FRAMES if out is not None else None
    return check_int("chunk_frames", chunk_frames, minimum=1)


def check_out(out, shape, dtype, data):
    """``out`` as an array of ``data``'s kind that the result of ``shape`` and ``dtype`` can be written into."""
    out = as_array(out)
    if namespace(out) is not namespace(data):
        raise TypeError(f"out must be the same kind of array as the input ({type(data).__name__}), "
                        f"got {type(out).__name__}")
    check_same_device(input=data, out=out)
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"out has shape {tuple(out.shape)}, the result has shape {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, the result is {np.dtype(dtype).name}")
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        raise ValueError("out is read-only")
    return out
