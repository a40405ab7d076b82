"""Index maths is 64-bit on every platform: `long` is 32 bits on Windows (LLP64), where a spectrum of
more than 2^31 elements would wrap silently. The kernels, the shared maths and the CPU drivers use
``specsep::index_t`` (64 bits, asserted in cpp/include/specsep/hd.hpp), never a bare ``long``."""

from __future__ import annotations

import re
from pathlib import Path

CPP = Path(__file__).resolve().parents[1] / "cpp"
BARE_LONG = re.compile(r"(?<!unsigned )(?<!long )\blong\b(?!\s+long)(?!\s+double)")
# unsigned long: thread identifiers and a generation counter, not indices
SOURCES = [p for folder in ("include", "cuda", "cpu") for p in sorted((CPP / folder).rglob("*"))
           if p.suffix in {".hpp", ".cpp", ".cu", ".cuh"}]


def test_no_bare_long_in_index_maths():
    found = [f"{path.relative_to(CPP)}:{number}: {line.strip()}"
             for path in SOURCES if path.name != "pool_stress.cpp"
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if BARE_LONG.search(line.partition("//")[0])]
    assert not found, "bare `long` (32 bits on Windows) in index maths:\n" + "\n".join(found)


def test_index_type_is_asserted_64_bit():
    text = (CPP / "include" / "specsep" / "hd.hpp").read_text()
    assert "using index_t = long long;" in text
    assert re.search(r"static_assert\(sizeof\(index_t\) == 8", text)
