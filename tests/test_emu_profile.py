"""The emulator's access profiler (cpp/emu/profile.hpp, specsep.emu_profile): textbook access
patterns of the self-test kernels give the counts a GPU profiler shows, the kernels of the
backend are profiled through the public recording(), and the default module carries none of it."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import specsep
from specsep import emu_profile

profiled = pytest.importorskip("specsep._emu_selftest_profile",
                               reason="specsep._emu_selftest_profile is test-only (SPECSEP_INSTALL_TEST_MODULES=ON)")

TYPES = {"float": (np.float32, 4), "double": (np.float64, 8), "float2": (np.complex64, 8),
         "double2": (np.complex128, 16)}


def aligned(n, dtype, rng):
    """``n`` random values of ``dtype`` starting on a 128-byte boundary (sector counts depend on it)."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(n * itemsize + 128, np.uint8)
    start = -raw.ctypes.data % 128
    out = raw[start:start + n * itemsize].view(dtype)
    out[...] = rng.standard_normal(n) if out.dtype.kind == "f" else rng.standard_normal(n) + 1j * rng.standard_normal(n)
    return out


def run(kernel, ctype, grid, block, args, shared_mem=0):
    profiled.profile_reports()
    profiled.launch(f"specsep::cuda::{kernel}<{ctype}>", grid, block, args, shared_mem=shared_mem)
    (report,) = profiled.profile_reports()
    return report


@pytest.mark.parametrize("ctype, stride, sectors, ideal", [
    ("float", 1, 4, 4), ("float", 2, 8, 4), ("float", 8, 32, 4), ("float", 32, 32, 4),
    ("float2", 1, 8, 8), ("double", 1, 8, 8), ("double", 2, 16, 8), ("double2", 1, 16, 16)])
def test_global_sectors_per_request(ctype, stride, sectors, ideal, rng):
    """Thread t loads in[stride * t]: 32-byte sectors per warp request and the ideal for its bytes."""
    dtype, width = TYPES[ctype]
    threads = 64
    x, out = aligned(stride * threads, dtype, rng), aligned(threads, dtype, rng)
    report = run("selftest_global_stride", ctype, (1,), (threads,), (x, out, np.int32(stride)))
    np.testing.assert_array_equal(out, x[::stride])
    load, store = report["global_load"], report["global_store"]
    assert (load["requests"], load["units"], load["ideal_units"]) == (2, 2 * sectors, 2 * ideal)
    lines = {(stride * t * width + b) // 128 for t in range(32) for b in (0, width - 1)}
    assert load["lines"] == 2 * len(lines)  # 128-byte lines per request, both warps alike
    assert load["bytes"] == threads * width and load["by_width"][width] == 2
    assert (store["requests"], store["units"], store["ideal_units"]) == (2, 2 * threads * width // 64,
                                                                         2 * threads * width // 64)
    touched = {(stride * t * width + b) // 32 for t in range(threads) for b in (0, width - 1)}
    assert report["unique_sectors_load"] == report["block_load_sectors"] == len(touched)  # one block
    assert report["shared_load"]["requests"] == report["shared_store"]["requests"] == 0


def test_global_counts_per_argument(rng):
    """global_by_arg splits the global counts by kernel argument: the strided loads are all the
    input's (args[0]), the stores all the output's (args[1]), and the scalar has none."""
    x, out = aligned(2 * 64, np.float32, rng), aligned(64, np.float32, rng)
    report = run("selftest_global_stride", "float", (1,), (64,), (x, out, np.int32(2)))
    by_arg = report["global_by_arg"]
    assert set(by_arg) == {0, 1}
    assert by_arg[0]["load"] == report["global_load"] and by_arg[0]["store"]["requests"] == 0
    assert by_arg[1]["store"] == report["global_store"] and by_arg[1]["load"]["requests"] == 0
    assert by_arg[0]["load"]["units"] == 2 * 8  # stride-2 floats: 8 sectors per request, 2 warps


def test_counts_do_not_depend_on_host_alignment(rng):
    """Arrays are placed as a GPU allocator would (256-byte aligned bases), whatever the host's
    addresses: a copy 16 bytes off a 128-byte boundary counts the same."""
    reports = []
    for offset in (0, 16):
        raw = np.empty(64 * 2 * 4 + 256, np.uint8)
        start = -raw.ctypes.data % 128 + offset
        x = raw[start:start + 64 * 2 * 4].view(np.float32)
        x[...] = rng.standard_normal(128)
        out = np.empty(64 + offset, np.float32)[offset // 4:][:64]
        reports.append(run("selftest_global_stride", "float", (1,), (64,), (x, out, np.int32(2))))
    for report in reports:
        del report["kernel"]
    assert reports[0] == reports[1]
    assert reports[0]["global_load"]["units"] == 16


def test_inactive_lanes_leave_the_request(rng):
    """48 threads: the second warp's requests have 16 active lanes (2 sectors of floats)."""
    x, out = aligned(48, np.float32, rng), aligned(48, np.float32, rng)
    load = run("selftest_global_stride", "float", (1,), (48,), (x, out, np.int32(1)))["global_load"]
    assert (load["requests"], load["units"], load["ideal_units"], load["bytes"]) == (2, 6, 6, 192)


def test_barriers_reconverge_the_warp(rng):
    """Lane 0 skips a load in the first of two rounds that end at a barrier: its load of round 2 is a
    request of round 2 (31 then 32 consecutive floats, 4 sectors each), where grouping it with
    the other lanes' first load would span 5 sectors."""
    x, out = aligned(64, np.float32, rng), aligned(32, np.float32, rng)
    report = run("selftest_reconverge", "float", (1,), (32,), (x, out, np.int32(2)))
    np.testing.assert_allclose(out, np.where(np.arange(32) > 0, x[:32], 0) + x[32:], rtol=1e-6)
    load = report["global_load"]
    assert (load["requests"], load["units"], load["ideal_units"], load["bytes"]) == (2, 8, 8, 63 * 4)


@pytest.mark.parametrize("ctype, stride, wavefronts, ideal", [
    ("float", 1, 1, 1), ("float", 2, 2, 1), ("float", 32, 32, 1), ("float", 0, 1, 1), ("float", 3, 1, 1),
    ("double", 1, 2, 2), ("float2", 1, 2, 2), ("double", 2, 4, 2), ("double", 0, 2, 1),
    ("double2", 1, 4, 4), ("double2", 2, 8, 4)])
def test_shared_wavefronts_per_request(ctype, stride, wavefronts, ideal, rng):
    """One warp reads shared element (stride * t): bank conflicts as the programming guide counts
    them (8-byte accesses in half warps, 16-byte ones in quarter warps; one word is broadcast)."""
    dtype, width = TYPES[ctype]
    count = 4096 // width
    x, out = aligned(count, dtype, rng), aligned(32, dtype, rng)
    report = run("selftest_shared_stride", ctype, (1,), (32,), (x, out, np.int32(stride), np.int32(count)),
                 shared_mem=count * width)
    np.testing.assert_array_equal(out, x[(stride * np.arange(32)) % count])
    load, store = report["shared_load"], report["shared_store"]
    assert (load["requests"], load["units"], load["ideal_units"]) == (1, wavefronts, ideal)
    assert load["by_width"][width] == 1
    # the fill: consecutive lanes, consecutive elements, conflict-free
    assert store["requests"] == count // 32 and store["units"] == store["ideal_units"] == count // 32 * width // 4


def test_static_shared_memory_is_the_profiled_module_own():
    """A kernel's static __shared__ array counts as shared memory also when the plain module with
    the same kernel was loaded first (its statics must not capture the profiled module's): in a
    fresh process, plain module first."""
    script = textwrap.dedent("""
        import numpy as np
        from specsep import _emu_selftest
        from specsep import _emu_selftest_profile as profiled
        x, out = np.arange(64, dtype=np.float32), np.empty(64, np.float32)
        _emu_selftest.launch("specsep::cuda::selftest_reverse<float>", (1,), (64,), (x, out, np.int32(0)))
        profiled.launch("specsep::cuda::selftest_reverse<float>", (1,), (64,), (x, out, np.int32(0)))
        (r,) = profiled.profile_reports()
        assert (out == x[::-1]).all()
        print(r["shared_store"]["requests"], r["shared_load"]["requests"], r["shared_load"]["units"])
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(Path(specsep.__file__).parents[1])})
    assert result.stdout.split() == ["2", "2", "2"]


def test_recording_profiles_the_backend_kernels(rng):
    """recording() runs cuda-emu's launches through the profiler: every stft launch is reported,
    with global and shared traffic, and the results are the unprofiled ones bit for bit."""
    x = rng.standard_normal(4096).astype(np.float32)
    plain = specsep.stft(x, n_fft=512, hop_length=128, backend="cuda-emu")
    with emu_profile.recording() as launches:
        counted = specsep.stft(x, n_fft=512, hop_length=128, backend="cuda-emu")
    np.testing.assert_array_equal(counted, plain)
    totals = emu_profile.by_kernel(launches)
    stft = totals["specsep::cuda::stft<float>"]
    assert stft.launches >= 1
    assert stft.global_load.requests > 0 and stft.global_store.requests > 0
    assert stft.shared_load.requests > 0 and stft.shared_load.units >= stft.shared_load.ideal_units > 0
    assert stft.global_load.units >= stft.global_load.ideal_units > 0
    # per argument (the signal x is args[0], the output args[12]), summing to the kernel's totals
    assert stft.global_by_arg[0]["load"].requests > 0 and stft.global_by_arg[13]["store"].requests > 0
    assert sum(d["load"].units for d in stft.global_by_arg.values()) == stft.global_load.units
    # outside the block nothing is recorded
    specsep.stft(x, n_fft=512, hop_length=128, backend="cuda-emu")
    assert emu_profile.by_kernel(launches)["specsep::cuda::stft<float>"].launches == stft.launches


@pytest.mark.parametrize("n_fft", [512, 1024, 2048, 4096])
def test_frame_ffts_are_free_of_bank_conflicts(n_fft, dtype, rng):
    """The padded layout of the FFT work buffers (cpp/include/specsep/fft/layout.hpp) spreads every
    pass's strided reads over the banks: the STFT's and iSTFT's shared stores take their ideal
    wavefronts, the loads at most 1.25x it (8-byte broadcasts of the frame's descriptor, two
    half-warp wavefronts for 8 bytes, are the rest). Without it the last passes' reads took
    up to 4.5x."""
    x = rng.standard_normal(8 * n_fft // 4).astype(dtype)
    stft = dict(n_fft=n_fft, hop_length=n_fft // 4, backend="cuda-emu")
    with emu_profile.recording() as launches:
        specsep.istft(specsep.stft(x, **stft), **stft)
    totals = emu_profile.by_kernel(launches)
    assert {name.split("<")[0] for name in totals} == {"specsep::cuda::stft", "specsep::cuda::istft"}
    for name, t in totals.items():
        assert t.shared_store.units == t.shared_store.ideal_units, name
        assert t.shared_load.ideal_units > 0 and t.shared_load.excess <= 1.25, name


def test_the_default_module_has_no_profiler():
    """Profiling off costs nothing: the plain module has neither the counting code nor the
    instrumentation's callbacks (they live in the *_profile modules only)."""
    from specsep import _emu

    assert not hasattr(_emu, "profile_reports") and hasattr(profiled, "profile_reports")
    assert b"__tsan_read4" not in Path(_emu.__file__).read_bytes()


@pytest.mark.slow
def test_access_table_is_current():
    """docs/kernel-resources.md's access profile is what the profiler counts now (about a minute)."""
    from specsep.tools import kernel_resources as resources

    documented = (Path(__file__).resolve().parents[1] / "docs" / "kernel-resources.md").read_text()
    section = documented[documented.index(resources.ACCESS_HEADING):]
    assert resources.access_markdown(resources.access_report()) == section, \
        "regenerate: python -m specsep.tools.kernel_resources > docs/kernel-resources.md"
