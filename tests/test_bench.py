"""The benchmark harness (specsep.tools.bench, bench/run.py, specsep bench) on tiny sizes: structure of
its report, JSON and plot, every implementation present, and its output checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import import_torch

from specsep.tools import bench as _bench
from specsep.tools.bench import harness, peers, signals, workloads
from specsep.tools.cli import main as specsep_main

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--quick", "--repeats", "1", "--warmup", "0", "--threads", "1", "--quiet"]
IMPLEMENTATIONS = [i.key for i in peers.all_implementations()]
LABELS = [i.label for i in peers.all_implementations()]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick run of every workload and implementation, with every output file."""
    out = tmp_path_factory.mktemp("bench")
    paths = {"json": out / "bench.json", "plot": out / "bench.png", "markdown": out / "bench.md"}
    argv = FAST + [arg for kind, path in paths.items() for arg in (f"--{kind}", str(path))]
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = _bench.main(argv)
    return code, stdout.getvalue(), paths


def test_quick_run_succeeds_and_checks_every_output(quick_run):
    code, _, paths = quick_run
    assert code == 0
    data = json.loads(paths["json"].read_text())
    cells = {(r["workload"], r["implementation"]): r for r in data["results"]}
    assert set(cells) == {(w, i) for w in workloads.KEYS for i in IMPLEMENTATIONS}
    for impl in peers.all_implementations():
        for w in workloads.KEYS:
            cell = cells[(w, impl.key)]
            if impl.available() is not None:
                assert cell["skipped"] and cell["seconds"] is None
                continue
            assert cell["skipped"] is None, cell
            assert cell["ok"] is True, cell
            assert cell["seconds"] > 0 and len(cell["times"]) == 1
            assert cell["audio_seconds_per_second"] > 0
            if w == "W4":
                assert 0 < cell["spectral_convergence"] < 1
            else:
                assert cell["error"] < workloads.CHECK_RTOL


def test_json_describes_machine_settings_workloads_and_summary(quick_run):
    _, _, paths = quick_run
    data = json.loads(paths["json"].read_text())
    assert set(data) == {"machine", "settings", "workloads", "results", "summary"}
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert {"numpy", "specsep", "specsep_kernels"} <= set(data["machine"]["versions"])
    assert data["settings"]["quick"] is True and data["settings"]["repeats"] == 1
    assert [w["key"] for w in data["workloads"]] == list(workloads.KEYS)
    assert all(w["audio_seconds"] > 0 for w in data["workloads"])
    assert [s["workload"] for s in data["summary"]] == list(workloads.KEYS)
    for row in data["summary"]:
        assert row["fastest_peer"] not in ("specsep-cpu", "specsep-numpy")
        assert row["speedup"] == pytest.approx(row["fastest_peer_seconds"] / row["specsep_cpu_seconds"])
        assert row["meets_goal"] == (row["speedup"] >= 2.0)


def test_markdown_tables_name_every_implementation_and_workload(quick_run):
    _, stdout, paths = quick_run
    markdown = paths["markdown"].read_text()
    for text in (stdout, markdown):
        assert "machine: " in text
        tables = [line for line in text.splitlines() if line.startswith("| ")]
        for label in LABELS:
            assert sum(line.startswith(f"| {label} |") for line in tables) == 2, label  # times, agreement
        for w in workloads.select(quick=True):
            assert sum(line.startswith(f"| {w.key} {w.title} |") for line in tables) == 1  # speed-up
        assert "| implementation | W1 STFT | W2 " in text
    command = next(line for line in markdown.splitlines() if line.startswith("command: `python bench/run.py "))
    for option in ("--quick", "--repeats 1", "--warmup 0", "--threads 1", "--json "):
        assert option in command


def test_plot_is_a_png(quick_run):
    pytest.importorskip("matplotlib")
    _, _, paths = quick_run
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_specsep_bench_subcommand(capsys):
    code = specsep_main(["bench", *FAST, "--workloads", "W3", "--implementations", "specsep-cpu,numpy-scipyfft"])
    out = capsys.readouterr().out
    assert code == 0
    assert "command: specsep bench --workloads W3 --implementations specsep-cpu,numpy-scipyfft" in out
    assert "| W3 STFT + iSTFT |" in out and "| numpy + scipy.fft |" in out and "| torch |" not in out


def test_bench_script_runs_from_a_checkout():
    # whichever specsep this interpreter imports (installed, or the checkout on PYTHONPATH): the
    # script itself prefers the checkout only when its python/specsep holds built kernels
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), *FAST, "--workloads", "W1", "--implementations", "specsep-cpu"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "| specsep cpu | 0." in result.stdout


@pytest.mark.parametrize("argv, message", [
    (["--workloads", "W9"], "unknown workload W9"),
    (["--implementations", "matlab"], "unknown implementation matlab"),
    (["--repeats", "0"], "must be an integer >= 1"),
])
def test_bad_arguments_exit_2_naming_the_option(argv, message, capsys):
    assert specsep_main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err


class _WrongWindow(peers.NumpyScipyFFT):
    """A peer computing something else: its window is scaled as scipy's ``scale_to='magnitude'``."""

    key = "wrong-window"
    label = "wrong window"

    def _win(self, w):
        win = super()._win(w)
        return win / win.sum()


def test_a_peer_that_computes_something_else_is_caught():
    chosen = workloads.select(["W1", "W3"], quick=True)
    cells = harness.run(chosen, [peers.Specsep("cpu"), _WrongWindow()], threads=1, warmup=0, repeats=1,
                        verbose=False)
    by = {(c.workload, c.implementation): c for c in cells}
    assert by[("W1", "specsep-cpu")].ok and by[("W3", "specsep-cpu")].ok
    assert by[("W1", "wrong-window")].ok is False  # scaled spectrogram
    assert by[("W3", "wrong-window")].ok is True  # a scaled window still inverts its own STFT


def test_signals_are_seeded_and_music_like():
    a = signals.sources(1, 2, 4, 0.5, 16000, seed=3)
    b = signals.sources(1, 2, 4, 0.5, 16000, seed=3)
    assert a.dtype == np.float32 and a.shape == (1, 2, 4, 8000)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, signals.sources(1, 2, 4, 0.5, 16000, seed=4))
    # Harmonic sources: a few spectral peaks hold most of the energy (white noise spreads it).
    power = np.abs(np.fft.rfft(a[0, 0, 1])) ** 2  # bass
    top = np.sort(power)[::-1]
    assert top[: power.size // 50].sum() > 0.8 * power.sum()


def test_workloads_keep_their_parameters_when_quick():
    for full, quick in zip(workloads.select(), workloads.select(quick=True)):
        assert (quick.n_fft, quick.hop, quick.window, quick.pad_mode, quick.n_iter, quick.momentum) == (
            full.n_fft, full.hop, full.window, full.pad_mode, full.n_iter, full.momentum)
        assert quick.audio_seconds < full.audio_seconds
    w1 = workloads.select(["W1"])[0]
    assert (w1.batch, w1.seconds, w1.sr, w1.n_fft, w1.hop, w1.pad_mode) == ((16, 2), 10.0, 44100, 2048, 512, "reflect")


class _Broken(peers.NumpyScipyFFT):
    key = "broken"
    label = "broken"

    def stft(self, w, x):
        raise RuntimeError("no STFT today")


def test_a_failing_implementation_is_reported_and_the_others_run():
    chosen = workloads.select(["W1"], quick=True)
    cells = harness.run(chosen, [_Broken(), peers.Specsep("cpu")], threads=1, warmup=1, repeats=2, verbose=False)
    broken, cpu = cells
    assert broken.skipped == "failed: RuntimeError: no STFT today" and broken.seconds is None
    assert cpu.ok and len(cpu.times) == 2 and cpu.seconds == pytest.approx(np.median(cpu.times))


class _LayoutSpy(peers.Specsep):
    """specsep cpu, recording the strides of the spectrograms it is given."""

    def __init__(self):
        super().__init__("cpu")
        self.seen = {}

    def istft(self, w, X, length):
        self.seen[w.key] = X.strides
        return super().istft(w, X, length)

    def separate_stfts(self, w, S, mix):
        self.seen[w.key] = S.strides
        return super().separate_stfts(w, S, mix)


def test_layout_workloads_hand_every_implementation_the_other_librarys_layout():
    """W2L and W5L give librosa.stft's layout (its strides, checked against librosa itself), W2T
    torch.stft's, to every implementation; the summary sets specsep's time against its own layout's."""
    librosa = pytest.importorskip("librosa")
    torch = import_torch()
    chosen = workloads.select(["W2", "W2L", "W2T", "W5L"], quick=True)
    spy = _LayoutSpy()
    cells = harness.run(chosen, [spy], threads=1, warmup=0, repeats=1, verbose=False)
    assert all(c.ok for c in cells)
    w = chosen[1]
    x = np.zeros(w.batch + (w.samples,), np.float32)
    assert spy.seen["W2L"] == librosa.stft(x, n_fft=w.n_fft, hop_length=w.hop).strides
    X = torch.stft(torch.from_numpy(x.reshape(-1, w.samples)), w.n_fft, w.hop, return_complex=True,
                   window=torch.hann_window(w.n_fft))
    itemsize = X.element_size()
    assert spy.seen["W2T"][-2:] == tuple(s * itemsize for s in X.stride()[-2:])
    sources = np.zeros(w.batch + (4, w.samples), np.float32)
    assert spy.seen["W5L"] == librosa.stft(sources, n_fft=w.n_fft, hop_length=w.hop).strides
    (_, w2l, w2t, _) = harness.summarize(chosen, cells)
    by = {c.workload: c.seconds for c in cells}
    assert w2l["vs_own_layout"] == pytest.approx(by["W2L"] / by["W2"])
    assert w2t["vs_own_layout"] == pytest.approx(by["W2T"] / by["W2"])


class _OrderSpy(peers.Specsep):
    """specsep cpu, recording which workload each run belongs to, in order."""

    def __init__(self):
        super().__init__("cpu")
        self.order = []

    def istft(self, w, X, length):
        self.order.append(w.key)
        return super().istft(w, X, length)

    def separate_stfts(self, w, S, mix):
        self.order.append(w.key)
        return super().separate_stfts(w, S, mix)


def test_layout_workloads_run_in_the_rounds_of_their_base():
    """vs_own_layout compares runs made side by side: W2L and W2T share W2's rounds; W5L, whose
    base W5 is not chosen, runs alone; the cells still come back in the workloads' order."""
    chosen = workloads.select(["W2", "W2L", "W2T", "W5L"], quick=True)
    spy = _OrderSpy()
    cells = harness.run(chosen, [spy], threads=1, warmup=1, repeats=2, verbose=False)
    assert spy.order == ["W2", "W2L", "W2T"] * 3 + ["W5L"] * 3
    assert [c.workload for c in cells] == ["W2", "W2L", "W2T", "W5L"]
