"""Backend registry: which implementation runs a call.

``backend=None`` picks by array kind: NumPy arrays go to ``cpu``, CUDA arrays to ``cuda``. A named
backend is used as asked, or refused with an error that says why (not available here, or a
device array given to a host backend). A device backend named for NumPy arrays takes them through
``_cuda/host.py`` (blocks staged to the device and back). There is no silent fallback.

A backend is an object with the methods of :class:`NumpyBackend` (``reference.py``; the
others: ``cpu.py``, ``cuda.py``), taking validated arrays of its own kind and a plan.
"""

from __future__ import annotations

import numpy as np

from .._arrays import is_emulated, on_device
from .cpu import CpuBackend
from .reference import NumpyBackend

BACKEND_NAMES = ("numpy", "cpu", "cuda", "cuda-emu")
DEVICE_BACKENDS = ("cuda",)


def _emulated_cuda():
    """The CUDA kernels on NumPy arrays through the emulator (tests: the GPU path without a GPU)."""
    from .._cuda.launcher import EmulatorLauncher
    from .cuda import CudaBackend

    launcher = EmulatorLauncher()
    return CudaBackend("cuda-emu", launcher.xp, launcher)


def _real_cuda():
    from .._cuda.launcher import CupyLauncher
    from .cuda import CudaBackend

    import cupy

    return CudaBackend("cuda", cupy, CupyLauncher())


def _cuda_unavailable() -> str | None:
    """Why the cuda backend cannot run here, or None."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install 'specsep[cuda12]' or 'specsep[cuda13]')"
    try:
        if not cupy.cuda.is_available():
            return "CuPy finds no CUDA device"
    except Exception as error:  # noqa: BLE001 - CuPy raises driver errors of several kinds
        return f"CuPy cannot reach a CUDA device ({error})"
    return None


def _emulator_unavailable() -> str | None:
    try:
        from .. import _emu  # noqa: F401
    except ImportError:
        return "this build has no emulator module (configure with SPECSEP_BUILD_EMU=ON)"
    return None


_REGISTRY = {"numpy": NumpyBackend(), "cpu": CpuBackend()}
_HOST_ARRAYS = {}  # device backend name -> its HostArrays
_FACTORIES = {"cuda": (_real_cuda, _cuda_unavailable), "cuda-emu": (_emulated_cuda, _emulator_unavailable)}


def _load(name):
    """The backend ``name``, created on first use; raises ValueError when it cannot run here."""
    if name not in _REGISTRY:
        factory, unavailable = _FACTORIES[name]
        reason = unavailable()
        if reason is not None:
            raise ValueError(f"backend={name!r} is not available: {reason}")
        _REGISTRY[name] = factory()
    return _REGISTRY[name]


def loaded() -> tuple:
    """The backend objects created so far."""
    return tuple(_REGISTRY.values())


def available(arrays=None) -> tuple[str, ...]:
    """Names of the backends this installation can run.

    Parameters
    ----------
    arrays : {None, "numpy", "cuda"}
        Only the backends whose own arrays are of this kind: NumPy arrays (``numpy``, ``cpu``,
        ``cuda-emu``) or CUDA arrays (``cuda``, which also takes NumPy arrays when named, moving
        them to the device in blocks); ``None``: all of them.

    Returns
    -------
    tuple of str
    """
    if arrays not in (None, "numpy", "cuda"):
        raise ValueError(f"arrays={arrays!r} is not one of None, 'numpy', 'cuda'")
    kinds = {None: BACKEND_NAMES, "cuda": DEVICE_BACKENDS}
    wanted = kinds.get(arrays, tuple(name for name in BACKEND_NAMES if name not in DEVICE_BACKENDS))
    return tuple(name for name in BACKEND_NAMES
                 if name in wanted and (name in _REGISTRY or _FACTORIES[name][1]() is None))


def check_backend(name: str) -> None:
    """Raise when the backend ``name`` cannot run here.

    Parameters
    ----------
    name : str
        A backend name.

    Raises
    ------
    ValueError
        When ``name`` is not a backend name, or says why that backend is not available (no CuPy,
        no CUDA device, no emulator in this build).
    """
    select(name)


def _host_arrays(name):
    """The device backend ``name`` on host arrays (staged through page-locked memory in blocks)."""
    if name not in _HOST_ARRAYS:
        from .._cuda.host import HostArrays

        _HOST_ARRAYS[name] = HostArrays(_load(name))
    return _HOST_ARRAYS[name]


def select(backend: str | None, array=None):
    """The backend object for ``backend`` and an input ``array`` (its kind decides ``None``).

    A device backend named for a host array (NumPy) is opted into: its work runs on the device in
    blocks, the results come back as host arrays (``_cuda/host.py``). The emulator's device arrays
    go to ``cuda-emu`` only, CUDA arrays to ``cuda`` only."""
    device = array is not None and on_device(array)
    emulated = device and is_emulated(array)
    if backend is None:
        return _load(("cuda-emu" if emulated else "cuda") if device else "cpu")
    if not isinstance(backend, str) or backend not in BACKEND_NAMES:
        raise ValueError(f"backend={backend!r} is not one of {', '.join(map(repr, BACKEND_NAMES))}")
    chosen = _load(backend)
    if device and backend not in DEVICE_BACKENDS + ("cuda-emu",):
        raise ValueError(f"backend={backend!r} takes NumPy arrays, but the input is in CUDA device memory: "
                         "use backend='cuda', or copy it to the host first (cupy.asnumpy, tensor.cpu())")
    if device and emulated != (backend == "cuda-emu"):
        where = "the emulator's device memory" if emulated else "CUDA device memory"
        raise ValueError(f"backend={backend!r} cannot take an array in {where}: the emulator's device arrays go to "
                         "backend='cuda-emu', CUDA arrays to backend='cuda'")
    if array is not None and not device and backend in DEVICE_BACKENDS + ("cuda-emu",):
        return _host_arrays(backend)
    return chosen
