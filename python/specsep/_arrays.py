"""Array kinds: NumPy on the host; CuPy, ``__cuda_array_interface__`` objects and torch CUDA
tensors on a CUDA device (taken zero-copy as CuPy arrays)."""

from __future__ import annotations

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
