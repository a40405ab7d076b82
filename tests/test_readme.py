"""The README's first example runs as printed and prints what the README says it prints."""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from conftest import MUSIC

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
