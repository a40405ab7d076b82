"""The NumPy reference backend: the definition every other backend is tested against.

Written for clarity, computing in float64 and returning the input's precision.
"""

from .masks import apply_mask
from .phase import griffin_lim, misi
from .transforms import istft, stft

__all__ = ["apply_mask", "griffin_lim", "istft", "misi", "stft"]
