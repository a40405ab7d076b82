"""The emulator's device: device memory as arrays of their own type, streams as ordered queues.

Under ``cuda-emu`` the kernels run on the CPU, so device memory is host memory; what keeps the
emulated GPU path honest is that the two sides are told apart as on a GPU:

- :class:`DeviceArray` (an ``ndarray`` subclass) is an array in the emulated device's memory,
  made by :class:`EmulatedDevice` (the orchestration's ``xp``, CuPy's stand-in) or copied there by
  the launcher. NumPy keeps the type through views, ufuncs, reductions and functions; a launch refuses any
  other array (a host array handed to a kernel), and a ``DeviceArray`` records the device it was
  made on. The namespace counts the bytes its arrays own (``in_use``, ``peak``): the emulator's
  device-memory accounting.
- :class:`Stream` is an ordered queue. The emulator runs every copy and kernel when it is issued
  (one valid schedule of the real, asynchronous one) and appends ``(operation, stream, what)`` to
  the launcher's ``log``, so that a test reads the issue order a GPU would overlap.
"""

from __future__ import annotations

import weakref

import numpy as np


class DeviceArray(np.ndarray):
    """An array in the emulated device's memory; ``device_id``: the device it was made on."""

    __emulated_device__ = True  # the mark specsep._arrays reads (it does not import this module)

    def __array_finalize__(self, obj):
        self.device_id = getattr(obj, "device_id", None)
        self._xp = getattr(obj, "_xp", None)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        """A ufunc's or reduction's result: in the memory of its operands' device, and counted."""
        result = super().__array_wrap__(array, context, return_scalar)
        if isinstance(result, DeviceArray) and self._xp is not None:
            result.device_id = self.device_id
            result = self._xp._track(result)
        return result

    def __array_function__(self, func, types, args, kwargs):
        """NumPy functions of device arrays return device arrays (as CuPy's do): np.concatenate,
        np.stack and the like would otherwise hand back host arrays."""
        result = super().__array_function__(func, types, args, kwargs)
        if self._xp is None:
            return result
        if isinstance(result, (tuple, list)):
            return type(result)(self._xp._track(part) for part in result)
        return self._xp._track(result)

    def __array_namespace__(self, api_version=None):
        return self._xp


class EmulatedDevice:
    """CuPy's stand-in under the emulator: NumPy's functions, with the arrays they make in device
    memory (:class:`DeviceArray` on ``launcher``'s current device). Making a device array from a
    host one is a copy (``asarray``, ``array``: as ``cupy.asarray``); functions that CuPy refuses on
    host arrays (``ascontiguousarray``, ``broadcast_to``) refuse them here too."""

    def __init__(self, launcher):
        self._launcher = launcher
        self.in_use = 0   # bytes owned by live device arrays
        self.peak = 0
        self._owners = {}  # id(owning ndarray) -> weak reference

    # ---- accounting --------------------------------------------------------------------------
    def reset_peak(self):
        self.peak = self.in_use

    def _own(self, array):
        """``array`` (NumPy, owning its memory) as a device array, its bytes counted until it dies."""
        nbytes = array.nbytes
        self.in_use += nbytes
        self.peak = max(self.peak, self.in_use)
        key = id(array)
        self._owners[key] = weakref.ref(array)
        weakref.finalize(array, self._release, key, nbytes)
        device = array.view(DeviceArray)
        device.device_id, device._xp = self._launcher.device, self
        return device

    def _release(self, key, nbytes):
        self.in_use -= nbytes
        self._owners.pop(key, None)

    def _track(self, result):
        """A NumPy result on device arrays (a ufunc's, a reduction's) counted once: its owner is
        the array at the end of its ``base`` chain."""
        if not isinstance(result, np.ndarray):
            return result
        owner = result
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        ref = self._owners.get(id(owner))
        if ref is None or ref() is not owner:
            counted = self._own(owner)
            if owner is result:
                return counted
        if not isinstance(result, DeviceArray):
            result = result.view(DeviceArray)
            result.device_id, result._xp = self._launcher.device, self
        return result

    # ---- making arrays -----------------------------------------------------------------------
    def _device_only(self, name, array):
        if not isinstance(array, DeviceArray):
            raise TypeError(f"{name} takes a device array under the emulator (as CuPy does), got "
                            f"{type(array).__name__}: copy it with asarray first")

    def empty(self, shape, dtype=float, order="C"):
        return self._own(np.empty(shape, dtype, order))

    def zeros(self, shape, dtype=float):
        return self._own(np.zeros(shape, dtype))

    def ones(self, shape, dtype=float):
        return self._own(np.ones(shape, dtype))

    def full(self, shape, fill_value, dtype=None):
        return self._own(np.full(shape, fill_value, dtype))

    def array(self, obj, dtype=None, order="K", copy=True):
        return self._own(np.array(obj, dtype=dtype, order=order, copy=True))

    def asarray(self, obj, dtype=None):
        if isinstance(obj, DeviceArray) and (dtype is None or obj.dtype == dtype):
            return obj
        return self.array(obj, dtype=dtype)

    def ascontiguousarray(self, a, dtype=None):
        self._device_only("ascontiguousarray", a)
        if a.flags.c_contiguous and (dtype is None or a.dtype == dtype):
            return a
        return self.array(a, dtype=dtype, order="C")

    def broadcast_to(self, a, shape):
        self._device_only("broadcast_to", a)
        return np.broadcast_to(a, shape, subok=True)

    def __getattr__(self, name):
        """Every other NumPy function, on device arrays only (as CuPy's), its array results
        counted as device memory."""
        function = getattr(np, name)
        if not callable(function) or isinstance(function, type):
            return function

        def on_device(*args, **kwargs):
            for arg in (*args, *kwargs.values()):
                if isinstance(arg, np.ndarray) and not isinstance(arg, DeviceArray):
                    self._device_only(name, arg)
            result = function(*args, **kwargs)
            if isinstance(result, tuple):
                return tuple(self._track(part) for part in result)
            return self._track(result)
        return on_device


class Stream:
    """An emulated CUDA stream: a number, and the launcher's ``log`` is its queue."""

    def __init__(self, number):
        self.number = number

    def __repr__(self):
        return f"Stream({self.number})"
