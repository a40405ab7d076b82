"""Launchers: how the orchestration runs a kernel by name.

Both take ``launch(name, grid, block, args, shared_mem)`` with the argument conventions of
``cupy.RawKernel.__call__``: arrays for pointers, NumPy scalars of the exact C++ parameter type
for scalars (CuPy passes a Python int as a 64-bit integer).
"""

from __future__ import annotations

import functools
import weakref

import numpy as np

from . import source

# Dynamic shared memory a block may use without opting in.
DEFAULT_SHARED_MEMORY = 48 * 1024
# Device memory the emulator reports free: an 80 GB H100's (tests lower it to exercise the checks).
EMULATED_DEVICE_MEMORY = 80 * 10**9


class EmulatorLauncher:
    """Runs the kernels on the CPU through ``specsep._emu`` (NumPy arrays)."""

    def __init__(self):
        from .. import _emu

        self._emu = _emu
        self.max_shared_memory = int(_emu.max_shared_memory())
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
        """Shared memory a block of the current device may opt in to."""
        return _max_shared_memory(self._cupy.cuda.Device().id)

    def free_memory(self):
        """Bytes free on the current device, counting the blocks CuPy's memory pool holds unused."""
        free, _ = self._cupy.cuda.runtime.memGetInfo()
        return int(free) + int(self._cupy.get_default_memory_pool().free_bytes())

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one module per device, kept for the process
    def _module(self, device_id):  # device_id: the key; RawModule loads on the current device
        return self._cupy.RawModule(code=source.kernel_source(),
                                    options=source.NVRTC_OPTIONS + source.include_options(),
                                    name_expressions=source.name_expressions())

    def launch(self, name, grid, block, args, shared_mem):
        kernel = self._module(self.device_id()).get_function(name)
        if shared_mem > DEFAULT_SHARED_MEMORY:
            kernel.max_dynamic_shared_size_bytes = shared_mem
        kernel(grid, block, args, shared_mem=shared_mem)


@functools.lru_cache(maxsize=None)
def _max_shared_memory(device_id):
    import cupy

    return int(cupy.cuda.Device(device_id).attributes["MaxSharedMemoryPerBlockOptin"])
