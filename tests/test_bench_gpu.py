"""The GPU run of the benchmark (``bench/run.py --gpu``, ``specsep bench --gpu``).

Without a device: it prints why nothing was measured and the predicted H100 times, and exits 0.
The GPU path's logic runs here too, without a GPU: the harness's device protocol (synchronise
around each timed run, inputs put before timing, outputs fetched after) with a recording device;
specsep cuda's implementation on the emulated backend (cuda-emu); torch's on-device code on CPU
tensors; the cupyx.scipy.signal peer's settings on cupyx's own stft/istft source run over NumPy.
The real run is marked gpu.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import io
import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from conftest import import_torch

import specsep
from specsep.tools import bench as _bench
from specsep.tools.bench import devices, gpu_peers, harness, peers, predictions, workloads
from specsep.tools import roofline
from specsep.tools.cli import main as specsep_main

FAST = ["--quick", "--repeats", "1", "--warmup", "0", "--threads", "1", "--quiet"]
GPU_KEYS = ["specsep-cuda", "torch-cuda", "cupyx-signal"]


def _main(argv):
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = _bench.main(argv)
    return code, stdout.getvalue()


@pytest.fixture
def no_device(monkeypatch):
    """The line the run prints where it measures nothing: CuPy's own answer made False."""
    if importlib.util.find_spec("cupy") is None:
        return "not measured: CuPy is not installed"
    import cupy

    monkeypatch.setattr(cupy.cuda, "is_available", lambda: False)
    return f"not measured: {devices.NO_DEVICE}"


# ---- without a device ---------------------------------------------------------------------------


def test_without_a_device_it_says_so_prints_the_predictions_and_exits_0(no_device, tmp_path):
    paths = {"json": tmp_path / "gpu.json", "markdown": tmp_path / "gpu.md", "plot": tmp_path / "gpu.png"}
    code, out = _main(["--gpu", *FAST, *(a for kind, p in paths.items() for a in (f"--{kind}", str(p)))])
    assert code == 0
    lines = out.splitlines()
    assert "device: none" in lines
    assert [line for line in lines if line.startswith("not measured: ")] == [next(
        line for line in lines if line.startswith(no_device))]
    if no_device.endswith(devices.NO_DEVICE):
        assert "not measured: no CUDA device (cupy.cuda.is_available() is False)" in out.splitlines()
    rows = [line for line in out.splitlines() if line.startswith("| W")]
    assert [row.split(" | ")[0] for row in rows] == [f"| {w.key} {w.title}" for w in workloads.select(quick=True)]
    assert "Predicted H100 times" in out and "| specsep cuda |" not in out  # no measured rows
    assert "command: python bench/run.py --gpu --repeats 1 " in out
    markdown = paths["markdown"].read_text()
    assert no_device in markdown and "command: `python bench/run.py --gpu" in markdown
    data = json.loads(paths["json"].read_text())
    assert data["results"] == [] and data["settings"]["gpu"] is True
    assert data["gpu"]["device"] is None and data["gpu"]["not_measured"].startswith(no_device)
    assert [row["workload"] for row in data["gpu"]["predictions"]] == list(workloads.KEYS)
    assert not paths["plot"].exists()


def test_specsep_bench_gpu_subcommand_without_a_device(no_device, capsys):
    assert specsep_main(["bench", "--gpu", "--workloads", "W1,W4", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "command: specsep bench --workloads W1,W4 --gpu --quiet" in out and no_device in out
    assert "| W1 STFT | 282.6 | 1 | 0.088 | 1,469.4 | 4 | 0.45 | 5.1x |" in out  # full size: README's figures


@pytest.mark.parametrize("argv, message", [
    (["--gpu", "--implementations", "torch"], "torch not in the GPU run; choose from " + ",".join(GPU_KEYS)),
    (["--implementations", "specsep-cuda"], "specsep-cuda not in the CPU run (use --gpu)"),
])
def test_implementations_of_the_other_run_exit_2(argv, message, capsys):
    assert specsep_main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err


# ---- the GPU implementations and predictions ------------------------------------------------------


def test_gpu_implementations():
    impls = gpu_peers.gpu_implementations()
    assert [i.key for i in impls] == GPU_KEYS
    assert [i.label for i in impls] == ["specsep cuda", "torch cuda", "cupyx.scipy.signal"]
    assert [i.specsep for i in impls] == [True, False, False]
    assert [i.device for i in impls] == [devices.CUPY, devices.TORCH_CUDA, devices.CUPY]
    assert all(i.device.on_device for i in impls)
    w4 = workloads.select(["W4"])[0]
    assert [i.skip_reason(w4) for i in impls] == [None, None, "cupyx.scipy.signal has no Griffin-Lim"]
    assert all(i.skip_reason(w) is None for i in impls for w in workloads.select() if w.kind != "griffinlim")
    if devices.cuda_missing() is not None:
        for impl in impls:
            assert impl.available(), impl.key  # says why it cannot run
    # The CPU run is unchanged: torch on the host, no GPU implementation.
    assert [i.key for i in peers.all_implementations()][-1] == "torch"
    assert peers.all_implementations()[-1].device is devices.HOST


def test_predictions_are_the_roofline_of_each_workload():
    full = {w.key: w for w in workloads.select()}
    by_name = dict(roofline.workloads())
    named = {"W1": next(v for k, v in by_name.items() if k.startswith("W1")),
             "W2": by_name["W2 iSTFT of W1"], "W4": next(v for k, v in by_name.items() if k.startswith("W4"))}
    for key, expected in named.items():
        assert predictions.costs(full[key]) == expected
    w3 = full["W3"]
    forward, inverse = (roofline.stft_costs(64, w3.samples, 512, 128), roofline.istft_costs(64, w3.samples, 512, 128))
    ours, torch = predictions.costs(w3)
    assert ours.bytes == forward[0].bytes + inverse[0].bytes
    assert torch.launches == forward[1].launches + inverse[1].launches
    for w in workloads.select() + workloads.select(quick=True):
        ours, torch = predictions.costs(w)
        assert 0 < ours.seconds() < torch.seconds() and ours.bytes < torch.bytes
    rows = predictions.rows(workloads.select(quick=True))
    assert [r["workload"] for r in rows] == list(workloads.KEYS)
    assert all(math.isclose(r["specsep"]["seconds"], predictions.costs(w)[0].seconds())
               for r, w in zip(rows, workloads.select(quick=True)))


def test_dense_order_keeps_the_memory_layout():
    X = np.zeros((2, 3, 5, 7), dtype=np.complex64).swapaxes(-1, -2)  # frame-major, as specsep returns
    order, undo = devices.dense_order(X)
    assert order == (0, 1, 3, 2) and X.transpose(order).flags.c_contiguous
    copied = devices.put_keeping_layout(X, np.array, np.transpose)
    assert copied.shape == X.shape and copied.strides == X.strides and copied is not X


# ---- the device protocol of the harness, with a recording device -----------------------------------


class _Recording(devices.Host):
    on_device = True

    def __init__(self):
        self.events = []

    def put(self, array):
        self.events.append("put")
        return np.array(array)

    def synchronize(self):
        self.events.append("sync")

    def fetch(self, out):
        self.events.append("fetch")
        return out


class _RecordedPeer(peers.NumpyScipyFFT):
    key = "recorded"
    label = "recorded"

    def __init__(self):
        self.device = _Recording()

    def stft(self, w, x):
        self.device.events.append("run")
        return super().stft(w, x)


def test_each_timed_run_is_between_two_synchronisations_inputs_put_before_outputs_fetched_after():
    impl = _RecordedPeer()
    (cell,) = harness.run(workloads.select(["W1"], quick=True), [impl], threads=1, warmup=1, repeats=2, verbose=False)
    assert cell.ok and len(cell.times) == 2
    run = ["sync", "run", "sync"]
    assert impl.device.events == ["put", *run, "fetch", *run, *run]  # warm-up checked, then two timed runs


# ---- the GPU implementations' code, run without a GPU ------------------------------------------------


class _HostAsDevice(devices.Host):
    """Host arrays treated as device arrays: inputs put (and Griffin-Lim's phases drawn) before timing."""

    on_device = True


def test_specsep_cuda_implementation_on_the_emulated_backend():
    if "cuda-emu" not in specsep.available_backends():
        pytest.skip("this build has no emulator")
    impl = gpu_peers.SpecsepCuda("cuda-emu")
    on_device = gpu_peers.SpecsepCuda("cuda-emu")
    on_device.device = _HostAsDevice()
    on_device.key = "given-phases"
    cells = harness.run(workloads.select(quick=True), [impl, on_device], threads=1, warmup=0, repeats=1,
                        verbose=False)
    assert all(c.ok for c in cells), [(c.workload, c.implementation, c.skipped) for c in cells if not c.ok]
    # W4 under the public function, its phases given, equals the public function.
    w = workloads.select(["W4"], quick=True)[0]
    S = workloads.make_inputs(w)["S"]
    ours = on_device.bind(w, {"S": S})()
    public = specsep.griffin_lim(S, w.n_iter, **w.stft_args, pad_mode=w.pad_mode, length=w.samples,
                                 momentum=w.momentum, init="random", rng=workloads.GL_SEED, backend="cuda-emu")
    np.testing.assert_array_equal(ours, public)


def test_ideal_ratio_xp_is_specsep_ideal_ratio():
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((2, 4, 9, 5)) + 1j * rng.standard_normal((2, 4, 9, 5))).astype(np.complex64)
    X[..., 0] = 0  # silent bins: 1 / J
    M = gpu_peers.ideal_ratio_xp(X, np)
    assert M.dtype == np.float32
    np.testing.assert_allclose(M, specsep.masks.ideal_ratio(X), rtol=1e-6)
    np.testing.assert_array_equal(M[..., 0], 0.25)


def test_torch_on_device_code_on_cpu_tensors():
    torch = import_torch()
    impl = peers.Torch("cpu")
    impl.device = _HostAsDevice()
    impl.device.put = lambda a: devices.put_keeping_layout(a, torch.from_numpy, lambda t, axes: t.permute(*axes))
    impl.device.fetch = lambda t: t.numpy()
    impl.key = "torch-as-device"
    cells = harness.run(workloads.select(quick=True), [impl], threads=1, warmup=0, repeats=1, verbose=False)
    assert all(c.ok for c in cells), [(c.workload, c.skipped) for c in cells if not c.ok]
    X = impl.device.put(np.zeros((2, 5, 7), np.complex64).swapaxes(-1, -2))
    assert X.stride() == (35, 1, 7)  # frame-major kept


def _cupyx_on_numpy():
    """cupyx.scipy.signal's stft/istft, their own source, over NumPy (a CuPy stand-in), as modules."""
    spec = importlib.util.find_spec("cupyx")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("cupyx not installed")
    folder = Path(spec.submodule_search_locations[0]) / "scipy" / "signal"
    cupy = types.ModuleType("cupy")
    cupy.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    cupy.__getattr__ = lambda name: getattr(np, name)
    cupy.asnumpy = np.asarray
    cupy.RawModule = lambda **kwargs: None
    cupy.cuda = types.SimpleNamespace(is_available=lambda: True,
                                      get_current_stream=lambda: types.SimpleNamespace(synchronize=lambda: None))
    modules = {"cupy": cupy}
    for name in ("cupyx", "cupyx.scipy", "cupyx.scipy.signal", "cupyx.scipy.signal.windows",
                 "cupyx.scipy.signal.windows._windows", "cupyx.scipy.signal._signaltools"):
        modules[name] = types.ModuleType(name)
    modules["cupyx.scipy.signal.windows._windows"].get_window = None  # only for named windows
    for parent, child in (("cupyx", "scipy"), ("cupyx.scipy", "signal"), ("cupyx.scipy.signal", "windows"),
                          ("cupyx.scipy.signal", "_signaltools"), ("cupyx.scipy.signal.windows", "_windows")):
        setattr(modules[parent], child, modules[f"{parent}.{child}"])
    return folder, modules


def test_cupyx_peer_settings_make_cupyx_stft_istft_specsep(monkeypatch):
    folder, modules = _cupyx_on_numpy()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    for name in ("_arraytools", "_spectral_impl", "_spectral"):
        module = types.ModuleType(f"cupyx.scipy.signal.{name}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile((folder / f"{name}.py").read_text(), str(folder / f"{name}.py"), "exec"), module.__dict__)
        if name == "_arraytools":  # CuPy's view constructor, as NumPy's
            module._as_strided = lambda x, shape=None, strides=None: np.lib.stride_tricks.as_strided(x, shape, strides)
    signal = modules["cupyx.scipy.signal"]
    signal.stft, signal.istft = sys.modules["cupyx.scipy.signal._spectral"].stft, sys.modules[
        "cupyx.scipy.signal._spectral"].istft

    impl = gpu_peers.CupyxSignal()
    assert impl.available() is None
    cells = harness.run(workloads.select(quick=True), [impl], threads=1, warmup=0, repeats=1, verbose=False)
    by = {c.workload: c for c in cells}
    assert by["W4"].skipped == "cupyx.scipy.signal has no Griffin-Lim"
    for key in ("W1", "W2", "W3", "W5"):
        assert by[key].ok and by[key].error < 1e-6 and not by[key].interior, by[key]


def test_the_measured_report_with_a_stand_in_device(monkeypatch, tmp_path):
    """The report of a run with a device, the device faked: specsep cuda is the emulated backend
    under the cuda name, the peer torch on the host."""
    if "cuda-emu" not in specsep.available_backends():
        pytest.skip("this build has no emulator")
    import_torch()
    stand_in = gpu_peers.SpecsepCuda("cuda-emu")
    stand_in.key, stand_in.label = "specsep-cuda", "specsep cuda"
    monkeypatch.setattr(gpu_peers, "gpu_implementations", lambda: [stand_in, peers.Torch("cpu")])
    monkeypatch.setattr(devices, "cuda_missing", lambda: None)
    monkeypatch.setattr(devices, "describe", lambda: {
        "name": "Stand-in GPU", "index": 0, "memory_gib": 1.0, "compute_capability": "9.0", "multiprocessors": 1,
        "cuda_runtime": "13.0", "cuda_driver": "13.0", "cupy": "0", "torch_cuda": None})
    path = tmp_path / "gpu.json"
    code, out = _main(["--gpu", *FAST, "--workloads", "W1,W4", "--json", str(path)])
    assert code == 0, out
    assert "device: Stand-in GPU (device 0, 1.0 GiB, compute capability 9.0, 1 SMs)" in out
    assert "specsep cuda against the fastest GPU peer, measured on Stand-in GPU" in out
    assert "not measured" not in out and devices.NO_DEVICE not in out
    lines = out.splitlines()
    for label in ("specsep cuda", "torch"):
        assert sum(line.startswith(f"| {label} | ") for line in lines) == 2  # seconds, agreement
    for w in workloads.select(["W1", "W4"], quick=True):
        ours, torch = predictions.costs(w)
        row = next(line for line in lines if line.startswith(f"| {w.key} {w.title} | ") and " | torch | " in line)
        assert row.endswith(f" | {torch.seconds() / ours.seconds():.1f}x |")
    data = json.loads(path.read_text())
    assert [s["workload"] for s in data["summary"]] == ["W1", "W4"]
    for row in data["summary"]:
        assert row["fastest_peer"] == "torch" and row["meets_goal"] is None
        assert row["speedup"] == pytest.approx(row["fastest_peer_seconds"] / row["specsep_cuda_seconds"])
    assert data["gpu"]["device"]["name"] == "Stand-in GPU" and data["gpu"]["not_measured"] is None


# ---- on a GPU ---------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(devices.cuda_missing() is not None, reason="no CUDA device")
def test_gpu_run_quick(tmp_path):
    path = tmp_path / "gpu.json"
    code, out = _main(["--gpu", "--quick", "--repeats", "2", "--warmup", "1", "--quiet", "--json", str(path)])
    data = json.loads(path.read_text())
    failed = [(r["workload"], r["implementation"], r["skipped"]) for r in data["results"]
              if r["ok"] is False or (r["skipped"] or "").startswith("failed")]
    assert code == 0 and not failed, failed
    name = devices.describe()["name"]
    assert f"measured on {name}" in out and "not measured" not in out
    cells = {(r["workload"], r["implementation"]): r for r in data["results"]}
    for w in workloads.KEYS:
        assert cells[(w, "specsep-cuda")]["ok"] is True and cells[(w, "specsep-cuda")]["seconds"] > 0
    assert data["gpu"]["device"]["name"] == name
    assert [s["workload"] for s in data["summary"]] == list(workloads.KEYS)
