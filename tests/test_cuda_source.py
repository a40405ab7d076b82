"""The kernel source CuPy compiles names every file it includes: CuPy's on-disk cache keys on the
source text only, so an edited header must change that text (or CuPy reuses a stale cubin)."""

from __future__ import annotations

import shutil

import pytest

import specsep
from specsep import cuda_source as source


@pytest.fixture
def copied_sources(tmp_path, monkeypatch):
    """A copy of the kernel and include folders that source.kernel_source() reads."""
    kernels, include = source.source_dirs()
    copies = (tmp_path / "cuda", tmp_path / "include")
    shutil.copytree(kernels, copies[0])
    shutil.copytree(include, copies[1])
    monkeypatch.setattr(source, "source_dirs", lambda: copies)
    return copies


def test_source_names_the_version_and_includes_the_kernels():
    text = source.kernel_source()
    assert text.splitlines()[0].startswith(f"// specsep {specsep.__version__} sources ")
    assert text.splitlines()[1] == '#include "kernels.cu"'


def test_editing_any_included_file_changes_the_source(copied_sources):
    before = source.kernel_source()
    assert source.kernel_source() == before  # deterministic
    edited = [path for folder in copied_sources for path in sorted(folder.rglob("*")) if path.is_file()]
    assert any(p.suffix == ".hpp" for p in edited) and any(p.name == "kernels.cu" for p in edited)
    seen = {before}
    for path in edited:
        original = path.read_bytes()
        path.write_bytes(original + b"\n// edited\n")
        text = source.kernel_source()
        assert text not in seen, f"editing {path.name} left the kernel source unchanged"
        seen.add(text)
        path.write_bytes(original)
    assert source.kernel_source() == before


def test_renaming_a_header_changes_the_source(copied_sources):
    before = source.kernel_source()
    header = next(copied_sources[1].rglob("*.hpp"))
    header.rename(header.with_name("renamed_" + header.name))
    assert source.kernel_source() != before
