"""specsep: the signal layer of music source separation.

Batched STFT and inverse STFT, time-frequency masks, and phase retrieval (Griffin-Lim, fast
Griffin-Lim, MISI) on interchangeable backends that compute the same function.
"""

from . import masks, metrics, oracle
from ._backends import available as available_backends
from ._caches import clear_caches
from ._plan import STFT
from ._threads import get_num_threads, set_num_threads
from ._windows import check_cola, check_nola, get_window
from .api import apply_mask, griffin_lim, istft, misi, separate, stft
from .features import (
    amplitude_to_db,
    magnitude,
    mel_filterbank,
    mel_spectrogram,
    power,
    power_to_db,
)

__version__ = "0.1.0"

__all__ = [
    "STFT",
    "amplitude_to_db",
    "apply_mask",
    "available_backends",
    "check_cola",
    "check_nola",
    "clear_caches",
    "get_num_threads",
    "get_window",
    "griffin_lim",
    "istft",
    "magnitude",
    "masks",
    "mel_filterbank",
    "mel_spectrogram",
    "metrics",
    "misi",
    "oracle",
    "power",
    "power_to_db",
    "separate",
    "set_num_threads",
    "stft",
]
