"""Argument checks shared by every public function.

Each check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value)
with a message that names the argument and the rule, before any computation starts.
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings

import numpy as np

from ._arrays import as_array, namespace
from ._windows import WINDOW_NAMES

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
