"""Options several commands take: the backend and the STFT size."""

from __future__ import annotations

import argparse

import numpy as np

import specsep
from specsep import STFT

from ..argtypes import int_at_least, int_between


def host_backends() -> tuple:
    """The installed backends, all of which take the NumPy arrays the commands read from files
    (``cuda``, named, moves them to the device in blocks and the results back)."""
    return specsep.available_backends()


def check_backend(parser: argparse.ArgumentParser, name: str) -> None:
    """Exit through ``parser.error`` unless ``name`` is an installed backend."""
    try:
        specsep.check_backend(name)
    except ValueError as exc:
        parser.error(f"argument --backend: {exc} (available here: {', '.join(specsep.available_backends())})")


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """``--backend NAME``, one backend (default: specsep's choice for NumPy arrays, ``cpu``)."""
    parser.add_argument("--backend", default=None, metavar="NAME",
                        help="backend to run on (default: specsep's choice for NumPy arrays); "
                             "installed here: " + ", ".join(host_backends()))


#: The largest ``--n-fft``: 2**24 samples (six minutes at 44.1 kHz) is far beyond any audio
#: STFT, and a window of a few hundred MB; larger values are typos that would exhaust memory.
MAX_N_FFT = 2 ** 24


def add_stft_options(parser: argparse.ArgumentParser) -> None:
    """``--n-fft N`` and ``--hop-length N``, resolved by :func:`stft_size`."""
    parser.add_argument("--n-fft", type=int_between(2, MAX_N_FFT), default=None, metavar="N",
                        help=f"FFT size, at most {MAX_N_FFT} (default: 1024 below 32 kHz, 2048 from 32 kHz)")
    parser.add_argument("--hop-length", type=int_at_least(1), default=None, metavar="N",
                        help="STFT hop (default: n_fft / 4)")


def stft_size(sr: int, n_fft: int | None = None, hop_length: int | None = None) -> tuple:
    """The STFT size and hop for a sample rate: the given values, or the defaults.

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    n_fft : int, optional
        Default 1024 below 32 kHz, 2048 from 32 kHz (about 46 ms).
    hop_length : int, optional
        Default ``n_fft // 4``.

    Returns
    -------
    (n_fft, hop_length) : (int, int)

    Raises
    ------
    ValueError
        When the periodic Hann window with this hop has no inverse (NOLA), or the hop exceeds
        the window.
    """
    n_fft = n_fft if n_fft is not None else (1024 if sr < 32000 else 2048)
    hop_length = hop_length if hop_length is not None else max(n_fft // 4, 1)
    STFT(n_fft, hop_length, dtype=np.float32).check_invertible()
    return n_fft, hop_length
