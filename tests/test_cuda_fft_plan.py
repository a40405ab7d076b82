"""The CUDA kernels' host FFT plan (specsep._cuda.fft_plan, NumPy) is the C++ one
(cpp/include/specsep/fft/host_plan.hpp, through the cpu module): same factor lists, same root bits,
Bluestein's convolution lengths and tables included."""

import ast
from pathlib import Path

import numpy as np
import pytest

from specsep._cuda import fft_plan

_cpu = pytest.importorskip("specsep._cpu", reason="the C++ plan to compare with is in the cpu module")

# small, odd, prime, powers of 2 and 3, mixed radices, the audio sizes; either side of Bluestein's
# threshold (a prime factor above 401 in n, or n / 2 for even n); Bluestein's lengths
LENGTHS = [*range(1, 130), 255, 256, 257, 441, 1000, 1023, 1024, 1025, 2048, 2187, 3000, 4096, 4097, 6561,
           8192, 11025, 16384, 65536, 65537, 401, 802, 409, 818, 509, 521, 1031, 2062, 3 * 1031, 8186, 12289]


@pytest.mark.parametrize("n", LENGTHS)
def test_plan_arrays_are_the_cpp_ones(n):
    factors, roots = fft_plan.plan_arrays(n)
    cpp_factors, cpp_roots = _cpu.fft_plan_arrays(n)
    np.testing.assert_array_equal(factors, cpp_factors)
    assert factors.dtype == np.int32
    assert roots.dtype == cpp_roots.dtype == np.complex128
    assert roots.tobytes() == cpp_roots.tobytes()  # the bits, signed zeros included


def test_the_cuda_backend_does_not_import_the_cpu_module():
    for path in Path(fft_plan.__file__).parent.glob("*.py"):
        imported = {alias.name for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
        assert not imported & {"_cpu", "_cpu_avx2", "specsep._cpu"}, path.name


@pytest.mark.parametrize("n", [2, 30, 441, 1022, 2048, 4096])
def test_twiddle_tables_follow_the_root_table(n):
    """Behind the root table of n, each pass's twiddles tw[(j - 1) * ido + i] = exp(+2 pi i j l1 i / size)
    (fft/passes.hpp), in pass order, for the size = n / 2 (even n) or n points the passes transform."""
    factors, roots = fft_plan.plan_arrays(n)
    size = n // 2 if n % 2 == 0 else n
    expected, l1 = [], 1
    for p in factors[1:1 + factors[0]]:
        ido = size // (l1 * p)
        j, i = np.meshgrid(np.arange(1, p), np.arange(ido), indexing="ij")
        expected.append(np.exp(2j * np.pi * (j * l1 * i).ravel() / size))
        l1 *= p
    expected = np.concatenate(expected) if expected else np.empty(0)
    assert factors[1 + factors[0]] == 0  # no Bluestein tables behind them
    assert roots.size == n + expected.size
    np.testing.assert_allclose(roots[n:], expected, rtol=0, atol=4e-15)  # NumPy's exp of a rounded angle: a few ulps
