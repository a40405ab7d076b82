"""The CUDA source the ``cuda`` backend compiles: where it lives, which instantiations exist, and
how NVRTC compiles them.

Public so that tools which compile the kernels themselves (the kernel-resource table of
``python -m specsep.tools.kernel_resources``, compute-sanitizer runs) compile exactly what the
backend compiles.
"""

from __future__ import annotations

import functools
import hashlib
import re
from importlib import resources
from pathlib import Path

import numpy as np

from ._version import __version__

# C++ spelling of each real dtype, for name expressions (one place, like cupyx's helper).
CPP_TYPE = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

# The options CuPy's runtime adds itself are -arch and --device-as-default-execution-space; ours:
NVRTC_OPTIONS = ("-std=c++17", "-ftz=true")


@functools.lru_cache(maxsize=1)
def source_dirs() -> tuple[Path, Path]:
    """``(kernel_dir, include_dir)``: the package data of an installed wheel, or ``cpp/`` of a
    source checkout when specsep runs from one (``PYTHONPATH=python``)."""
    package = Path(str(resources.files("specsep")))
    installed = (package / "cuda", package / "include")
    if (installed[0] / "kernels.cu").is_file():
        return installed
    checkout = package.parents[1] / "cpp"
    if (checkout / "cuda" / "kernels.cu").is_file():
        return checkout / "cuda", checkout / "include"
    raise FileNotFoundError("the CUDA kernel sources are neither installed with specsep nor in a checkout")


def kernel_source() -> str:
    """The translation unit NVRTC compiles (it includes the rest through the include path).

    Its first line names specsep's version and a hash of every kernel and header file: CuPy's
    on-disk cache keys on the source text, never on included files, so an edited header (a
    checkout, an upgrade in place) must change this text to get compiled again."""
    return f"// specsep {__version__} sources {sources_hash()}\n#include \"kernels.cu\"\n"


def sources_hash() -> str:
    """SHA-256 over the names and contents of every file under the kernel and include folders."""
    digest = hashlib.sha256()
    for folder in source_dirs():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def include_options() -> tuple[str, ...]:
    """NVRTC's ``-I`` options for the kernel and include folders."""
    kernels, include = source_dirs()
    return (f"-I{kernels}", f"-I{include}")


@functools.lru_cache(maxsize=1)
def instantiations() -> tuple[tuple[str, str], ...]:
    """``(kernel, type)`` pairs of cpp/cuda/instantiations.inc, the single list of kernels."""
    text = (source_dirs()[0] / "instantiations.inc").read_text()
    return tuple(re.findall(r"^SPECSEP_INSTANTIATE\((\w+),\s*(\w+)\)", text, flags=re.M))


def name_expression(kernel: str, dtype) -> str:
    """The name expression of ``kernel`` instantiated for the real ``dtype``."""
    return f"specsep::cuda::{kernel}<{CPP_TYPE[np.dtype(dtype)]}>"


def name_expressions() -> tuple[str, ...]:
    """The name expressions of every instantiation, in the order of instantiations.inc."""
    return tuple(f"specsep::cuda::{kernel}<{cpp}>" for kernel, cpp in instantiations())
