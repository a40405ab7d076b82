"""The host side of Bluestein's transform for the CUDA kernels: when to use it, its convolution
length and its tables.

The same functions as ``specsep::bluestein_length`` and ``specsep::BluesteinTables<double>``
(cpp/include/specsep/fft/bluestein_plan.hpp), written for NumPy: tests/test_cuda_fft_plan.py
checks them against the C++ ones, bit for bit. The filter's DFT runs in long double in the same
order of operations as the C++ loops (x87 long double on both sides: no fused multiply-adds).
"""

from __future__ import annotations

import numpy as np


def _pass_cost(n: int) -> int:
    """The run time of the passes for length ``n`` (``bluestein_detail::pass_cost``): ``n`` times a
    weight per pass of the CPU factorisation, 4 for radix 4, 1 for a lone 2, ``p`` for an odd prime."""
    per_value, rest = 0, n
    while rest % 4 == 0:
        per_value += 4
        rest //= 4
    if rest % 2 == 0:
        per_value += 1
        rest //= 2
    p = 3
    while p * p <= rest:
        while rest % p == 0:
            per_value += p
            rest //= p
        p += 2
    if rest > 1:
        per_value += rest
    return per_value * n


# Lengths whose primes are all up to this take the passes (kLargestPassPrime: accuracy decides it).
LARGEST_PASS_PRIME = 401


def _largest_prime(n: int) -> int:
    largest, p = 1, 2
    while p * p <= n:
        while n % p == 0:
            largest = p
            n //= p
        p += 1
    return n if n > 1 else largest


def _five_smooth_above(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= ``n`` (the C++ steps up from ``n`` one at a time: the same
    value, here without thousands of Python steps per length)."""
    best, f5 = 2 * n, 1
    while f5 < best:
        f35 = f5
        while f35 < best:
            x = f35
            while x < n:
                x *= 2
            best = min(best, x)
            f35 *= 3
        f5 *= 5
    return best


def convolution_length(n: int) -> int:
    """Bluestein's convolution length for a complex DFT of length ``n``: the smallest 5-smooth
    ``m >= 2n - 1`` where ``n`` has a prime above :data:`LARGEST_PASS_PRIME` and the two length-``m``
    transforms cost less than the passes (``2 _pass_cost(m) < _pass_cost(n)``); else 0 (the
    calibration of both: bluestein_plan.hpp)."""
    if _largest_prime(n) <= LARGEST_PASS_PRIME:
        return 0
    m = _five_smooth_above(2 * n - 1)
    return m if 2 * _pass_cost(m) < _pass_cost(n) else 0


def _forward_dft(re: np.ndarray, im: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The forward DFT of ``re + i im`` (long double) by direct radix passes over the primes of its
    length ascending, ``w`` its root table (real and imaginary parts, long double)."""
    m = re.size
    l1, rest = 1, m
    for p in (2, 3, 5):
        while rest % p == 0:
            ido = m // (l1 * p)
            cc_re, cc_im = re.reshape(l1, p, ido), im.reshape(l1, p, ido)  # CC(i, q, k) = cc[k, q, i]
            ch_re, ch_im = np.empty((p, l1, ido), np.longdouble), np.empty((p, l1, ido), np.longdouble)
            twiddle = np.arange(ido) * l1
            for j in range(p):
                acc_re, acc_im = cc_re[:, 0, :].copy(), cc_im[:, 0, :].copy()
                for q in range(1, p):
                    r = (j * q % p) * (m // p)
                    r_re, r_im = w.real[r], w.imag[r]
                    x_re, x_im = cc_re[:, q, :], cc_im[:, q, :]
                    acc_re = acc_re + (x_re * r_re + x_im * r_im)
                    acc_im = acc_im + (x_im * r_re - x_re * r_im)
                t_re, t_im = w.real[j * twiddle], w.imag[j * twiddle]
                ch_re[j] = acc_re * t_re + acc_im * t_im
                ch_im[j] = acc_im * t_re - acc_re * t_im
            re, im = ch_re.reshape(m), ch_im.reshape(m)
            rest //= p
            l1 *= p
    return re, im


def tables(n: int, m: int, unit_roots) -> tuple[np.ndarray, np.ndarray]:
    """``(chirp, filter)``, complex128: ``exp(+pi i k^2 / n)`` for ``k < n`` and ``H / m``, ``H`` the
    forward length-``m`` DFT of the chirp wrapped around (``h_d = h_(m-d)``), computed in long
    double and rounded once. ``unit_roots(x, n, dtype)``: ``exp(+2 pi i x / n)`` of fft_plan."""
    k = np.arange(n, dtype=np.int64)
    turn = k * k % (2 * n)  # the angle reduced in integers
    chirp_ld = unit_roots(turn, 2 * n, np.longdouble)
    h = np.zeros(m, dtype=np.clongdouble)
    h[:n] = chirp_ld
    h[m - n + 1:] = chirp_ld[1:][::-1]
    w = unit_roots(np.arange(m, dtype=np.int64), m, np.longdouble)
    re, im = _forward_dft(h.real.copy(), h.imag.copy(), w)
    scale = np.longdouble(m)
    filter_ = np.empty(m, dtype=np.complex128)
    filter_.real, filter_.imag = re / scale, im / scale
    return unit_roots(turn, 2 * n, np.float64), filter_
