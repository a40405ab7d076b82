"""The race and memory checks of the CUDA kernels (DESIGN.md, "The GPU path, verified without a GPU",
step 3): the emulator's sanitizer driver (cpp/emu/race_driver.cpp) runs every smoke launcher
(cpp/emu/smoke/*.cpp, cpp/emu/tests/*_smoke.cpp) over every registered kernel,

- under ThreadSanitizer (with the fiber annotations of cpp/emu/runtime.cpp): no report;
- under AddressSanitizer + UndefinedBehaviorSanitizer: no report;

and the detectors are proven to work by mutants of the emulator's test kernels
(cpp/emu/tests/selftest.cu): a dropped __syncthreads() (the answer stays right, TSan must name the
racing lines), a race between blocks (TSan, although the emulator runs blocks in sequence), and a
read past dynamic shared memory (ASan).

The drivers are compiled with g++ directly (no CMake), objects cached under the temporary
directory by a hash of the sources and flags; a cold run compiles about 18 objects on all cores.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPP = ROOT / "cpp"
EMU = CPP / "emu"
CXX = os.environ.get("CXX", "g++")
INCLUDES = [f"-I{p}" for p in (EMU, EMU / "tests", CPP / "cuda", CPP / "include", CPP / "cpu")]
COMMON = ["-std=c++17", "-g", "-fno-omit-frame-pointer", "-Wall", "-Wextra", *INCLUDES]
FLAVOURS = {
    # TSan at -O1 (as the sanitizer documentation advises); ASan/UBSan at -O0, which compiles 3x faster
    # and hides no access.
    "tsan": ["-O1", "-fsanitize=thread"],
    "asan": ["-O0", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
}
MUTANTS = {
    "tsan": ["-DSPECSEP_MUTATE_DROP_BARRIER", "-DSPECSEP_MUTATE_SHARED_OUTPUT"],
    "asan": ["-DSPECSEP_MUTATE_SHARED_OVERRUN"],
}
CORE = ["runtime.cpp", "registry.cpp", "race_driver.cpp"]
REAL = ["kernels.cpp", *sorted(str(p.relative_to(EMU)) for p in (EMU / "smoke").glob("*.cpp"))]
SELFTEST = ["tests/selftest.cpp", *sorted(str(p.relative_to(EMU)) for p in (EMU / "tests").glob("*_smoke.cpp"))]
ENV = {
    "TSAN_OPTIONS": "halt_on_error=0 exitcode=66 report_signal_unsafe=0",
    "ASAN_OPTIONS": "detect_stack_use_after_return=1:detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
TSAN_WARNING = "WARNING: ThreadSanitizer"


def _source_hash() -> str:
    digest = hashlib.sha256()
    files = sorted([*EMU.rglob("*"), *(CPP / "cuda").rglob("*"), *(CPP / "include").rglob("*")])
    for path in files:
        if path.is_file() and path.suffix in {".cpp", ".hpp", ".cu", ".cuh", ".inc", ".ld"}:
            digest.update(str(path.relative_to(CPP)).encode())
            digest.update(path.read_bytes())
    version = subprocess.run([CXX, "--version"], capture_output=True, text=True).stdout
    digest.update(version.encode())
    digest.update(repr((COMMON, FLAVOURS, MUTANTS)).encode())
    return digest.hexdigest()[:16]


def _run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def _probe(flags, workdir: Path) -> str | None:
    """None if g++ builds and runs a program with these sanitizer flags, else why not."""
    source = workdir / "probe.cpp"
    source.write_text("int main() { return 0; }\n")
    exe = workdir / ("probe" + "".join(f for f in flags if f.startswith("-fsan")).replace("=", "_").replace(",", "_"))
    built = _run([CXX, *flags, str(source), "-o", str(exe)])
    if built.returncode != 0:
        return f"{CXX} {' '.join(flags)} cannot link: {built.stderr.strip().splitlines()[-1:]}"
    ran = _execute([str(exe)])
    if ran.returncode != 0:
        return f"a {' '.join(flags)} program does not run here: {ran.stderr.strip()[:300]}"
    return None


def _execute(command):
    env = {**os.environ, **ENV}
    result = _run(command, env=env, timeout=300)
    if "unexpected memory mapping" in result.stderr and shutil.which("setarch"):
        # TSan of GCC 12 cannot cope with the high ASLR entropy of recent kernels: run without ASLR.
        result = _run(["setarch", os.uname().machine, "-R", *command], env=env, timeout=300)
    if "LeakSanitizer has encountered a fatal error" in result.stderr:  # no ptrace here: no leak check
        env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
        result = _run(command, env=env, timeout=300)
    return result


class Builds:
    """Compiles the four drivers (tsan/asan x full/mutant) in parallel, reusing cached objects."""

    def __init__(self):
        if shutil.which(CXX) is None:
            pytest.skip(f"{CXX} is not installed")
        self.dir = Path(tempfile.gettempdir()) / f"specsep-emu-race-{os.getuid()}" / _source_hash()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.unavailable = {name: _probe(flags[1:], self.dir) for name, flags in FLAVOURS.items()}
        self.compile_seconds = 0.0
        self.objects_compiled = 0
        self.drivers = {}
        self.results = {}
        jobs = {}
        for flavour, flags in FLAVOURS.items():
            if self.unavailable[flavour]:
                continue
            for kind, sources, defines in (("full", CORE + REAL + SELFTEST, []),
                                           ("mutant", CORE + SELFTEST, MUTANTS[flavour])):
                objects = []
                for source in sources:
                    extra = defines if source in SELFTEST else []
                    tag = "-".join(d.removeprefix("-DSPECSEP_MUTATE_").lower() for d in extra) or "intact"
                    obj = self.dir / flavour / f"{source.replace('/', '_')}.{tag}.o"
                    jobs[obj] = [CXX, *COMMON, *flags, *extra, "-c", str(EMU / source), "-o", str(obj)]
                    objects.append(obj)
                self.drivers[(flavour, kind)] = (objects, flags)
        started = time.perf_counter()
        todo = {obj: cmd for obj, cmd in jobs.items() if not obj.exists()}
        for obj in todo:
            obj.parent.mkdir(parents=True, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            results = dict(zip(todo, pool.map(lambda cmd: _run(cmd), todo.values())))
        failed = {obj: r.stderr for obj, r in results.items() if r.returncode != 0}
        for obj in failed:
            obj.unlink(missing_ok=True)
        assert not failed, "compile errors:\n" + "\n".join(f"{obj.name}:\n{err[-3000:]}" for obj, err in failed.items())
        self.objects_compiled = len(todo)
        for (flavour, kind), (objects, flags) in self.drivers.items():
            exe = self.dir / flavour / f"driver-{kind}"
            if not exe.exists():
                linked = _run([CXX, *flags, *map(str, objects), f"-Wl,-T,{EMU / 'static_shared.ld'}", "-o", str(exe)])
                assert linked.returncode == 0, linked.stderr[-3000:]
            self.drivers[(flavour, kind)] = exe
        self.compile_seconds = time.perf_counter() - started

    def run(self, flavour, kind):
        """The driver's result (run once per session)."""
        if self.unavailable[flavour]:
            pytest.skip(self.unavailable[flavour])
        if (flavour, kind) not in self.results:
            started = time.perf_counter()
            result = _execute([str(self.drivers[(flavour, kind)])])
            result.seconds = time.perf_counter() - started
            print(f"\n[{flavour} {kind}] {self.objects_compiled} objects compiled in {self.compile_seconds:.1f} s "
                  f"(this session); run {result.seconds:.1f} s; {result.stdout.strip().splitlines()[-1:]}")
            self.results[(flavour, kind)] = result
        return self.results[(flavour, kind)]


@pytest.fixture(scope="module")
def builds():
    return Builds()


def _line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def _reports(stderr: str) -> list[str]:
    return [chunk for chunk in stderr.split("==================") if TSAN_WARNING in chunk]


def test_tsan_clean_on_every_kernel(builds):
    result = builds.run("tsan", "full")
    assert TSAN_WARNING not in result.stderr, result.stderr[:20000]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "smoke stft ... ok" in result.stdout and "emulator driver (tsan)" in result.stdout


def test_tsan_reports_a_dropped_barrier(builds):
    """selftest_shift_sum without its __syncthreads(): thread t reads the shared slot thread t-1
    wrote. The fibers run in thread order, so the answer stays right (the smoke check passes); only
    the race detector can tell, and it must name both lines."""
    result = builds.run("tsan", "mutant")
    assert result.returncode == 66, result.stdout[-2000:] + result.stderr[-2000:]
    assert "smoke selftest_shift_sum ... ok" in result.stdout
    source = EMU / "tests" / "selftest.cu"
    write = _line_of(source, "s[t] = i < n ? in[i] : T(0);")
    read = _line_of(source, "out[i] = s[t] + (t > 0 ? s[t - 1] : T(0));")
    racing = [r for r in _reports(result.stderr) if "selftest_shift_sum" in r]
    assert racing, result.stderr[:5000]
    assert any(f"selftest.cu:{write}" in r and f"selftest.cu:{read}" in r for r in racing), racing[0]


def test_tsan_reports_a_race_between_blocks(builds):
    """selftest_block_slices writing one slice from every block: blocks run one after another in the
    emulator, yet they do not synchronise for TSan, as on a GPU."""
    result = builds.run("tsan", "mutant")
    line = _line_of(EMU / "tests" / "selftest.cu", "out[i] = T(blockIdx.x);")
    racing = [r for r in _reports(result.stderr) if "selftest_block_slices" in r and f"selftest.cu:{line}" in r]
    assert racing, result.stderr[:5000]
    assert re.search(r"Thread T\d+ 'block \(1,0,0\) thread \(\d+,0,0\)'", racing[0]), racing[0]


def test_tsan_mutants_report_nothing_else(builds):
    result = builds.run("tsan", "mutant")
    summaries = re.findall(r"SUMMARY: ThreadSanitizer: data race .* in (.*)", result.stderr)
    assert summaries and all("selftest_shift_sum" in s or "selftest_block_slices" in s for s in summaries), summaries


def test_asan_ubsan_clean_on_every_kernel(builds):
    result = builds.run("asan", "full")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "ERROR: AddressSanitizer" not in result.stderr and "runtime error" not in result.stderr
    assert "smoke stft ... ok" in result.stdout and "emulator driver (asan)" in result.stdout


def test_asan_reports_a_shared_memory_overrun(builds):
    result = builds.run("asan", "mutant")
    assert result.returncode != 0
    line = _line_of(EMU / "tests" / "selftest.cu", "out[base + t] += copy[t + 1] * T(0);")
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in result.stderr, result.stderr[:5000]
    assert re.search(rf"selftest_reverse<float>.*selftest.cu:{line}", result.stderr), result.stderr[:5000]
