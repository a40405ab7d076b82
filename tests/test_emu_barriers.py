"""Every barrier of the CUDA kernels is needed, and the checks can tell: removing any one of them,
in turn, must make the emulator's ThreadSanitizer driver (tests/test_emu_race.py) report a race or
fail a smoke check. A barrier whose removal nothing notices is either redundant (then it goes,
with the reason in a comment) or a gap in the checks (then a check is added).

Each mutant is the kernel tree with one ``__syncthreads();`` (cpp/cuda) or ``block.sync();``
(cpp/include) statement removed; the emulator's kernels and smoke launchers are compiled from it
with -fsanitize=thread and linked with the cached emulator core.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from test_emu_race import (COMMON, CORE, CPP, CXX, EMU, FLAVOURS, REAL, TSAN_WARNING, _execute, _probe, _run,
                           _source_hash)

pytestmark = pytest.mark.slow

BARRIER = re.compile(r"^(\s*)(__syncthreads\(\);|block\.sync\(\);)\s*(//.*)?$")


def barriers() -> list[tuple[str, int]]:
    """``(path under cpp/, line)`` of every barrier statement of the kernels and the shared maths
    (not the definition of ``sync()`` itself, which is every barrier at once)."""
    found = []
    for folder in (CPP / "cuda", CPP / "include"):
        for path in sorted(folder.rglob("*")):
            if path.suffix in {".cu", ".cuh", ".hpp"}:
                for number, line in enumerate(path.read_text().splitlines(), start=1):
                    if BARRIER.match(line):
                        found.append((str(path.relative_to(CPP)), number))
    return found


@pytest.fixture(scope="module")
def core_objects():
    """The emulator core (runtime, registry, driver) under TSan, compiled once."""
    if shutil.which(CXX) is None:
        pytest.skip(f"{CXX} is not installed")
    flags = FLAVOURS["tsan"]
    folder = Path(tempfile.gettempdir()) / "specsep-emu-barriers" / _source_hash()
    folder.mkdir(parents=True, exist_ok=True)
    reason = _probe(flags[1:], folder)
    if reason:
        pytest.skip(reason)
    objects = []
    for source in CORE:
        obj = folder / f"{source.replace('/', '_')}.o"
        if not obj.exists():
            built = _run([CXX, *COMMON, *flags, "-c", str(EMU / source), "-o", str(obj)])
            assert built.returncode == 0, built.stderr[-3000:]
        objects.append(obj)
    return objects


def test_every_kernel_family_has_barriers():
    files = {path for path, _ in barriers()}
    assert {"cuda/common.cuh", "include/specsep/frame.hpp", "include/specsep/fft/fft.hpp"} <= files, files


@pytest.mark.parametrize("path, line", barriers(), ids=[f"{p.split('/')[-1]}:{n}" for p, n in barriers()])
def test_removing_the_barrier_is_caught(core_objects, tmp_path, path, line):
    tree = tmp_path / "cpp"
    shutil.copytree(CPP, tree, ignore=shutil.ignore_patterns("*.o", "build*"))
    mutated = tree / path
    lines = mutated.read_text().splitlines(keepends=True)
    lines[line - 1] = BARRIER.sub(r"\1; /* barrier removed */", lines[line - 1].rstrip("\n")) + "\n"
    mutated.write_text("".join(lines))
    emu = tree / "emu"
    includes = [f"-I{p}" for p in (emu, emu / "tests", tree / "cuda", tree / "include", tree / "cpu")]
    flags = FLAVOURS["tsan"]
    common = [flag for flag in COMMON if not flag.startswith("-I")] + includes
    objects = list(core_objects)
    for source in REAL:
        obj = tmp_path / f"{source.replace('/', '_')}.o"
        built = _run([CXX, *common, *flags, "-c", str(emu / source), "-o", str(obj)])
        assert built.returncode == 0, built.stderr[-3000:]
        objects.append(obj)
    driver = tmp_path / "driver"
    linked = _run([CXX, *flags, *map(str, objects), f"-Wl,-T,{EMU / 'static_shared.ld'}", "-o", str(driver)])
    assert linked.returncode == 0, linked.stderr[-3000:]
    result = _execute([str(driver)])
    caught = result.returncode != 0 or TSAN_WARNING in result.stderr
    assert caught, f"removing the barrier at {path}:{line} went unnoticed: no race reported, every smoke check passed"
