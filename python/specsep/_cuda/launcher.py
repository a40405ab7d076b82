"""Launchers: how the orchestration runs a kernel by name.

Both take ``launch(name, grid, block, args, shared_mem)`` with the argument conventions of
``cupy.RawKernel.__call__``: arrays for pointers, NumPy scalars of the exact C++ parameter type
for scalars (CuPy passes a Python int as a 64-bit integer), and tell the orchestration the
device's limits: ``max_grid`` (x, y, z), ``max_shared_memory`` (static + dynamic shared memory a
block may have, opted in) and ``static_shared_memory(name)`` (a kernel's static ``__shared__``
bytes).
"""

from __future__ import annotations

import contextlib
import functools
import weakref

import numpy as np

from .. import cuda_source

# Dynamic shared memory a block may use without opting in.
DEFAULT_SHARED_MEMORY = 48 * 1024
# Device memory the emulator reports free: an 80 GB H100's (tests lower it to exercise the checks).
EMULATED_DEVICE_MEMORY = 80 * 10**9


@contextlib.contextmanager
def emulated_device(profile, **limits):
    """Within the block the emulator checks launches as device ``profile`` would ("T4", "A100",
    "RTX 4090", "H100"), with any of its ``limits`` replaced (``max_grid=(x, y, z)``,
    ``shared_optin=``, ``shared_default=``, ``max_threads_per_block=``); the previous profile
    after it. Every EmulatorLauncher reads its limits from the current profile."""
    from .. import _emu

    previous = _emu.device_profile()
    _emu.set_device_profile(profile, **limits)
    try:
        yield
    finally:
        _emu.set_device_profile(previous.pop("name"), **previous)


class EmulatorLauncher:
    """Runs the kernels on the CPU through ``specsep._emu`` (NumPy arrays), checked against the
    emulator's current device profile (emulated_device)."""

    def __init__(self):
        from .. import _emu

        self._emu = _emu
        self.device_memory = EMULATED_DEVICE_MEMORY
        self.device = 0  # the emulated current device (tests switch it to check per-device state)
        self._homes = {}  # id(array) -> (weak reference, device) of the arrays made by constant()

    def device_id(self):
        """The current device's number."""
        return self.device

    def constant(self, array):
        """``array`` in the current device's memory, as the orchestration keeps it across calls; the
        emulator remembers that device, so that a launch on another one fails as it would on a GPU."""
        array = np.array(array)
        self._homes = {key: home for key, home in self._homes.items() if home[0]() is not None}
        self._homes[id(array)] = (weakref.ref(array), self.device)
        return array

    def _check_devices(self, name, args):
        for i, arg in enumerate(args):
            ref, device = self._homes.get(id(arg), (None, None))
            if ref is not None and ref() is arg and device != self.device:
                raise ValueError(f"{name}: argument {i} lives on device {device}, but the launch runs on device "
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
        self._emu.launch(name, grid, block, args, shared_mem=shared_mem)


class CupyLauncher:
    """Compiles the kernels with NVRTC through ``cupy.RawModule`` (cached per device) and launches
    them on the current stream."""

    def __init__(self):
        import cupy

        self._cupy = cupy

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
        kernel = self._kernel(name)
        # Without opting in, static + dynamic shared memory may not exceed 48 KiB.
        if kernel.shared_size_bytes + shared_mem > DEFAULT_SHARED_MEMORY:
            kernel.max_dynamic_shared_size_bytes = shared_mem
        kernel(grid, block, args, shared_mem=shared_mem)


@functools.lru_cache(maxsize=None)
def _attributes(device_id):
    """The attributes of device ``device_id`` (fixed for the process)."""
    import cupy

    return {name: int(value) for name, value in cupy.cuda.Device(device_id).attributes.items()}
