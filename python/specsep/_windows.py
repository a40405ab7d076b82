"""Analysis windows and the COLA / NOLA conditions.

Every named window is periodic ("DFT-even"), as ``scipy.signal.get_window(name, n, fftbins=True)``
makes it and as librosa uses it by default: the symmetric window of ``n + 1`` points without its last
point. A window of one point is ``[1.0]``, as in scipy.
"""

from __future__ import annotations

import numpy as np

from ._validate import WINDOW_NAMES, check_int, check_window_array, check_window_name


def _cosine_sum(coefficients: tuple[float, ...], n: int) -> np.ndarray:
    phase = 2.0 * np.pi * np.arange(n) / n
    window = sum(((-1) ** k) * a * np.cos(k * phase) for k, a in enumerate(coefficients))
    # An exact zero (blackman's first point, 0.42 - 0.5 + 0.08) comes out as -1.4e-17 of rounding;
    # its square (2e-34) passes the iSTFT's envelope test and the division turns rounding noise into
    # a spike. Values this far under the ulp of the coefficients are zeros.
    window[np.abs(window) < 4 * np.finfo(np.float64).eps * sum(coefficients)] = 0.0
    return window


def _triangle(n: int) -> np.ndarray:
    # scipy's triang(n + 1, sym=True)[:-1]
    m = n + 1
    k = np.arange(1, (m + 1) // 2 + 1)
    if m % 2 == 0:
        half = (2 * k - 1.0) / m
        full = np.concatenate([half, half[::-1]])
    else:
        half = 2 * k / (m + 1.0)
        full = np.concatenate([half, half[-2::-1]])
    return full[:n]


def _named_window(name: str, n: int) -> np.ndarray:
    if n == 1:
        return np.ones(1)
    if name == "hann":
        return _cosine_sum((0.5, 0.5), n)
    if name == "sqrt_hann":
        return np.sqrt(np.maximum(_cosine_sum((0.5, 0.5), n), 0.0))
    if name == "hamming":
        return _cosine_sum((0.54, 0.46), n)
    if name == "blackman":
        return _cosine_sum((0.42, 0.50, 0.08), n)
    if name == "triangle":
        return _triangle(n)
    return np.ones(n)  # rectangular


def get_window(name: str, n: int) -> np.ndarray:
    """Periodic analysis window.

    Parameters
    ----------
    name : {"hann", "sqrt_hann", "hamming", "blackman", "triangle", "rectangular"}
        Window family. ``triangle`` is scipy's ``triang``, ``rectangular`` its ``boxcar``,
        ``sqrt_hann`` the square root of the periodic Hann window.
    n : int
        Number of points, ``n >= 1``.

    Returns
    -------
    window : np.ndarray, shape (n,), float64
        Equal to ``scipy.signal.get_window(name, n, fftbins=True)``.
    """
    check_window_name(name)
    check_int("n", n, minimum=1)
    return _named_window(name, int(n))


def _folded_sums(values: np.ndarray, hop_length: int) -> np.ndarray:
    """Sum of ``values`` shifted by every multiple of ``hop_length``, over one hop period."""
    n = values.shape[0]
    padded = np.zeros(-(-n // hop_length) * hop_length)
    padded[:n] = values
    return padded.reshape(-1, hop_length).sum(axis=0)


def _window_array(window, hop_length, win_length) -> np.ndarray:
    check_int("hop_length", hop_length, minimum=1)
    if isinstance(window, str):
        check_window_name(window)
        if win_length is None:
            raise TypeError("win_length is required when window is given by name")
        check_int("win_length", win_length, minimum=1)
        return _named_window(window, int(win_length))
    return check_window_array(window)


def check_cola(window, hop_length: int, *, win_length: int | None = None, tol: float = 1e-10) -> bool:
    """Whether shifted copies of ``window`` by ``hop_length`` add up to a constant (COLA).

    Parameters
    ----------
    window : str or array_like, shape (win_length,)
        A window name (then ``win_length`` is required) or the window values.
    hop_length : int
        Shift between frames, ``>= 1``.
    win_length : int, optional
        Window length when ``window`` is a name.
    tol : float
        Largest allowed deviation of the overlap-added window from its median.

    Returns
    -------
    bool
        As ``scipy.signal.check_COLA(window, n, n - hop_length)``.
    """
    sums = _folded_sums(_window_array(window, hop_length, win_length), int(hop_length))
    return bool(np.max(np.abs(sums - np.median(sums))) < tol)


def check_nola(window, hop_length: int, *, win_length: int | None = None, tol: float = 1e-10) -> bool:
    """Whether the squared window overlap-adds to a positive envelope (NOLA).

    NOLA is the condition under which the inverse STFT exists: the window-sum-square envelope the
    iSTFT divides by never vanishes.

    Parameters
    ----------
    window : str or array_like, shape (win_length,)
        A window name (then ``win_length`` is required) or the window values.
    hop_length : int
        Shift between frames, ``>= 1``.
    win_length : int, optional
        Window length when ``window`` is a name.
    tol : float
        The envelope must exceed this everywhere.

    Returns
    -------
    bool
        As ``scipy.signal.check_NOLA(window, n, n - hop_length)``.
    """
    sums = _folded_sums(_window_array(window, hop_length, win_length) ** 2, int(hop_length))
    return bool(np.min(sums) > tol)
