"""The host side of the CUDA kernels' FFT plan: the factor list, the root table and the passes'
twiddle tables of a frame length, as arrays for the device.

The same function as ``specsep::factorize(n, gpu_radices=true)``, ``specsep::root_table<double>``,
``specsep::twiddle_table`` (cpp/include/specsep/fft/host_plan.hpp) and the Bluestein tables
(bluestein.py), written for NumPy
so that the ``cuda`` backend needs no CPU module: tests/test_cuda_fft_plan.py checks them against
the C++ ones, bit for bit.
"""

from __future__ import annotations

import functools

import numpy as np

from . import bluestein

MAX_FACTORS = 40  # fft::kMaxFactors of cpp/include/specsep/fft/fft.hpp
# 2 pi to long double precision, the constant of root_table (parsed at long double precision)
_TWO_PI = np.longdouble("6.283185307179586476925286766559")
# 1, i, -1, -i with +0 parts (the literal -1j has a real part of -0)
_QUARTER_TURNS = np.array([complex(1, 0), complex(0, 1), complex(-1, 0), complex(0, -1)])


def factorize(n: int) -> list[int]:
    """The radix passes of an ``n``-point complex FFT: 16s, an 8, then 4s, a 2, odd factors ascending."""
    factors, rest = [], n
    for radix, repeat in ((16, True), (8, False), (4, True), (2, False)):
        while rest % radix == 0:
            factors.append(radix)
            rest //= radix
            if not repeat:
                break
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


def smooth(n: int) -> bool:
    """Whether the frame FFT of length ``n`` runs passes of radix 2, 3, 4, 5, 8 and 16 alone
    (``fft::is_smooth``): no prime pass, no Bluestein's transform."""
    return set(factorize(n // 2 if n % 2 == 0 else n)) <= {2, 3, 4, 5, 8, 16}


def unit_roots(x: np.ndarray, n: int, dtype=np.float64) -> np.ndarray:
    """``exp(+2 pi i x / n)`` for the integers ``x`` (``0 <= x < n``), complex of ``dtype``'s
    precision: computed in long double and rounded once, the quarter turns exact (as unit_root does)."""
    angle = _TWO_PI * x.astype(np.longdouble) / np.longdouble(n)
    roots = np.empty(x.shape, dtype=np.result_type(dtype, np.complex64))
    roots.real, roots.imag = np.cos(angle), np.sin(angle)
    quarter = (4 * x) % n == 0
    roots[quarter] = _QUARTER_TURNS[(4 * x[quarter]) // n]
    return roots


def root_table(n: int) -> np.ndarray:
    """``exp(+2 pi i x / n)`` for ``x < n``, complex128 (as root_table<double> does)."""
    return unit_roots(np.arange(n, dtype=np.int64), n)


def twiddle_table(factors: list[int], roots: np.ndarray, stride: int) -> np.ndarray:
    """The passes' twiddle tables of the transform whose radices are ``factors`` (fft/passes.hpp),
    in pass order: ``tw[(j - 1) * ido + i] = exp(+2 pi i j l1 i / size)``, gathered from ``roots``,
    the table ``exp(+2 pi i x / (size * stride))``, at ``x = j l1 i stride`` (the same bits)."""
    size, l1, tables = int(np.prod(factors)), 1, []
    for p in factors:
        ido = size // (l1 * p)
        tables.append(roots[(np.arange(1, p)[:, None] * l1 * np.arange(ido)[None, :] * stride).ravel()])
        l1 *= p
    return np.concatenate(tables) if tables else np.empty(0, roots.dtype)


@functools.lru_cache(maxsize=16)
def plan_arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(factors, roots)`` of the frame FFT of length ``n``: the int32 list ``{count, p_1, ...,
    m, [count_m, q_1, ...]}`` of the transform the kernels run (``n / 2`` points for even ``n``,
    ``n`` for odd), ``m`` its Bluestein convolution length (0: none) and the factors of ``m``; and
    :func:`root_table` of ``n`` with the passes' :func:`twiddle_table`, followed for Bluestein by its
    chirp, filter and the twiddle tables of ``m``'s passes (complex128, read-only)."""
    size = n // 2 if n % 2 == 0 else n
    factors = factorize(size)
    m = bluestein.convolution_length(size)
    factor_list = [len(factors), *factors, m]
    roots = root_table(n)
    tables = [roots, twiddle_table(factors, roots, n // size)]
    if m:
        factors_m = factorize(m)
        factor_list += [len(factors_m), *factors_m]
        tables += [*bluestein.tables(size, m, unit_roots), twiddle_table(factors_m, root_table(m), 1)]
    factor_list, roots = np.array(factor_list, dtype=np.int32), np.concatenate(tables)
    factor_list.flags.writeable = roots.flags.writeable = False
    return factor_list, roots


def scratch(n: int) -> int:
    """Complex values of each of the frame FFT's two work buffers (``FrameFFT::scratch()``): ``n / 2 + 1``
    for even ``n``, ``n`` for odd ``n``, or Bluestein's convolution length where that is longer."""
    own = n // 2 + 1 if n % 2 == 0 else n
    return max(own, bluestein.convolution_length(n // 2 if n % 2 == 0 else n))


def work_values(n: int) -> int:
    """Complex values of each of the CUDA kernels' two FFT work buffers: :func:`scratch` and the
    room of the layout padded against shared-memory bank conflicts, an eighth more
    (``fft::Padded::room`` of cpp/include/specsep/fft/layout.hpp)."""
    values = scratch(n)
    return values + values // 8
