"""What the CUDA kernels ask of a GPU's memory system, counted by the emulator.

The ``cuda-emu`` backend runs the real kernels on the CPU. Within :func:`recording` it runs them
through ``specsep._emu_profile``, the same kernels compiled with every load and store reported
(cpp/emu/profile.hpp), and counts per launch, the way a profiler does on a GPU:

- global memory: warp requests, 32-byte sectors and 128-byte lines touched, and the ideal sector
  count for the bytes the active lanes asked for;
- shared memory: warp requests and wavefronts (32 banks of 4 bytes; 8-byte accesses in two
  half-warp phases, 16-byte ones in four quarter-warp phases), with the ideal count
  ceil(distinct bytes / 128);
- requests by access width, bytes by level, the global sectors a launch touches at least once
  (its compulsory DRAM traffic) and those each block loads (its L1 misses, without reuse between
  blocks);
- the global counts per kernel argument, to tell which array's accesses carry the sectors.

Public so that tools (the kernel-resource table, the device model of ``specsep.tools.roofline``)
read the counts without private modules. Profiling is off unless asked for: the default module
contains none of the counting code. ``SPECSEP_EMU_PROFILE=1`` profiles every emulator launch of a
process (``SPECSEP_EMU_PROFILE=path.json`` also writes a per-kernel summary there at exit).

Example::

    with specsep.emu_profile.recording() as launches:
        specsep.stft(x, n_fft=2048, backend="cuda-emu")
    for name, totals in specsep.emu_profile.by_kernel(launches).items():
        print(name, totals.global_load.units_per_request, totals.shared_load.units_per_request)
"""

from __future__ import annotations

import contextlib

from ._cuda.profile_counts import LEVELS, WIDTHS, KernelTotals, Traffic, by_kernel

__all__ = ["LEVELS", "WIDTHS", "KernelTotals", "Traffic", "by_kernel", "recording"]

@contextlib.contextmanager
def recording():
    """Profiles the ``cuda-emu`` backend's launches within the block.

    Yields a list that holds, after the block, one dict per launch: ``kernel``, ``grid``,
    ``block``, ``shared_mem``, ``local_accesses`` (accesses outside shared memory and the launch's
    arrays: the thread's stack, constant tables), ``unique_sectors_load``/``_store``,
    ``block_load_sectors``, for each
    of :data:`LEVELS`, ``requests``, ``bytes``, ``units``, ``ideal_units``, ``lines`` and ``by_width``,
    and ``global_by_arg``: the global counts per argument position, ``{position: {"load": ...,
    "store": ...}}``.
    Raises ValueError when this build has no profiling module.
    """
    from ._backends import _load

    try:
        from . import _emu_profile  # noqa: F401
    except ImportError:
        raise ValueError("this build has no emulator profiling module (configure with "
                         "SPECSEP_BUILD_EMU_PROFILE=ON)") from None
    with _load("cuda-emu").launcher.profiling() as launches:
        yield launches
