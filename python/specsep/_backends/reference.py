"""The ``numpy`` backend: the reference functions of this package behind the backend interface."""

from __future__ import annotations

from .._reference import masks, phase, transforms


class NumpyBackend:
    """The reference: plain NumPy, float64 inside."""

    name = "numpy"
    stft = staticmethod(transforms.stft)
    istft = staticmethod(transforms.istft)
    apply_mask = staticmethod(masks.apply_mask)
    griffin_lim = staticmethod(phase.griffin_lim)
    misi = staticmethod(phase.misi)

    def separate(self, plan, x_mix, M, length):
        return self.istft(plan, self.apply_mask(self.stft(plan, x_mix), M), length)
