"""Array kinds: NumPy on the host; CuPy, ``__cuda_array_interface__`` objects and torch CUDA
tensors on a CUDA device (taken zero-copy as CuPy arrays); the emulator's device arrays
(``_cuda/emulated.py``, marked ``__emulated_device__``) in cuda-emu's device memory."""

from __future__ import annotations

import contextlib
import functools

import numpy as np


def _module_of(x) -> str:
    return type(x).__module__.split(".")[0]


def is_emulated(x) -> bool:
    """Whether ``x`` is an array in the emulator's device memory."""
    return getattr(type(x), "__emulated_device__", False)


def on_device(x) -> bool:
    """Whether ``x`` lives in CUDA device memory (or the emulator's)."""
    if _module_of(x) == "cupy" or hasattr(x, "__cuda_array_interface__") or is_emulated(x):
        return True
    if _module_of(x) == "torch":
        return bool(x.is_cuda)
    return False


def _tensor_data(x):
    """A torch tensor's data for the kernels: conjugate and negative views resolved; a tensor
    that requires grad only where no graph is recorded (the NumPy API is not differentiable)."""
    import torch

    if x.requires_grad and torch.is_grad_enabled():
        raise TypeError("the tensor requires grad, but specsep's NumPy-API functions are not differentiable: "
                        "use specsep.torch (autograd Functions), or pass tensor.detach()")
    return x.detach().resolve_conj().resolve_neg()


def as_array(x):
    """``x`` as an ndarray of its own device: a CuPy array for device memory (no copy), else NumPy."""
    if _module_of(x) == "torch":
        x = _tensor_data(x)
    if not on_device(x):
        return np.asarray(x)
    if is_emulated(x):
        return x
    import cupy

    return cupy.from_dlpack(x) if _module_of(x) == "torch" else cupy.asarray(x)


def namespace(array):
    """The array module of an ndarray returned by :func:`as_array`."""
    if _module_of(array) == "cupy":
        import cupy

        return cupy
    if is_emulated(array):
        return array.__array_namespace__()
    return np


def like(result, original):
    """``result`` as the caller's kind: a torch tensor for torch input (zero-copy), else as is."""
    if _module_of(original) != "torch":
        return result
    import torch

    if isinstance(result, tuple):
        return tuple(like(part, original) for part in result)
    return torch.from_numpy(result) if isinstance(result, np.ndarray) else torch.from_dlpack(result)


def device_of(array):
    """The CUDA device number of an array from :func:`as_array`; None for host memory."""
    if is_emulated(array):
        return array.device_id
    return int(array.device.id) if _module_of(array) == "cupy" else None


def check_same_device(**arrays) -> None:
    """Refuse device arrays of one call that live on different CUDA devices (``None``s and host
    arrays are skipped: the backend choice checks host against device)."""
    devices = {name: device_of(array) for name, array in arrays.items() if array is not None}
    on = {name: device for name, device in devices.items() if device is not None}
    if len(set(on.values())) > 1:
        where = ", ".join(f"{name} on cuda:{device}" for name, device in on.items())
        raise ValueError(f"the arrays of one call must be on one CUDA device, got {where}: "
                         "move them to one device first (cupy.asarray under cupy.cuda.Device(n), tensor.to(...))")


@contextlib.contextmanager
def _callers_device(x):
    """Kernels for device data run on the data's device, on the caller's stream there: torch's
    current stream of the tensor's device, or CuPy's current stream of that device."""
    if not on_device(x) or is_emulated(x):
        yield
        return
    import cupy

    if _module_of(x) == "torch":
        import torch

        with cupy.cuda.Device(x.device.index), \
                cupy.cuda.ExternalStream(torch.cuda.current_stream(x.device).cuda_stream):
            yield
    else:
        with cupy.cuda.Device(device_of(as_array(x))):
            yield


def callers_kind(function):
    """Decorator of the public functions whose first argument is the data: they run on the
    caller's device and stream and return the caller's kind of array (see :func:`like`), or the caller's
    ``out=`` object itself when one is given (the function wrote its result there)."""
    @functools.wraps(function)
    def wrapper(data, *args, **kwargs):
        with _callers_device(data):
            result = function(data, *args, **kwargs)
        out = kwargs.get("out")
        return out if out is not None else like(result, data)
    return wrapper
