"""specsep.dask on the device path, through cuda-emu workers: chunks in (emulated) device memory
run on the device backend of their worker by their kind, host chunks named to the device backend
are staged in blocks, both equal to the in-memory calls, with the device memory of a worker
bounded by the free memory whatever the chunk size; and ``specsep oracle --scheduler`` with
device workers gives the scores of --backend cpu."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import RTOL, assert_close, assert_same_bits, results_rows, run_cli

import specsep
from specsep import _backends

da = pytest.importorskip("dask.array")
sd = pytest.importorskip("specsep.dask")
pytestmark = pytest.mark.skipif("cuda-emu" not in specsep.available_backends(), reason="cuda-emu not built")

KW = dict(n_fft=256, hop_length=64)


@pytest.fixture
def emulator():
    return _backends.select("cuda-emu")


def _signals(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_device_chunks_run_on_the_device_backend(emulator):
    """The CuPy-chunk case: chunks in the emulator's device memory pick cuda-emu by their kind
    (backend=None) and give device chunks back, equal to the in-memory call."""
    x = _signals((6, 3000))
    lazy = da.from_array(x, chunks=(2, -1)).map_blocks(emulator.xp.asarray, dtype=x.dtype,
                                                        meta=emulator.xp.empty((0, 0), x.dtype))
    X_lazy = sd.stft(lazy, **KW)
    assert type(X_lazy._meta) is type(emulator.xp.empty(0))
    blocks = X_lazy.to_delayed().ravel()
    assert all(type(block.compute(scheduler="synchronous")) is type(X_lazy._meta) for block in blocks)
    X = specsep.stft(x, **KW, backend="cuda-emu")
    assert_same_bits(np.asarray(X_lazy.compute(scheduler="synchronous")), X, "stft of device chunks")
    M = emulator.xp.asarray(np.random.default_rng(1).random((6, 2) + X.shape[-2:]).astype(np.float32))
    separated = sd.separate(lazy, da.from_array(M, chunks=(2, 2, -1, -1), asarray=False), **KW)
    assert_same_bits(np.asarray(separated.compute(scheduler="synchronous")),
                     specsep.separate(x, np.asarray(M), **KW, backend="cuda-emu"), "separate of device chunks")


def test_host_chunks_on_the_device_backend_stay_within_device_memory(emulator, monkeypatch):
    """Chunks of 3.2 MB (13 MB of spectrogram) with 1 MiB of device memory free: each task stages
    its chunk through the device in blocks, and the device never holds more than the free memory."""
    x = _signals((4, 400_000))
    expected = specsep.stft(x, **KW, backend="cpu")
    monkeypatch.setattr(emulator.launcher, "device_memory", 2**20)
    held = emulator.xp.in_use
    emulator.xp.reset_peak()
    X = sd.stft(da.from_array(x, chunks=(2, -1)), **KW, backend="cuda-emu").compute(scheduler="synchronous")
    assert type(X) is np.ndarray
    assert_close(X, expected, RTOL[x.dtype])
    assert emulator.xp.peak - held <= 2**20 < x.nbytes // 2


def test_oracle_on_a_cluster_of_device_workers(tmp_path, monkeypatch):
    """`specsep oracle --scheduler ADDRESS --backend cuda-emu`: every worker separates on its
    (emulated) device; the scores are those of --backend cpu."""
    distributed = pytest.importorskip("distributed")
    sf = pytest.importorskip("soundfile")
    rng = np.random.default_rng(0)
    for k in range(2):
        track = tmp_path / "data" / f"t{k}"
        track.mkdir(parents=True)
        stems = (0.3 * rng.standard_normal((2, 8000, 2))).astype(np.float32)
        sf.write(track / "mix.wav", stems.sum(axis=0), 8000, subtype="FLOAT")
        for j, name in enumerate(("a", "b")):
            sf.write(track / f"{name}.wav", stems[j], 8000, subtype="FLOAT")
    code, _, stderr = run_cli(["oracle", str(tmp_path / "data"), "--backend", "cpu", "--out", str(tmp_path / "cpu")])
    assert code == 0, stderr
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        code, stdout, stderr = run_cli(["oracle", str(tmp_path / "data"), "--scheduler", cluster.scheduler_address,
                                        "--backend", "cuda-emu", "--out", str(tmp_path / "device")])
    assert code == 0, stderr
    assert f"on the Dask cluster at {cluster.scheduler_address}" in stdout
    for cpu, device in zip(results_rows(tmp_path / "cpu"), results_rows(tmp_path / "device")):
        assert (cpu["track"], cpu["source"]) == (device["track"], device["source"])
        assert abs(float(cpu["si_sdr"]) - float(device["si_sdr"])) < 1e-3, (cpu, device)
