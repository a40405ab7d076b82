"""Threads of the ``cpu`` backend."""

from __future__ import annotations

import warnings

from . import _validate as v
from ._backends.cpu import kernels_module


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for the ``cpu`` backend's kernels.

    Parameters
    ----------
    n : int
        Number of threads, ``>= 1``. The default is the ``SPECSEP_NUM_THREADS`` environment
        variable when set (a positive integer in decimal digits; anything else raises
        ``ValueError`` when specsep is imported), else every core. Results are identical for any
        thread count.

    Warns
    -----
    RuntimeWarning
        When the system cannot start ``n`` threads (a limit on threads or on address space):
        the kernels then run on the threads that started, as :func:`get_num_threads` reports.
    """
    n = v.check_int("n", n, minimum=1)
    kernels_module.set_num_threads(n)
    started = get_num_threads()
    if started < n:
        warnings.warn(f"set_num_threads: the system could start only {started} of {n} threads; "
                      f"the cpu backend runs on {started}", RuntimeWarning, stacklevel=2)


def get_num_threads() -> int:
    """Number of threads the ``cpu`` backend's kernels use.

    Once the threads have started (at :func:`set_num_threads`, else at the first kernel that
    uses them), this is the number that did: fewer than asked for where the system refused more.

    Returns
    -------
    int
    """
    return int(kernels_module.get_num_threads())
