"""Threads of the ``cpu`` backend."""

from __future__ import annotations

from . import _validate as v
from ._cpu_backend import kernels_module


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for the ``cpu`` backend's kernels.

    Parameters
    ----------
    n : int
        Number of threads, ``>= 1``. The default is the ``SPECSEP_NUM_THREADS`` environment
        variable when set (a positive integer in decimal digits; anything else raises
        ``ValueError`` when specsep is imported), else every core. Results are identical for any
        thread count.
    """
    kernels_module.set_num_threads(v.check_int("n", n, minimum=1))


def get_num_threads() -> int:
    """Number of threads the ``cpu`` backend's kernels use."""
    return int(kernels_module.get_num_threads())
