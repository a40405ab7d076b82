"""The README's first example runs as printed and prints what the README says it prints."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import MUSIC, run_cli

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title):
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_first_example_prints_what_the_readme_says(tmp_path):
    pytest.importorskip("soundfile")
    piece = MUSIC / "piece1"
    if not piece.is_dir():
        pytest.skip("../shared/music is not beside this checkout")
    section = _section("A first example")
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    claimed = ast.literal_eval(re.search(r"it prints `(\{.*?\})`", section, re.S).group(1))
    for wav in piece.glob("*.wav"):
        (tmp_path / wav.name).symlink_to(wav)
    printed = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert ast.literal_eval(printed.getvalue().strip()) == claimed
    assert (tmp_path / "drums-estimate.wav").is_file()


# The README is for users: what they need fits in one read; the rest lives in docs/. Its size
# limit is issue 17's (the README had grown to 39 KB of benchmark history and GPU notes).
README_MAX_BYTES = 15 * 1024


def test_readme_stays_short():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size:,} bytes: move developer material to docs/"


def test_readme_links_resolve():
    missing = [link for link in re.findall(r"\]\((docs/[^)#]+)", README.read_text())
               if not (README.parent / link).is_file()]
    assert not missing


def test_quick_start_prints_what_the_readme_shows(tmp_path):
    """The quick start's tables hold the scores `specsep demo` computes (cpu rows; 0.01 dB)."""
    block = re.search(r"```text\n(SI-SDR of the waveforms.*?)```", _section("Quick start"), re.S).group(1)
    code, _, stderr = run_cli(["demo", "--backend", "cpu", "--out", str(tmp_path / "demo")])
    assert code == 0, stderr
    methods = {m["label"]: m for m in json.loads((tmp_path / "demo" / "results.json").read_text())["methods"]}
    field = None
    checked = 0
    for line in block.splitlines():
        if line.startswith(("SI-SDR", "spectral convergence")):
            field = "si_sdr_db" if line.startswith("SI-SDR") else "spectral_convergence_db"
            continue
        words = [w.strip() for w in line.split("  ") if w.strip()]
        if len(words) < 4 or words[0] not in methods:
            continue
        label, backend, *numbers, _seconds = words
        method = methods[label]
        assert backend == "cpu"
        expected = [method[f"{field}_mean"], *method[field].values()]
        np.testing.assert_allclose([float(n) for n in numbers], expected, atol=0.0051, err_msg=f"{label} {field}")
        checked += 1
    assert checked == 6
