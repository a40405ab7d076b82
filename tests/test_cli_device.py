"""The file commands on the device backend, through cuda-emu (the code of --backend cuda): the
same results as --backend cpu within the float32 tolerance, the audio seconds per second
reported, and the bounded prefetch queue that reads the next batch while the device computes."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import results_rows, run_cli

import specsep
from specsep.tools.commands import prefetch

sf = pytest.importorskip("soundfile")

needs_emu = pytest.mark.skipif("cuda-emu" not in specsep.available_backends(), reason="cuda-emu not built")
SR = 8000
SOURCES = ("bass", "drums")


def _write_track(folder, seed, seconds=1.0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    stems = np.stack([0.3 * np.sin(2 * np.pi * 110 * (1 + seed) * t), 0.2 * rng.standard_normal(t.size)])
    stems = np.stack([stems, 0.7 * stems]).astype(np.float32)  # (channels, sources, samples)
    folder.mkdir(parents=True)
    sf.write(folder / "mix.wav", stems.sum(axis=1).T, SR, subtype="FLOAT")
    for j, name in enumerate(SOURCES):
        sf.write(folder / f"{name}.wav", stems[:, j].T, SR, subtype="FLOAT")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    for seed in range(3):
        _write_track(root / f"track{seed}", seed)
    return root


@needs_emu
def test_oracle_on_the_device_equals_cpu(dataset, tmp_path):
    runs = {}
    for backend in ("cpu", "cuda-emu"):
        code, stdout, stderr = run_cli(["oracle", str(dataset), "--backend", backend, "--batch", "2",
                                        "--out", str(tmp_path / backend)])
        assert code == 0, stderr
        assert "seconds of audio per second" in stdout
        runs[backend] = results_rows(tmp_path / backend)
    assert len(runs["cpu"]) == 6
    for cpu, device in zip(runs["cpu"], runs["cuda-emu"]):
        assert (cpu["track"], cpu["source"]) == (device["track"], device["source"])
        for score in ("si_sdr", "snr"):  # dB of float32 estimates: equal to ~1e-4 dB
            assert abs(float(cpu[score]) - float(device[score])) < 1e-3, (cpu, device)


def _relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@needs_emu
@pytest.mark.parametrize("command", ["griffinlim", "misi"])
def test_phase_retrieval_commands_on_the_device_equal_cpu(dataset, tmp_path, command):
    track = dataset / "track1"
    written = {}
    for backend in ("cpu", "cuda-emu"):
        if command == "griffinlim":
            out = tmp_path / f"{backend}.wav"
            argv = ["griffinlim", str(track / "bass.wav"), str(out)]
        else:
            out = tmp_path / backend
            argv = ["misi", str(track / "mix.wav"), str(track), str(out)]
        code, stdout, stderr = run_cli(argv + ["--n-iter", "4", "--backend", backend])
        assert code == 0, stderr
        assert f"on the {backend} backend" in stdout and "seconds of audio per second" in stdout
        written[backend] = sf.read(out if command == "griffinlim" else out / "bass.wav")[0]
    # float32 iterations: each backend rounds its own way, 4 iterations keep them within 1e-4
    assert _relative(written["cuda-emu"], written["cpu"]) < 1e-4


@needs_emu
def test_demo_runs_on_the_device(tmp_path):
    code, stdout, stderr = run_cli(["demo", "--seconds", "0.5", "--n-iter", "2", "--backend", "cpu,cuda-emu",
                                    "--out", str(tmp_path)])
    assert code == 0, stderr
    assert "seconds of audio per second, all methods: cpu " in stdout and ", cuda-emu " in stdout


# ---- the prefetch queue --------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [1, 3])
def test_prefetch_holds_at_most_depth_plus_one_items(depth):
    """Items loaded and not yet handed over never exceed depth + 1 (depth queued, one loaded and
    waiting to be queued), and the loader does run ahead: item 1 is loaded while item 0 is used."""
    loaded, lock = [], threading.Lock()
    ahead = threading.Event()
    in_flight = []

    def load(item):
        with lock:
            loaded.append(item)
            if item == 1:
                ahead.set()
        return item

    consumed = 0
    for item in prefetch.prefetched(range(20), load, depth):
        if item == 0:
            assert ahead.wait(timeout=30), "item 1 was not loaded while item 0 was being used"
        with lock:
            in_flight.append(len(loaded) - consumed - 1)  # beyond the item in hand
        consumed += 1
        assert item == consumed - 1
    assert consumed == 20
    assert 1 <= max(in_flight) <= depth + 1, in_flight


def test_prefetch_raises_a_load_error_at_its_item():
    def load(item):
        if item == 2:
            raise ValueError("bad file 2")
        return item

    got = []
    with pytest.raises(ValueError, match="bad file 2"):
        for item in prefetch.prefetched(range(5), load):
            got.append(item)
    assert got == [0, 1]


def test_prefetch_refuses_depth_0():
    with pytest.raises(ValueError, match=r"depth=0 must be >= 1"):
        next(prefetch.prefetched(range(3), lambda item: item, 0))
