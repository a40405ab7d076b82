"""specsep: the signal layer of music source separation.

Batched STFT and inverse STFT, time-frequency masks, and phase retrieval (Griffin-Lim, fast
Griffin-Lim, MISI) on interchangeable backends that compute the same function.
"""

import importlib

from . import masks, metrics
from ._backends import available as available_backends
from ._backends import check_backend
from ._caches import clear_caches
from ._backends.cpu import cpu_kernels
from ._plan import STFT
from ._threads import get_num_threads, set_num_threads
from ._windows import check_cola, check_nola, get_window
from .api import apply_mask, griffin_lim, istft, misi, separate, stft
from ._version import __version__
from .features import (
    amplitude_to_db,
    magnitude,
    mel_filterbank,
    mel_spectrogram,
    power,
    power_to_db,
)

__all__ = [
    "STFT",
    "amplitude_to_db",
    "apply_mask",
    "available_backends",
    "check_backend",
    "check_cola",
    "check_nola",
    "clear_caches",
    "cpu_kernels",
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


def __getattr__(name):
    # specsep.oracle is application code (specsep.tools.oracle): loaded on first use, so that
    # ``import specsep`` loads no tool module
    if name == "oracle":
        return importlib.import_module("specsep.oracle")
    # specsep.torch imports torch: loaded on first use too, so that ``import specsep`` needs no torch
    if name == "torch":
        return importlib.import_module("specsep.torch")
    raise AttributeError(f"module 'specsep' has no attribute {name!r}")
