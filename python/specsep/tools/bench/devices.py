"""Where an implementation's arrays live, and how the harness waits for them.

The harness talks to a device through three calls: ``put`` (an input, before timing), ``synchronize``
(before and after every timed run: GPU work is asynchronous, so the clock would otherwise stop when
the work is queued, not done) and ``fetch`` (an output back to NumPy, after timing, for the check).
On the host all three do nothing. Nothing here imports CuPy or torch until a device is used.
"""

from __future__ import annotations

import importlib.util

import numpy as np

NO_DEVICE = "no CUDA device (cupy.cuda.is_available() is False)"


def dense_order(array) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The axis order that makes ``array`` C-contiguous if it is a permuted contiguous array
    (a transposed view), and the order that undoes it: ``array.transpose(order)`` is contiguous
    in memory, ``that.transpose(undo)`` is ``array`` again, with ``array``'s memory layout."""
    order = tuple(sorted(range(array.ndim), key=lambda axis: -abs(array.strides[axis])))
    undo = tuple(int(i) for i in np.argsort(order))
    return order, undo


def put_keeping_layout(array, copy, permute):
    """``array`` copied by ``copy`` (a contiguous NumPy array -> a device array) with its memory
    layout kept: a frame-major spectrogram (a transposed view) stays frame-major on the device, so
    that no implementation pays a layout copy inside its timed call that it would not pay on its own
    outputs. ``permute(device_array, axes)`` is the device library's transpose."""
    order, undo = dense_order(array)
    return permute(copy(np.ascontiguousarray(array.transpose(order))), undo)


class Host:
    """NumPy arrays in host memory: nothing to move, nothing to wait for."""

    name = "host"
    on_device = False

    def put(self, array):
        return array

    def synchronize(self) -> None:
        pass

    def fetch(self, out):
        return out


class Cupy:
    """CuPy arrays on the current CUDA device; waits on CuPy's current stream (where specsep's
    ``cuda`` backend and cupyx issue their work)."""

    name = "cupy"
    on_device = True

    def put(self, array):
        import cupy

        return put_keeping_layout(array, cupy.asarray, lambda a, axes: a.transpose(axes))

    def synchronize(self) -> None:
        import cupy

        cupy.cuda.get_current_stream().synchronize()

    def fetch(self, out):
        import cupy

        return cupy.asnumpy(out)


class TorchCuda:
    """torch tensors on the current CUDA device; waits for every torch stream
    (``torch.cuda.synchronize()``)."""

    name = "torch-cuda"
    on_device = True

    def put(self, array):
        import torch

        return put_keeping_layout(array, lambda a: torch.from_numpy(a).to("cuda"), lambda t, axes: t.permute(*axes))

    def synchronize(self) -> None:
        import torch

        torch.cuda.synchronize()

    def fetch(self, out):
        return out.cpu().numpy()


HOST, CUPY, TORCH_CUDA = Host(), Cupy(), TorchCuda()


def cuda_missing() -> str | None:
    """``None`` where CuPy reaches a CUDA device, else why not (one line)."""
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed (pip install 'specsep[cuda13]' or 'specsep[cuda12]')"
    try:
        import cupy

        if not cupy.cuda.is_available():
            return NO_DEVICE
    except Exception as error:  # noqa: BLE001 - CuPy raises driver errors of several kinds
        return f"CuPy cannot reach a CUDA device ({type(error).__name__}: {error})"
    return None


def torch_cuda_missing() -> str | None:
    """``None`` where torch reaches a CUDA device, else why not."""
    if importlib.util.find_spec("torch") is None:
        return "torch not installed"
    import torch

    if torch.version.cuda is None:
        return f"this torch build has no CUDA (torch {torch.__version__})"
    if not torch.cuda.is_available():
        return "torch finds no CUDA device (torch.cuda.is_available() is False)"
    return None


def describe() -> dict:
    """The CUDA device CuPy uses (call only where :func:`cuda_missing` is ``None``)."""
    import cupy

    runtime = cupy.cuda.runtime
    device = runtime.getDevice()
    props = runtime.getDeviceProperties(device)
    name = props["name"]
    info = {
        "name": name.decode() if isinstance(name, bytes) else str(name),
        "index": device,
        "memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
        "compute_capability": f"{props['major']}.{props['minor']}",
        "multiprocessors": props["multiProcessorCount"],
        "cuda_runtime": _cuda_version(runtime.runtimeGetVersion()),
        "cuda_driver": _cuda_version(runtime.driverGetVersion()),
        "cupy": cupy.__version__,
        "torch_cuda": None,
    }
    if torch_cuda_missing() is None:
        import torch

        info["torch_cuda"] = torch.version.cuda
    return info


def _cuda_version(number: int) -> str:
    return f"{number // 1000}.{number % 1000 // 10}"


def device_line(info: dict) -> str:
    torch = f", torch with CUDA {info['torch_cuda']}" if info["torch_cuda"] else ""
    return (f"{info['name']} (device {info['index']}, {info['memory_gib']} GiB, compute capability "
            f"{info['compute_capability']}, {info['multiprocessors']} SMs); CUDA runtime {info['cuda_runtime']}, "
            f"driver {info['cuda_driver']}; CuPy {info['cupy']}{torch}")
