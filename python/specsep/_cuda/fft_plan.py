"""The host side of the CUDA kernels' FFT plan: the factor list and the root table of a frame
length, as arrays for the device.

The same function as ``specsep::factorize(n, radix8=true)`` and ``specsep::root_table<double>``
(cpp/include/specsep/fft/host_plan.hpp), written for NumPy so that the ``cuda`` backend needs no CPU module:
tests/test_cuda_fft_plan.py checks both against the C++ ones, bit for bit.
"""

from __future__ import annotations

import functools

import numpy as np

MAX_FACTORS = 40  # fft::kMaxFactors of cpp/include/specsep/fft/fft.hpp
# 2 pi to long double precision, the constant of root_table (parsed at long double precision)
_TWO_PI = np.longdouble("6.283185307179586476925286766559")
# 1, i, -1, -i with +0 parts (the literal -1j has a real part of -0)
_QUARTER_TURNS = np.array([complex(1, 0), complex(0, 1), complex(-1, 0), complex(0, -1)])


def factorize(n: int) -> list[int]:
    """The radix passes of an ``n``-point complex FFT: 8s, then 4s, a 2, odd factors ascending."""
    factors, rest = [], n
    for radix in (8, 4):
        while rest % radix == 0:
            factors.append(radix)
            rest //= radix
    if rest % 2 == 0:
        factors.append(2)
        rest //= 2
    p = 3
    while p * p <= rest:
        while rest % p == 0:
            factors.append(p)
            rest //= p
        p += 2
    if rest > 1:
        factors.append(rest)
    if len(factors) > MAX_FACTORS:
        raise ValueError(f"FFT length {n} has more than {MAX_FACTORS} factors")
    return factors


def root_table(n: int) -> np.ndarray:
    """``exp(+2 pi i x / n)`` for ``x < n``, complex128: computed in long double and rounded once,
    the quarter turns exact (as root_table<double> does)."""
    x = np.arange(n, dtype=np.int64)
    angle = _TWO_PI * x.astype(np.longdouble) / np.longdouble(n)
    roots = np.cos(angle).astype(np.float64) + 1j * np.sin(angle).astype(np.float64)
    quarter = (4 * x) % n == 0
    roots[quarter] = _QUARTER_TURNS[(4 * x[quarter]) // n]
    return roots


@functools.lru_cache(maxsize=16)
def plan_arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(factors, roots)`` of the frame FFT of length ``n``: the int32 list ``{count, p_1, ...}`` of
    the transform the kernels run (``n / 2`` points for even ``n``, ``n`` for odd) and
    :func:`root_table` of ``n`` (read-only)."""
    factors = factorize(n // 2 if n % 2 == 0 else n)
    factor_list = np.array([len(factors)] + factors, dtype=np.int32)
    roots = root_table(n)
    factor_list.flags.writeable = roots.flags.writeable = False
    return factor_list, roots
