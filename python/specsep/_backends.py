"""Backend registry: which implementation runs a call.

``backend=None`` picks by array type; a named backend is used as asked or refused with a clear
error. There is no silent fallback from one backend to another.

A backend is an object with the methods of :class:`NumpyBackend`, all taking validated NumPy (or,
for device backends, device) arrays and a plan.
"""

from __future__ import annotations

from . import _reference
from ._cpu_backend import CpuBackend

BACKEND_NAMES = ("numpy", "cpu", "cuda", "cuda-emu")


class NumpyBackend:
    """The reference: plain NumPy, float64 inside."""

    name = "numpy"
    stft = staticmethod(_reference.stft)
    istft = staticmethod(_reference.istft)
    apply_mask = staticmethod(_reference.apply_mask)
    griffin_lim = staticmethod(_reference.griffin_lim)
    misi = staticmethod(_reference.misi)

    def separate(self, plan, x_mix, M, length):
        return self.istft(plan, self.apply_mask(self.stft(plan, x_mix), M), length)


_NOT_YET = {
    "cuda": "the CUDA kernels are not part of this release yet",
    "cuda-emu": "the CUDA emulator is not part of this release yet",
}

_REGISTRY = {"numpy": NumpyBackend(), "cpu": CpuBackend()}


def available() -> tuple[str, ...]:
    """Names of the backends this installation can run."""
    return tuple(_REGISTRY)


def select(backend: str | None):
    """The backend object for ``backend`` (``None``: the default for NumPy arrays)."""
    if backend is None:
        return _REGISTRY["cpu"] if "cpu" in _REGISTRY else _REGISTRY["numpy"]
    if not isinstance(backend, str) or backend not in BACKEND_NAMES:
        raise ValueError(f"backend={backend!r} is not one of {', '.join(map(repr, BACKEND_NAMES))}")
    if backend not in _REGISTRY:
        raise ValueError(f"backend={backend!r} is not available: {_NOT_YET[backend]}")
    return _REGISTRY[backend]
