"""Step 1 of the GPU verification ladder: every kernel instantiation compiles through NVRTC with
the options CuPy's runtime uses, for every architecture of kernel_resources.ARCHITECTURES, without
register spills; the same list compiles with nvcc for the same architectures; the resource table in docs/ is current. No GPU needed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("cupy", reason="the NVRTC check compiles through CuPy (pip install cupy-cuda13x)")

from specsep import cuda_source as source  # noqa: E402
from specsep.tools import kernel_resources as resources  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "kernel-resources.md"


@pytest.fixture(scope="module")
def compiled():
    try:
        return {arch: resources.compile_all(arch) for arch in resources.ARCHITECTURES}
    except Exception as error:  # noqa: BLE001 - a missing libnvrtc surfaces as one of several errors
        if "nvrtc" in str(error).lower() and "not found" in str(error).lower():
            pytest.skip(f"no NVRTC library: {error}")
        raise


def test_instantiation_list_covers_both_precisions_and_any_length():
    lines = source.instantiations()
    kernels = {kernel for kernel, *_ in lines}
    assert kernels >= {"stft", "stft_phase_update", "istft", "misi_distribute", "convergence"}
    frame_fft = {k + suffix for k in ("stft", "stft_phase_update", "istft") for suffix in ("", "_global")}
    for kernel in kernels:
        for cpp in ("float", "double"):
            assert (kernel, cpp) in lines
            assert ((kernel, cpp, source.ANY_LENGTH) in lines) == (kernel in frame_fft)


@pytest.mark.parametrize("arch", resources.ARCHITECTURES)
def test_every_instantiation_compiles_without_spills(compiled, arch):
    mapping, log = compiled[arch]
    assert set(mapping) == set(source.name_expressions())
    rows = resources.parse_ptxas(log, {m: n for n, m in mapping.items()}, arch)
    assert {r.kernel for r in rows} == set(source.name_expressions())
    spilling = [r for r in rows if r.spill_stores or r.spill_loads]
    assert not spilling, spilling
    assert all(0 < r.registers <= 255 for r in rows)


def test_ptxas_parser_reads_spills():
    log = ("ptxas info    : Compiling entry function '_Zk' for 'sm_90'\n"
           "ptxas info    : Function properties for _Zk\n"
           "    8 bytes stack frame, 12 bytes spill stores, 16 bytes spill loads\n"
           "ptxas info    : Used 255 registers, used 1 barriers, 192 bytes smem\n")
    (row,) = resources.parse_ptxas(log, {"_Zk": "k<float>"}, "90")
    assert (row.kernel, row.registers, row.spill_stores, row.spill_loads, row.static_shared) == ("k<float>", 255, 12, 16, 192)


def test_resource_table_is_current(compiled):
    documented = DOC.read_text()
    version = re.search(r"NVRTC (\d+\.\d+)", documented).group(1)
    if version != resources.nvrtc_version():
        pytest.skip(f"docs were generated with NVRTC {version}, this is {resources.nvrtc_version()}")
    rows = []
    for arch, (mapping, log) in compiled.items():
        rows += resources.parse_ptxas(log, {m: n for n, m in mapping.items()}, arch)
    table = resources.markdown(sorted(rows, key=lambda r: (r.kernel, r.arch)))
    documented = documented.split("\n" + resources.ACCESS_HEADING)[0]
    assert table == documented, "regenerate: python -m specsep.tools.kernel_resources > docs/kernel-resources.md"


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH")
def test_nvcc_compiles_the_same_list(tmp_path):
    kernels, include = source.source_dirs()
    unit = tmp_path / "check.cu"
    unit.write_text('#include "kernels.cu"\n'
                    "#define SPECSEP_INSTANTIATE(name, ...) template __global__ "
                    "decltype(specsep::cuda::name<__VA_ARGS__>) specsep::cuda::name<__VA_ARGS__>;\n"
                    '#include "instantiations.inc"\n')
    targets = [f"-gencode=arch=compute_{arch},code=sm_{arch}" for arch in resources.ARCHITECTURES]
    result = subprocess.run(
        ["nvcc", "-std=c++17", *targets, "-fatbin", "-Xptxas", "-v", f"-I{kernels}", f"-I{include}",
         str(unit), "-o", str(tmp_path / "check.fatbin")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    entries = re.findall(r"Compiling entry function '(\w+)' for 'sm_(\d+)'", result.stderr)
    for arch in resources.ARCHITECTURES:
        assert sum(1 for _, a in entries if a == arch) == len(source.name_expressions()), arch
    assert not re.search(r"[1-9]\d* bytes spill (stores|loads)", result.stderr), result.stderr
