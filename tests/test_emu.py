"""The CUDA execution-model emulator (cpp/emu, specsep._emu): launch semantics on the emulator's own
test kernels (specsep._emu_selftest, cpp/emu/tests/selftest.cu), the argument checks that mirror
CuPy's marshalling, and the registration of the real kernel list."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

SELFTEST_MISSING = ("specsep._emu_selftest is test-only and not in wheels "
                    "(build with SPECSEP_INSTALL_TEST_MODULES=ON, as .ci/run does)")
_emu = pytest.importorskip("specsep._emu", reason="this build has no emulator (configure with SPECSEP_BUILD_EMU=ON)")
selftest = pytest.importorskip("specsep._emu_selftest", reason=SELFTEST_MISSING)
from specsep import cuda_source as source  # noqa: E402
from specsep._cuda import fft_plan  # noqa: E402


def kernel(name, dtype=np.float32):
    return f"specsep::cuda::{name}<{'float' if np.dtype(dtype) == np.float32 else 'double'}>"


def launch(name, grid, block, args, shared_mem=0):
    selftest.launch(name, grid, block, args, shared_mem=shared_mem)


REALS = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


# ---- registration -----------------------------------------------------------------------------------

def test_emu_registers_exactly_the_instantiation_list():
    assert _emu.kernels() == source.name_expressions()
    assert len(set(_emu.kernels())) == len(_emu.kernels())


def test_selftest_kernels_stay_out_of_emu():
    assert not set(selftest.kernels()) & set(_emu.kernels())
    assert all("selftest_" in name for name in selftest.kernels())


def test_signature_lists_cpp_parameter_types():
    assert _emu.signature("specsep::cuda::stft<float>")[:5] == (
        "const float*", "long long", "long long", "const float*", "const specsep::cplx<float>*")
    assert selftest.signature(kernel("selftest_params", np.float64))[-4:] == ("int", "long long", "double", "double")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH")
def test_selftest_kernels_compile_with_nvcc(tmp_path):
    """The emulator's test kernels are real CUDA: the emulator must not accept what nvcc refuses."""
    cpp = Path(__file__).resolve().parents[1] / "cpp"
    unit = tmp_path / "selftest_check.cu"
    unit.write_text('#include "selftest.cu"\n'
                    "#define SPECSEP_INSTANTIATE(name, T) "
                    "template __global__ decltype(specsep::cuda::name<T>) specsep::cuda::name<T>;\n"
                    '#include "selftest_instantiations.inc"\n')
    result = subprocess.run(["nvcc", "-std=c++17", "-arch=sm_90", "-cubin", "-Xptxas", "-v",
                             f"-I{cpp / 'emu' / 'tests'}", f"-I{cpp / 'include'}", str(unit), "-o",
                             str(tmp_path / "selftest.cubin")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"Compiling entry function", result.stderr)) == len(selftest.kernels())


def test_limits():
    assert _emu.max_shared_memory() == 227 * 1024
    assert _emu.max_threads_per_block() == 1024
    assert _emu.flavour() == "plain"


# ---- execution ----------------------------------------------------------------------------------------

def test_thread_and_block_indices():
    grid, block = (2, 3, 2), (4, 2, 3)
    out = np.full(12 * 24 * 12, -1, dtype=np.int32)
    launch(kernel("selftest_indices"), grid, block, (out,))
    rows = out.reshape(-1, 12)
    n = 0
    for bz in range(2):
        for by in range(3):
            for bx in range(2):
                for tz in range(3):
                    for ty in range(2):
                        for tx in range(4):
                            assert tuple(rows[n]) == (tx, ty, tz, bx, by, bz, *block, *grid), n
                            n += 1


@pytest.mark.parametrize("dtype", REALS)
def test_barrier_orders_shared_memory(dtype, rng):
    n, threads = 1000, 128
    x = rng.standard_normal(n).astype(dtype)
    out = np.zeros(n, dtype)
    launch(kernel("selftest_shift_sum", dtype), (-(-n // threads),), (threads,), (x, out, np.int32(n)),
           shared_mem=threads * x.itemsize)
    previous = np.concatenate([[0], x[:-1]]).astype(dtype)
    previous[::threads] = 0
    np.testing.assert_array_equal(out, x + previous)


@pytest.mark.parametrize("dtype", REALS)
def test_static_shared_memory_and_barrier(dtype, rng):
    blocks, threads = 5, 256
    x = rng.standard_normal(blocks * threads).astype(dtype)
    out = np.zeros_like(x)
    launch(kernel("selftest_reverse", dtype), (blocks,), (threads,), (x, out, np.int32(1)),
           shared_mem=threads * x.itemsize)
    np.testing.assert_array_equal(out, x.reshape(blocks, threads)[:, ::-1].ravel())


@pytest.mark.parametrize("dtype", REALS)
def test_unwritten_shared_memory_reads_nan(dtype):
    """Every block starts with dynamic shared memory of 0xFF bytes (NaN) and static shared memory
    of 0xFF bytes (-1 as int), whatever the block before wrote."""
    blocks, count = 4, 6
    dynamic = np.zeros(blocks * count, dtype)
    static = np.zeros(blocks * 4, np.int32)
    launch(kernel("selftest_poison", dtype), (blocks,), (32,), (dynamic, static, np.int32(count)),
           shared_mem=count * np.dtype(dtype).itemsize)
    assert np.isnan(dynamic).all()
    assert dynamic.view(np.uint8).tolist() == [0xFF] * dynamic.nbytes
    assert selftest.static_shared_bytes() > 0, "static_shared.ld was not linked: static shared memory is not poisoned"
    assert (static == -1).all()


def test_block_collectives():
    threads = 64
    x = np.ones(3 * threads, np.float32)
    x[5] = -1
    x[2 * threads:] = -1
    out = np.full(9, -7, np.int32)
    launch(kernel("selftest_block_vote"), (3,), (threads,), (x, out))
    assert out.reshape(3, 3).tolist() == [[threads - 1, 0, 1], [threads, 1, 1], [0, 0, 0]]


@pytest.mark.parametrize("dtype", REALS)
def test_warp_shuffles_and_ballot(dtype, rng):
    n = 96
    x = rng.integers(-3, 4, n).astype(dtype)
    sums, lane3, up1, down2 = (np.zeros(n, dtype) for _ in range(4))
    ballots = np.zeros(n // 32, np.uint32)
    launch(kernel("selftest_warp", dtype), (1,), (n,), (x, sums, lane3, up1, down2, ballots))
    warps = x.reshape(-1, 32)
    np.testing.assert_array_equal(sums, np.repeat(warps.sum(axis=1), 32))
    np.testing.assert_array_equal(lane3, np.repeat(warps[:, 3], 32))
    lane = np.arange(n) % 32
    np.testing.assert_array_equal(up1, np.where(lane == 0, x, np.roll(x, 1)))
    np.testing.assert_array_equal(down2, np.where(lane % 16 >= 14, x, np.roll(x, -2)))
    expected = [int(sum(1 << b for b in range(32) if w[b] > 0)) for w in warps]
    assert ballots.tolist() == expected


@pytest.mark.parametrize("dtype", REALS)
def test_atomics(dtype):
    n = 1000
    x = np.full(n, 0.25, dtype)
    total, count, largest = np.zeros(1, dtype), np.zeros(1, np.int32), np.zeros(1, np.uint64)
    launch(kernel("selftest_atomics", dtype), (8,), (128,), (x, total, count, largest, np.int32(n)))
    assert total[0] == 250 and count[0] == n and largest[0] == n - 1


@pytest.mark.parametrize("dtype", REALS)
def test_math_in_the_kernel_precision(dtype, rng):
    n = 100
    x = rng.uniform(0, 10, n).astype(dtype)
    out = np.zeros(3 * n, dtype)
    launch(kernel("selftest_math", dtype), (4,), (32,), (x, out, np.int32(n)))
    expected = np.stack([np.sqrt(x), np.sin(x), np.cos(x)], axis=1).ravel()
    np.testing.assert_allclose(out, expected, rtol=0, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", REALS)
def test_every_parameter_kind_is_passed(dtype):
    complex_dtype = np.complex64 if dtype == np.float32 else np.complex128
    a, b = np.array([2], dtype), np.zeros(1, dtype)
    c, d = np.array([3 + 4j], complex_dtype), np.zeros(1, complex_dtype)
    e, f = np.array([5], np.int32), np.zeros(3, np.int32)
    g, h = np.array([1.5]), np.zeros(1)
    u = np.array([10], np.uint8)
    launch(kernel("selftest_params", dtype), (1,), (32,),
           (a, b, c, d, e, f, g, h, u, np.int32(7), np.int64((1 << 33) + 9), dtype(0.5), np.float64(4)))
    assert b[0] == 2.5 and d[0] == 1.5 + 4j and f.tolist() == [12, 2, 9] and h[0] == 6 and u[0] == 245


def test_read_only_array_for_a_const_pointer():
    x = np.arange(64, dtype=np.float32)
    x.flags.writeable = False
    out = np.zeros(64, np.float32)
    launch(kernel("selftest_reverse"), (1,), (64,), (x, out, np.int32(0)))
    np.testing.assert_array_equal(out, x[::-1])


# ---- faults -------------------------------------------------------------------------------------------

def divergence(mode, threads=64):
    out = np.zeros(threads, np.float32)
    launch(kernel("selftest_divergence"), (1,), (threads,), (out, np.int32(mode)))
    return out


def test_returned_threads_do_not_hold_a_barrier():
    out = divergence(0)
    assert out.tolist() == [1.0] * 16 + [0.0] * 48


@pytest.mark.parametrize(("mode", "threads", "message"), [
    (1, 64, r"divergent barrier: .*threads 0-15 wait at __syncthreads\(\) \(selftest.cu:\d+\); "
            r"threads 16-63 wait at __syncthreads\(\) \(selftest.cu:\d+\)"),
    (2, 64, r"divergent barrier: .*threads 0-15 wait at __syncthreads\(\).*threads 16-31 wait at "
            r"__syncwarp\(mask 0xffffffff\)"),
    (3, 64, r"__shfl_xor_sync at selftest.cu:\d+ in thread \(0,0,0\): mask 0xffffffff names lane 16 "
            r"\(thread \(16,0,0\)\), which has returned"),
    (4, 64, r"thread \(1,0,0\): __shfl_sync: mask 0x00000001 does not include the calling lane 1"),
    (5, 64, r"thread \(5,0,0\): __trap\(\) was called \(selftest.cu:\d+\)"),
    (6, 48, r"mask 0xffffffff names lane 16 of warp 1, which does not exist \(the block has 48 threads\)"),
    (7, 64, r"__shfl_sync at selftest.cu:\d+ in thread \(0,0,0\) reads lane 20, which is not in the mask "
            r"0x0000ffff"),
])
def test_faults_raise_runtime_error(mode, threads, message):
    with pytest.raises(RuntimeError, match=r"specsep::cuda::selftest_divergence<float>: block \(0,0,0\)"):
        divergence(mode, threads)
    with pytest.raises(RuntimeError, match=message):
        divergence(mode, threads)
    assert divergence(0).sum() == 16  # the emulator is usable after a fault


def test_dynamic_shared_memory_overrun():
    threads = 32
    x, out = np.ones(threads, np.float32), np.zeros(threads, np.float32)
    with pytest.raises(RuntimeError, match=r"wrote past the end of dynamic shared memory \(shared_mem=124 bytes"):
        launch(kernel("selftest_shift_sum"), (1,), (threads,), (x, out, np.int32(threads)), shared_mem=124)


# ---- argument checks (as CuPy marshals them) --------------------------------------------------------

def params_args(dtype=np.float32):
    complex_dtype = np.complex64 if dtype == np.float32 else np.complex128
    return [np.zeros(1, dtype), np.zeros(1, dtype), np.zeros(1, complex_dtype), np.zeros(1, complex_dtype),
            np.zeros(1, np.int32), np.zeros(3, np.int32), np.zeros(1), np.zeros(1), np.zeros(1, np.uint8),
            np.int32(1), np.int64(2), dtype(3), np.float64(4)]


def launch_params(replace=None, dtype=np.float32, grid=(1,), block=(1,), **kwargs):
    args = params_args(dtype)
    for index, value in (replace or {}).items():
        args[index] = value
    selftest.launch(kernel("selftest_params", dtype), grid, block, tuple(args), **kwargs)


def test_valid_arguments_pass():
    launch_params()
    launch_params(dtype=np.float64)
    launch_params(replace={11: np.float32(1)}, shared_mem=np.int64(16))


def misaligned_float32():
    buffer = np.zeros(5, np.float32).view(np.uint8)[1:17]
    return buffer.view(np.float32)


def read_only(a):
    a.flags.writeable = False
    return a


P = r"specsep::cuda::selftest_params<float>: "
ARGUMENT_ERRORS = [
    # Python scalars: CuPy packs them as 64-bit (or bool / complex128) whatever the parameter
    ({9: 1}, TypeError, P + r"args\[9\] \(int\) is a Python int; Python int is passed as int64 by CuPy.*"
                                r"pass numpy.int32\(value\)"),
    ({10: 1}, TypeError, r"args\[10\] \(long long\) is a Python int; Python int is passed as int64 by CuPy"),
    ({11: 1.0}, TypeError, r"args\[11\] \(float\) is a Python float; Python float is passed as float64 by CuPy.*"
                           r"pass numpy.float32\(value\)"),
    ({12: 1.0}, TypeError, r"args\[12\] \(double\) is a Python float; Python float is passed as float64"),
    ({9: True}, TypeError, r"args\[9\] \(int\) is a Python bool; Python bool is passed as bool by CuPy"),
    ({11: 1j}, TypeError, r"args\[11\] \(float\) is a Python complex; Python complex is passed as complex128"),
    ({0: 1}, TypeError, r"args\[0\] \(const float\*\) is a Python int; a pointer parameter takes a float32 array"),
    # NumPy scalars of the wrong type: CuPy passes their bytes unconverted
    ({9: np.int64(1)}, TypeError, r"args\[9\] \(int\) is numpy.int64 \(8 bytes\), which CuPy passes as it is, "
                                  r"unconverted: pass numpy.int32\(value\)"),
    ({10: np.int32(1)}, TypeError, r"args\[10\] \(long long\) is numpy.int32 \(4 bytes\).*pass numpy.int64"),
    ({11: np.float64(1)}, TypeError, r"args\[11\] \(float\) is numpy.float64.*pass numpy.float32"),
    ({12: np.float32(1)}, TypeError, r"args\[12\] \(double\) is numpy.float32.*pass numpy.float64"),
    ({9: np.uint32(1)}, TypeError, r"args\[9\] \(int\) is numpy.uint32"),
    ({0: np.float32(1)}, TypeError, r"args\[0\] \(const float\*\) is a NumPy scalar \(numpy.float32\); a pointer "
                                    r"parameter takes a float32 array"),
    # arrays where a scalar goes, and arrays of the wrong kind
    ({9: np.zeros(1, np.int32)}, TypeError, r"args\[9\] \(int\) is a numpy.ndarray; a scalar parameter takes a "
                                            r"NumPy scalar: numpy.int32\(value\)"),
    ({9: np.array(1, np.int32)}, TypeError, r"args\[9\] \(int\) is a numpy.ndarray"),
    ({1: np.zeros(1)}, TypeError, r"args\[1\] \(float\*\) is an array of dtype float64; the parameter needs a "
                                  r"float32 array \(CuPy passes the data pointer without conversion\)"),
    ({3: np.zeros(1, np.complex128)}, TypeError, r"args\[3\] \(specsep::cplx<float>\*\) is an array of dtype "
                                                 r"complex128; the parameter needs a complex64 array"),
    ({2: np.zeros(2, np.float32)}, TypeError, r"args\[2\] \(const specsep::cplx<float>\*\) is an array of dtype "
                                              r"float32; the parameter needs a complex64 array"),
    ({5: np.zeros(3, np.int64)}, TypeError, r"args\[5\] \(int\*\) is an array of dtype int64; the parameter needs "
                                            r"an int32 array"),
    ({8: np.zeros(1, np.int8)}, TypeError, r"args\[8\] \(unsigned char\*\) is an array of dtype int8; the "
                                           r"parameter needs a uint8 array"),
    ({1: np.zeros((4, 4), np.float32)[:, 0]}, TypeError, r"args\[1\] \(float\*\) is not C-contiguous \(shape \(4,\), "
                                                         r"strides \(16,\)\).*numpy.ascontiguousarray"),
    ({1: np.zeros((3, 4), np.float32).T}, TypeError, r"args\[1\] \(float\*\) is not C-contiguous"),
    ({1: read_only(np.zeros(1, np.float32))}, TypeError, r"args\[1\] \(float\*\) is read-only, but the kernel writes "
                                                         r"through float\*"),
    ({0: np.zeros(1, ">f4")}, TypeError, r"args\[0\] \(const float\*\) is an array of non-native byte order"),
    ({0: misaligned_float32()}, ValueError, r"args\[0\] \(const float\*\) has data at \d+, not aligned to the 4 bytes"),
    ({0: None}, TypeError, r"args\[0\] \(const float\*\) is None \(CuPy would pass a null pointer\)"),
    ({0: [1.0]}, TypeError, r"args\[0\] \(const float\*\) has type list, which the emulator cannot pass"),
    ({9: "1"}, TypeError, r"args\[9\] \(int\) has type str"),
]


@pytest.mark.parametrize(("replace", "error", "message"), ARGUMENT_ERRORS)
def test_argument_errors(replace, error, message):
    with pytest.raises(error, match=message):
        launch_params(replace)


def test_argument_count():
    with pytest.raises(TypeError, match=r"selftest_params<float>\(const float\*, float\*, .*\) takes 13 arguments; "
                                        r"got 12"):
        selftest.launch(kernel("selftest_params"), (1,), (1,), tuple(params_args()[:12]))


def test_args_must_be_a_tuple():
    with pytest.raises(TypeError, match=r"args must be a tuple \(as for cupy.RawKernel\); got generator"):
        selftest.launch(kernel("selftest_params"), (1,), (1,), (a for a in params_args()))
    selftest.launch(kernel("selftest_params"), (1,), (1,), params_args())  # a list, as CuPy iterates args


def test_unknown_kernel():
    with pytest.raises(ValueError, match=r"no kernel named 'specsep::cuda::stft<half>' in this emulator; "
                                         r"registered: specsep::cuda::stft<float>"):
        _emu.launch("specsep::cuda::stft<half>", (1,), (1,), ())


@pytest.mark.parametrize(("grid", "block", "shared_mem", "error", "message"), [
    ([1], (1,), 0, TypeError, r"grid must be a tuple of 1 to 3 ints, as for cupy.RawKernel; got list"),
    (1, (1,), 0, TypeError, r"grid must be a tuple of 1 to 3 ints, as for cupy.RawKernel; got int"),
    ((1,), (1, 1, 1, 1), 0, TypeError, r"block must be a tuple of 1 to 3 ints; got 4 items"),
    ((), (1,), 0, TypeError, r"grid must be a tuple of 1 to 3 ints; got 0 items"),
    ((1.0,), (1,), 0, TypeError, r"grid\[0\] must be an int; got float"),
    ((1,), (True,), 0, TypeError, r"block\[0\] must be an int; got bool"),
    ((0,), (1,), 0, ValueError, r"grid \(0,\) has dimension 0 = 0; CUDA needs 1 <= grid dimension"),
    ((1,), (1, -2), 0, ValueError, r"block \(1, -2\) has dimension 1 = -2"),
    ((1,), (1025,), 0, ValueError, r"block \(1025, 1, 1\) has 1025 threads; the H100 allows at most 1024 per block"),
    ((1,), (32, 32, 2), 0, ValueError, r"has 2048 threads"),
    ((1,), (1, 1, 65), 0, ValueError, r"blockDim.z <= 64"),
    ((1, 65536), (1,), 0, ValueError, r"grid \(1, 65536, 1\) exceeds the H100's grid limits \(2147483647, 65535, 65535\)"),
    ((1,), (1,), 227 * 1024 + 1, ValueError, r"0 bytes of static and 232449 of dynamic shared memory exceed the 232448 bytes a block may have on the H100"),
    ((1,), (1,), -1, ValueError, r"shared_mem=-1 is negative"),
    ((1,), (1,), 1.5, TypeError, r"shared_mem must be an int \(bytes\); got float"),
])
def test_launch_configuration_errors(grid, block, shared_mem, error, message):
    with pytest.raises(error, match=message):
        selftest.launch(kernel("selftest_params"), grid, block, tuple(params_args()), shared_mem=shared_mem)


def test_shared_mem_is_keyword_only():
    with pytest.raises(TypeError):
        selftest.launch(kernel("selftest_params"), (1,), (1,), tuple(params_args()), 0)


def test_numpy_integers_for_dimensions():
    launch_params(grid=(np.int64(2),), block=(np.int32(3), np.uint8(2)))


# ---- the GIL and concurrent launches ------------------------------------------------------------------

def scan_launch(blocks, rounds, rng):
    threads = 256
    x = rng.integers(0, 5, blocks * threads).astype(np.float32)
    out = np.zeros_like(x)
    launch(kernel("selftest_scan"), (blocks,), (threads,), (x, out, np.int32(rounds)), shared_mem=threads * 4)
    np.testing.assert_array_equal(out, np.cumsum(x.reshape(blocks, threads), axis=1).ravel())


def test_launch_releases_the_gil(rng):
    """While a launch runs in another thread, this thread keeps running: no pause close to the
    launch's duration (about 0.2 s) between two iterations of its loop."""
    started = time.perf_counter()
    scan_launch(4, 200, rng)
    duration = time.perf_counter() - started
    worker = threading.Thread(target=scan_launch, args=(4, 200, np.random.default_rng(1)))
    stamps = []
    worker.start()
    while worker.is_alive():
        stamps.append(time.perf_counter())
    worker.join()
    gaps = np.diff(stamps) if len(stamps) > 1 else np.array([duration])
    assert gaps.max() < 0.5 * duration, (gaps.max(), duration)


def test_concurrent_launches_are_serialised(rng):
    workers = [threading.Thread(target=scan_launch, args=(3, 5, np.random.default_rng(seed))) for seed in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    scan_launch(2, 1, rng)


def test_stats_and_launch_counts():
    before = selftest.stats()
    count = selftest.launches()[kernel("selftest_reverse")]
    launch(kernel("selftest_reverse"), (3,), (64,), (np.zeros(192, np.float32), np.zeros(192, np.float32), np.int32(0)))
    after = selftest.stats()
    assert after["launches"] == before["launches"] + 1
    assert after["blocks"] == before["blocks"] + 3
    assert after["threads"] == before["threads"] + 192
    assert after["block_barriers"] == before["block_barriers"] + 3
    assert selftest.launches()[kernel("selftest_reverse")] == count + 1


# ---- a real kernel through specsep._emu ------------------------------------------------------------

@pytest.mark.parametrize("dtype", REALS)
@pytest.mark.parametrize("n_fft", [16, 15])
def test_real_stft_kernel_against_numpy(dtype, n_fft, rng):
    from specsep import _cpu

    hop, samples, signals, threads = 4, 50, 2, 32
    x = rng.standard_normal((signals, samples)).astype(dtype)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(dtype)
    factors, roots = _cpu.fft_plan_arrays(n_fft)
    roots = roots.astype(np.complex64 if dtype == np.float32 else np.complex128)
    n_frames = 1 + (samples - n_fft) // hop
    out = np.zeros((signals, n_frames, n_fft // 2 + 1), roots.dtype)
    scratch = fft_plan.work_values(n_fft)
    _emu.launch(kernel("stft", dtype), (n_frames, signals), (threads,), (
        x, np.int64(samples), np.int64(samples), window, roots, factors, np.int32(n_fft), np.int32(hop),
        np.int32(0), np.int32(0), dtype(1), np.int64(n_frames), np.int32(1), out), shared_mem=2 * scratch * roots.itemsize)
    frames = np.stack([x[:, t * hop:t * hop + n_fft] for t in range(n_frames)], axis=1) * window
    expected = np.fft.rfft(frames.astype(np.float64), axis=-1)
    error = np.linalg.norm(out - expected) / np.linalg.norm(expected)
    assert error < (1e-6 if dtype == np.float32 else 1e-14)


def test_misaligned_complex_arrays_are_refused_at_launch():
    """Complex values move in one 8- or 16-byte access on the device (specsep/complex.hpp), so an
    array off its element size is refused before any kernel runs: by the CuPy launcher's check and
    by the emulator, the same rule."""
    from specsep._cuda.launcher import check_alignment

    raw = np.zeros(8 * 33, np.uint8)
    start = -raw.ctypes.data % 16 + 4  # 4 bytes off a 16-byte boundary
    X = raw[start:start + 8 * 32].view(np.complex64)
    assert not X.ctypes.data % 4 and X.ctypes.data % 8
    with pytest.raises(ValueError, match=r"k: argument 1 \(complex64\) .* not aligned to its 8-byte elements"):
        check_alignment("k", (np.zeros(4, np.float32), X, np.int32(3)))
    check_alignment("k", (np.zeros(4, np.complex64), np.zeros(4, np.complex128), np.int32(3)))
    a, b, e, f, g, h, u = (np.array([2], np.float32), np.zeros(1, np.float32), np.array([5], np.int32),
                           np.zeros(3, np.int32), np.array([1.5]), np.zeros(1), np.array([10], np.uint8))
    with pytest.raises(ValueError, match=r"args\[2\] \(const specsep::cplx<float>\*\) has data at .* not aligned to "
                                         r"the 8 bytes"):
        selftest.launch("specsep::cuda::selftest_params<float>", (1,), (32,),
                        (a, b, X[:1], np.zeros(1, np.complex64), e, f, g, h, u, np.int32(7), np.int64(9),
                         np.float32(0.5), np.float64(4)))
