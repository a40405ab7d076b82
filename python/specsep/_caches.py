"""``clear_caches``: one call that gives back the memory specsep keeps between calls."""

from __future__ import annotations

from . import _backends, _plan
from ._backends import cpu as cpu_backend


def clear_caches() -> int:
    """Release every cache specsep keeps between calls.

    specsep keeps, so that repeated calls with the same shapes run faster:

    - the ``cpu`` backend's output buffers, up to ``SPECSEP_BUFFER_CACHE_MB`` (default 1024) of
      freed result arrays waiting for a call that needs the same size;
    - the ``cpu`` backend's per-thread FFT scratch (a few MB per thread for common ``n_fft``);
    - the cached STFT plans (:class:`specsep.STFT` of the functions) and the C++ plans made from
      them (window, root table), and the window-sum-square envelope pieces (``O(n_fft)`` each);
    - the ``cuda`` / ``cuda-emu`` backends' per-plan device constants (window, root table).

    All of them are bounded; this frees them now, e.g. between the stages of a long job. The next
    call rebuilds what it needs. Compiled CUDA kernels are kept (one module per device, compiling
    it again takes seconds), and so is CuPy's own memory pool (``cupy.get_default_memory_pool()
    .free_all_blocks()`` releases it). Call it while no other thread runs a specsep function: it
    waits for the ``cpu`` backend's running tasks to finish with their scratch.

    Returns
    -------
    int
        Bytes of host memory released by the ``cpu`` backend (output buffers and FFT scratch).
    """
    _plan._cached.cache_clear()
    _plan._envelope_of_q_frames.cache_clear()
    cpu_backend._kernels.cache_clear()
    for backend in _backends.loaded():
        if hasattr(backend, "clear_constants"):
            backend.clear_constants()
    kernels = cpu_backend.kernels_module
    return int(kernels.clear_buffer_cache()) + int(kernels.clear_scratch())
