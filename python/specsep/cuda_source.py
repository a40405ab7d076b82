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

from ._cuda import fft_plan
from ._version import __version__

# C++ spelling of each real dtype, for name expressions (one place, like cupyx's helper).
CPP_TYPE = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

# The second template argument of a frame-FFT kernel's instantiation for any frame length (fft::Lengths
# of cpp/include/specsep/fft/fft.hpp); the smooth lengths take the default, Lengths::smooth.
ANY_LENGTH = "specsep::fft::Lengths::any"

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
def instantiations() -> tuple[tuple[str, ...], ...]:
    """The lines of cpp/cuda/instantiations.inc, the single list of kernels: ``(kernel, type)``, or
    ``(kernel, type, ANY_LENGTH)`` for the frame-FFT kernels' instantiation for any frame length."""
    text = (source_dirs()[0] / "instantiations.inc").read_text()
    lines = re.findall(r"^SPECSEP_INSTANTIATE\((.*)\)$", text, flags=re.M)
    return tuple(tuple(argument.strip() for argument in line.split(",")) for line in lines)


def name_expression(kernel: str, dtype, n_fft: int) -> str:
    """The name expression of ``kernel`` instantiated for the real ``dtype`` and, for a frame-FFT
    kernel, frames of ``n_fft`` samples: its default instantiation where the frame's transform is
    smooth (radix 2, 3, 4, 5 and 8 passes alone), else its instantiation for any length."""
    arguments = (CPP_TYPE[np.dtype(dtype)],)
    if kernel in _frame_fft_kernels() and not fft_plan.smooth(n_fft):
        arguments += (ANY_LENGTH,)
    return f"specsep::cuda::{kernel}<{', '.join(arguments)}>"


def name_expressions() -> tuple[str, ...]:
    """The name expressions of every instantiation, in the order of instantiations.inc."""
    return tuple(f"specsep::cuda::{kernel}<{', '.join(arguments)}>" for kernel, *arguments in instantiations())


@functools.lru_cache(maxsize=1)
def _frame_fft_kernels() -> frozenset[str]:
    """The kernels with an instantiation for any frame length."""
    return frozenset(kernel for kernel, *arguments in instantiations() if ANY_LENGTH in arguments)
