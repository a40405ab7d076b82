"""Array kinds: NumPy on the host; CuPy, ``__cuda_array_interface__`` objects and torch CUDA
tensors on a CUDA device (taken zero-copy as CuPy arrays)."""

from __future__ import annotations

import contextlib
import functools

import numpy as np


def _module_of(x) -> str:
    return type(x).__module__.split(".")[0]


def on_device(x) -> bool:
    """Whether ``x`` lives in CUDA device memory."""
    if _module_of(x) == "cupy" or hasattr(x, "__cuda_array_interface__"):
        return True
    if _module_of(x) == "torch":
        return bool(x.is_cuda)
    return False


def as_array(x):
    """``x`` as an ndarray of its own device: a CuPy array for device memory (no copy), else NumPy."""
    if not on_device(x):
        return np.asarray(x)
    import cupy

    return cupy.from_dlpack(x) if _module_of(x) == "torch" else cupy.asarray(x)


def namespace(array):
    """The array module of an ndarray returned by :func:`as_array`."""
    if _module_of(array) == "cupy":
        import cupy

        return cupy
    return np


def like(result, original):
    """``result`` as the caller's kind: a torch tensor for torch input (zero-copy), else as is."""
    if _module_of(original) != "torch":
        return result
    import torch

    if isinstance(result, tuple):
        return tuple(like(part, original) for part in result)
    return torch.from_numpy(result) if isinstance(result, np.ndarray) else torch.from_dlpack(result)


@contextlib.contextmanager
def _callers_stream(x):
    """Kernels for a torch CUDA tensor go on torch's current stream; CuPy arrays use CuPy's."""
    if _module_of(x) == "torch" and x.is_cuda:
        import cupy
        import torch

        with cupy.cuda.ExternalStream(torch.cuda.current_stream(x.device).cuda_stream):
            yield
    else:
        yield


def callers_kind(function):
    """Decorator of the public functions whose first argument is the data: they run on the
    caller's stream and return the caller's kind of array (see :func:`like`), or the caller's
    ``out=`` object itself when one is given (the function wrote its result there)."""
    @functools.wraps(function)
    def wrapper(data, *args, **kwargs):
        with _callers_stream(data):
            result = function(data, *args, **kwargs)
        out = kwargs.get("out")
        return out if out is not None else like(result, data)
    return wrapper
