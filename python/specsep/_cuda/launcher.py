"""Launchers: how the orchestration runs a kernel by name.

Both take ``launch(name, grid, block, args, shared_mem)`` with the argument conventions of
``cupy.RawKernel.__call__``: arrays for pointers, NumPy scalars of the exact C++ parameter type
for scalars (CuPy passes a Python int as a 64-bit integer), and tell the orchestration the
device's limits: ``max_grid`` (x, y, z), ``max_shared_memory`` (static + dynamic shared memory a
block may have, opted in) and ``static_shared_memory(name)`` (a kernel's static ``__shared__``
bytes).

Both also move data between host and device for host arrays on the device backend (host.py):
``stream()``, ``using(stream)`` (copies and kernels issued inside go on it), ``pinned(nbytes)``
(page-locked host bytes), ``to_device(host)`` and ``to_host(device, host)`` (asynchronous on the
current stream), ``record()`` (an event at the current stream's tail) and ``wait(event)``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import weakref

import numpy as np

from .. import cuda_source
from .emulated import DeviceArray, EmulatedDevice, Stream

# Dynamic shared memory a block may use without opting in.
DEFAULT_SHARED_MEMORY = 48 * 1024
# Device memory the emulator reports free: an 80 GB H100's (tests lower it to exercise the checks).
EMULATED_DEVICE_MEMORY = 80 * 10**9
# Page-locked host memory the emulator grants (tests lower it to see the refusal).
EMULATED_PINNED_MEMORY = 16 * 2**30


def _pinned_refusal(nbytes, reason):
    return MemoryError(f"pinned (page-locked) host memory of {nbytes:,} bytes for the host-array staging buffers is "
                       f"unavailable ({reason}): free some, lower chunk_frames=, or move the arrays to the device "
                       "yourself (cupy.asarray) and pass device arrays")


# Set (to anything but "" or "0") to run every emulator launch through the access profiler
# (specsep.emu_profile); a path other than "1" also receives a per-kernel summary at exit.
PROFILE_ENV = "SPECSEP_EMU_PROFILE"


@contextlib.contextmanager
def emulated_device(profile, **limits):
    """Within the block the emulator checks launches as device ``profile`` would ("T4", "A100",
    "RTX 4090", "H100"), with any of its ``limits`` replaced (``max_grid=(x, y, z)``,
    ``shared_optin=``, ``shared_default=``, ``max_threads_per_block=``); the previous profile
    after it. Every EmulatorLauncher reads its limits from the current profile."""
    from .. import _emu

    modules = [_emu] + [sys.modules[name] for name in ("specsep._emu_profile",) if name in sys.modules]
    previous = [module.device_profile() for module in modules]
    for module in modules:
        module.set_device_profile(profile, **limits)
    try:
        yield
    finally:
        for module, limits_before in zip(modules, previous):
            module.set_device_profile(limits_before.pop("name"), **limits_before)


class EmulatorLauncher:
    """Runs the kernels on the CPU through ``specsep._emu``, checked against the emulator's current
    device profile (emulated_device), on device arrays of ``xp`` (emulated.py): a launch refuses a
    host array and an array of another device, as a GPU would fail on them."""

    def __init__(self):
        from .. import _emu

        self._emu = _emu
        self.xp = EmulatedDevice(self)
        if os.environ.get(PROFILE_ENV, "") not in ("", "0"):
            self._start_profiling_from_environment()
        self.device_memory = EMULATED_DEVICE_MEMORY
        self.device = 0  # the emulated current device (tests switch it to check per-device state)
        self._transfers = _EmulatedTransfers()

    def device_id(self):
        """The current device's number."""
        return self.device

    def constant(self, array):
        """``array`` copied into the current device's memory, as the orchestration keeps it across
        calls (a launch on another device fails, as it would on a GPU)."""
        return self.xp.array(array)

    def _check_devices(self, name, args):
        for i, arg in enumerate(args):
            if isinstance(arg, np.ndarray) and not isinstance(arg, DeviceArray):
                raise ValueError(f"{name}: argument {i} is a host array (numpy.ndarray), but a kernel reads device "
                                 "memory: the orchestration must copy it to the device first")
            if isinstance(arg, DeviceArray) and arg.device_id != self.device:
                raise ValueError(f"{name}: argument {i} lives on device {arg.device_id}, but the launch runs on device "
                                 f"{self.device}")

    @property
    def max_grid(self):
        return tuple(self._emu.device_profile()["max_grid"])

    @property
    def max_shared_memory(self):
        return int(self._emu.device_profile()["shared_optin"])

    def static_shared_memory(self, name):
        return int(self._emu.static_shared_size(name))

    def free_memory(self):
        """Bytes the emulated device has free: ``device_memory`` (its arrays live in host memory)."""
        return self.device_memory

    def launch(self, name, grid, block, args, shared_mem):
        self._check_devices(name, args)
        self._transfers.issue("kernel", name)
        self._emu.launch(name, grid, block, args, shared_mem=shared_mem)

    # ---- streams and host memory (host arrays on the device backend: host.py) --------------------
    @property
    def log(self):
        """``(operation, stream number, what)`` of every copy, kernel and wait issued while
        ``recording()``; None otherwise."""
        return self._transfers.log

    def recording(self):
        """Within the block the issue order is logged (``log``); a list is yielded."""
        return self._transfers.recording()

    @property
    def pinned_memory(self):
        """Page-locked bytes the emulator grants at most (tests lower it)."""
        return self._transfers.pinned_limit

    @pinned_memory.setter
    def pinned_memory(self, nbytes):
        self._transfers.pinned_limit = nbytes

    @property
    def pinned_peak(self):
        """The most page-locked bytes held at once since the last ``reset_pinned_peak()``."""
        return self._transfers.pinned_peak

    def reset_pinned_peak(self):
        self._transfers.pinned_peak = self._transfers.pinned_in_use

    def stream(self):
        return self._transfers.stream()

    def using(self, stream):
        return self._transfers.using(stream)

    def pinned(self, nbytes):
        return self._transfers.pinned(nbytes)

    def to_device(self, host):
        self._transfers.issue("h2d", host.nbytes)
        return self.xp.array(host)

    def to_host(self, device, host):
        if not isinstance(device, DeviceArray):
            raise TypeError(f"to_host copies a device array, got {type(device).__name__}")
        self._transfers.issue("d2h", device.nbytes)
        np.copyto(host, device.view(np.ndarray))

    def record(self):
        """An event: the current stream's number (everything issued has run)."""
        return self._transfers.current.number

    def wait(self, event):
        self._transfers.issue("wait", event, stream=event)

    # ---- the access profiler (specsep.emu_profile): a module of its own, swapped in ----------------

    @contextlib.contextmanager
    def profiling(self):
        """Within the block launches run through ``specsep._emu_profile`` (the same kernels with every
        memory access counted); yields a list that receives one report dict per launch at the end."""
        from .. import _emu_profile

        outer, self._emu = self._emu, _emu_profile
        earlier = _emu_profile.profile_reports()  # launches before the block are not its own
        if outer is _emu_profile:
            _REPORTS_AT_EXIT.extend(earlier)
        reports = []
        try:
            yield reports
        finally:
            self._emu = outer
            reports += _emu_profile.profile_reports()
            if outer is _emu_profile:  # nested in an environment-wide recording: keep them there too
                _REPORTS_AT_EXIT.extend(reports)

    def _start_profiling_from_environment(self):
        from .. import _emu_profile

        self._emu = _emu_profile
        target = os.environ[PROFILE_ENV]
        if target != "1" and target not in _SUMMARIES:
            import atexit

            _SUMMARIES.add(target)
            atexit.register(_write_profile_summary, target)



class _EmulatedTransfers:
    """The emulator's streams (the current one, the issue log) and its page-locked memory count."""

    def __init__(self):
        self.default = Stream(0)
        self.current = self.default
        self.streams = 0
        self.log = None
        self.pinned_limit = EMULATED_PINNED_MEMORY
        self.pinned_in_use = self.pinned_peak = 0

    def issue(self, operation, what, stream=None):
        if self.log is not None:
            self.log.append((operation, self.current.number if stream is None else stream, what))

    @contextlib.contextmanager
    def recording(self):
        self.log = []
        try:
            yield self.log
        finally:
            self.log = None

    def stream(self):
        self.streams += 1
        return Stream(self.streams)

    @contextlib.contextmanager
    def using(self, stream):
        previous, self.current = self.current, stream
        try:
            yield stream
        finally:
            self.current = previous

    def pinned(self, nbytes):
        if self.pinned_in_use + nbytes > self.pinned_limit:
            raise _pinned_refusal(nbytes, f"the emulator grants {self.pinned_limit:,} bytes, "
                                          f"{self.pinned_in_use:,} are held")
        buffer = np.empty(nbytes, np.uint8)
        self.pinned_in_use += nbytes
        self.pinned_peak = max(self.pinned_peak, self.pinned_in_use)
        weakref.finalize(buffer, self._release, nbytes)
        return buffer

    def _release(self, nbytes):
        self.pinned_in_use -= nbytes


_REPORTS_AT_EXIT = []  # reports of environment-wide profiling (PROFILE_ENV)
_SUMMARIES = set()  # the paths that receive a summary at exit


def _write_profile_summary(path):
    """Per-kernel access counts of every profiled launch of the process, as JSON (PROFILE_ENV)."""
    import json

    from .. import _emu_profile
    from .profile_counts import by_kernel

    _REPORTS_AT_EXIT.extend(_emu_profile.profile_reports())
    with open(path, "w") as f:
        json.dump({name: totals.as_dict() for name, totals in by_kernel(_REPORTS_AT_EXIT).items()}, f, indent=1)


class CupyLauncher:
    """Compiles the kernels with NVRTC through ``cupy.RawModule`` (cached per device) and launches
    them on the current stream."""

    def __init__(self):
        import cupy

        self._cupy = cupy
        self.xp = cupy

    def device_id(self):
        """The current device's number (the caller's array's: the API switches to its device)."""
        return self._cupy.cuda.Device().id

    def constant(self, array):
        """``array`` copied into the current device's memory."""
        return self._cupy.asarray(array)

    @property
    def max_shared_memory(self):
        """Static + dynamic shared memory a block of the current device may opt in to."""
        return _attributes(self.device_id())["MaxSharedMemoryPerBlockOptin"]

    @property
    def max_grid(self):
        """The current device's grid limits (x, y, z)."""
        return tuple(_attributes(self.device_id())[f"MaxGridDim{axis}"] for axis in "XYZ")

    def free_memory(self):
        """Bytes free on the current device, counting the blocks CuPy's memory pool holds unused."""
        free, _ = self._cupy.cuda.runtime.memGetInfo()
        return int(free) + int(self._cupy.get_default_memory_pool().free_bytes())

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one module per device, kept for the process
    def _module(self, device_id):  # device_id: the key; RawModule loads on the current device
        return self._cupy.RawModule(code=cuda_source.kernel_source(),
                                    options=cuda_source.NVRTC_OPTIONS + cuda_source.include_options(),
                                    name_expressions=cuda_source.name_expressions())

    def _kernel(self, name):
        return self._module(self.device_id()).get_function(name)

    def static_shared_memory(self, name):
        return int(self._kernel(name).shared_size_bytes)

    def launch(self, name, grid, block, args, shared_mem):
        check_alignment(name, args)
        kernel = self._kernel(name)
        # Without opting in, static + dynamic shared memory may not exceed 48 KiB.
        if kernel.shared_size_bytes + shared_mem > DEFAULT_SHARED_MEMORY:
            kernel.max_dynamic_shared_size_bytes = shared_mem
        kernel(grid, block, args, shared_mem=shared_mem)

    # ---- streams and host memory (host arrays on the device backend: host.py) --------------------
    def stream(self):
        """A stream that does not synchronise with the legacy default stream."""
        return self._cupy.cuda.Stream(non_blocking=True)

    def using(self, stream):
        return stream  # a CuPy stream is the context manager that makes it current

    def pinned(self, nbytes):
        """``nbytes`` of page-locked host memory as a uint8 NumPy array (it keeps the memory)."""
        try:
            memory = self._cupy.cuda.alloc_pinned_memory(nbytes)
        except (self._cupy.cuda.runtime.CUDARuntimeError, MemoryError) as error:
            raise _pinned_refusal(nbytes, str(error)) from error
        return np.frombuffer(memory, np.uint8, nbytes)

    def to_device(self, host):
        """A device copy of the (pinned) ``host`` array, on the current stream, asynchronous."""
        device = self._cupy.empty(host.shape, host.dtype)
        device.set(host, stream=self._cupy.cuda.get_current_stream())
        return device

    def to_host(self, device, host):
        """``device`` copied into the (pinned, contiguous) ``host`` array on the current stream,
        asynchronous: read ``host`` after ``wait`` on an event recorded later."""
        device.get(stream=self._cupy.cuda.get_current_stream(), out=host, blocking=False)

    def record(self):
        return self._cupy.cuda.get_current_stream().record()

    def wait(self, event):
        event.synchronize()


def check_alignment(name, args):
    """Refuses an array argument whose data is not aligned to its element size: the kernels move a
    complex value in one 8- or 16-byte access (specsep/complex.hpp), which faults on a GPU at a
    misaligned address. (The emulator checks the same rule itself.) ``args``: CuPy or NumPy arrays
    and NumPy scalars."""
    for i, arg in enumerate(args):
        if isinstance(arg, np.generic) or not hasattr(arg, "dtype"):
            continue
        data = arg.data.ptr if hasattr(arg.data, "ptr") else arg.ctypes.data
        if data % arg.dtype.itemsize:
            raise ValueError(f"{name}: argument {i} ({arg.dtype}) has data at address {data:#x}, not aligned to "
                             f"its {arg.dtype.itemsize}-byte elements, which the kernel reads whole: pass a copy "
                             "(array.copy())")


@functools.lru_cache(maxsize=None)
def _attributes(device_id):
    """The attributes of device ``device_id`` (fixed for the process)."""
    import cupy

    return {name: int(value) for name, value in cupy.cuda.Device(device_id).attributes.items()}
