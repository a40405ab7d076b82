"""The extras fit the machine: `test` installs what the suite needs anywhere and pulls no CUDA
build of anything (plain `torch` from PyPI is a multi-GB CUDA build); the GPU-verification tools
live in an extra of their own."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

if sys.version_info < (3, 11):
    tomllib = pytest.importorskip("tomli")
else:
    import tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
CUDA_BUILDS = re.compile(r"^(torch|torchaudio|cupy|cuda|nvidia|jax)", re.I)


def _extras():
    return tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]


def test_test_extra_pulls_no_cuda_build():
    heavy = [req for req in _extras()["test"] + _extras()["plot"] if CUDA_BUILDS.match(req)]
    assert not heavy, f"the test extra would download CUDA builds: {heavy}"


def test_gpu_verification_has_its_own_extra():
    names = [re.split(r"[\[=<>;! ]", req)[0] for req in _extras()["gpu-verify"]]
    assert names == ["cupy-cuda13x", "cuda-toolkit"]


def test_ci_installs_the_gpu_verify_extra_and_runs_the_readme_command():
    ci = (PYPROJECT.parent / ".ci" / "run").read_text()
    assert '["optional-dependencies"][sys.argv[1]]' in ci and "gpu-verify > build/gpu-verify.txt" in ci
    readme = (PYPROJECT.parent / "README.md").read_text()
    command = 'pip install ".[test,plot]" && python -m pytest'
    assert command in readme and command in ci


def test_torch_tests_skip_saying_how_to_install_its_cpu_build():
    """Tests that need torch skip with conftest's TORCH_MISSING reason (the CPU-build command)
    through import_torch() or requires_torch, never with a bare "No module named 'torch'"."""
    tests = PYPROJECT.parent / "tests"
    bare = [f"{path.name}:{number}" for path in sorted(tests.glob("*.py")) if path.name != "conftest.py"
            for number, line in enumerate(path.read_text().splitlines(), 1)
            if re.search(r"importorskip\(\s*[\"']torch[\"']\s*\)", line)]
    assert not bare, f"use conftest.import_torch() or requires_torch: {bare}"
