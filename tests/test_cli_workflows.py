"""The workflow commands end to end: ``specsep oracle`` on a dataset folder (layouts, batching,
failures, a Dask cluster, real music), ``specsep griffinlim`` and ``specsep misi`` on WAV files."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import specsep
from conftest import results_rows, run_cli, MUSIC, PIECE1_IRM_SDR_DB, README_ROUNDING_DB, has_module, subprocess_env
from specsep import oracle
from specsep.tools import progress as _progress

sf = pytest.importorskip("soundfile")

SOURCES = ("bass", "drums", "keys")
SLAKH_SOURCES = ("S00", "S01", "S02")
# (track, layout, sample rate, channels, seconds): a and b share a shape, so --batch stacks them
TRACKS = (
    ("a_musdb", "mixture.wav", 16000, 2, 1.0),
    ("b_slakh", "stems/", 16000, 2, 1.0),
    ("c_mono", "mix.wav", 8000, 1, 1.5),
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# A small dataset: seeded, music-like stems (notes with harmonics and decays, noise-burst drums)


def _stems(seed, sr, channels, seconds):
    """``(channels, 3, samples)`` float32: a bass line, drum hits and chords, panned per channel."""
    rng = np.random.default_rng(seed)
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    stems = np.zeros((3, n))
    step = n // 4
    for k in range(4):  # four notes / hits / chords
        span = slice(k * step, n)
        local = t[: n - k * step]
        decay = np.exp(-local / rng.uniform(0.15, 0.4))
        f0 = 55.0 * 2 ** (rng.integers(0, 12) / 12)
        stems[0, span] += decay * sum(np.sin(2 * np.pi * h * f0 * local) / h for h in range(1, 6))
        burst = rng.standard_normal(local.size) * np.exp(-local / 0.03)
        stems[1, span] += burst + 0.8 * np.sin(2 * np.pi * 120.0 * local) * np.exp(-local / 0.08)
        for root in 220.0 * 2 ** (rng.choice(12, 3, replace=False) / 12):
            stems[2, span] += 0.3 * decay * sum(np.sin(2 * np.pi * h * root * local) / h ** 2 for h in range(1, 4))
    stems /= np.max(np.abs(stems), axis=-1, keepdims=True) * 3.5
    pans = rng.uniform(0.4, 1.0, size=(channels, 3, 1))
    return (pans * stems).astype(np.float32)


def _write_track(folder, layout, sr, channels, seconds, seed):
    stems = _stems(seed, sr, channels, seconds)
    mix = stems.sum(axis=1)  # written as float: the file is the sum, bit for bit
    folder.mkdir(parents=True)
    if layout == "stems/":
        names, where, mix_name = SLAKH_SOURCES, folder / "stems", "mix.wav"
        where.mkdir()
    else:
        names, where, mix_name = SOURCES, folder, layout
    sf.write(folder / mix_name, mix.T, sr, subtype="FLOAT")
    for j, name in enumerate(names):
        sf.write(where / f"{name}.wav", stems[:, j].T, sr, subtype="FLOAT")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    for seed, (name, layout, sr, channels, seconds) in enumerate(TRACKS):
        _write_track(root / name, layout, sr, channels, seconds, seed)
    return root




@pytest.fixture(scope="module")
def irm_run(dataset, tmp_path_factory):
    """``specsep oracle DATASET --mask irm``, one track at a time."""
    out = tmp_path_factory.mktemp("irm") / "out"
    code, stdout, stderr = run_cli(["oracle", str(dataset), "--mask", "irm", "--out", str(out)])
    assert code == 0, stderr
    return out, stdout


def _direct(track_dir, mask="irm"):
    """The oracle separation of a track through the public API: ``(names, sources, estimates, sr)``."""
    mix_path = next(track_dir / name for name in ("mixture.wav", "mix.wav") if (track_dir / name).is_file())
    where = track_dir / "stems" if (track_dir / "stems").is_dir() else track_dir
    paths = sorted(p for p in where.glob("*.wav") if p != mix_path)
    mix, sr = sf.read(mix_path, dtype="float32", always_2d=True)
    sources = np.stack([sf.read(p, dtype="float32", always_2d=True)[0].T for p in paths], axis=1)
    n_fft = 1024 if sr < 32000 else 2048
    mix = np.ascontiguousarray(mix.T)
    X = specsep.stft(sources, n_fft=n_fft, hop_length=n_fft // 4)
    if mask == "irm":
        M = specsep.masks.ideal_ratio(X)
    else:
        M = specsep.masks.phase_sensitive(X, specsep.stft(mix, n_fft=n_fft, hop_length=n_fft // 4))
    estimates = specsep.separate(mix, M, n_fft=n_fft, hop_length=n_fft // 4)
    return [p.stem for p in paths], sources, estimates, sr


def _end_to_end(signals):
    return np.moveaxis(signals, 1, 0).reshape(signals.shape[1], -1)


# ---------------------------------------------------------------------------------------------
# specsep oracle: scores, files, layouts


def test_oracle_scores_equal_the_api(irm_run, dataset):
    out, _ = irm_run
    rows = results_rows(out)
    assert [(r["track"], r["source"]) for r in rows] == [
        ("a_musdb", s) for s in SOURCES] + [("b_slakh", s) for s in SLAKH_SOURCES] + [("c_mono", s) for s in SOURCES]
    for name, _, sr, _, seconds in TRACKS:
        names, sources, estimates, _ = _direct(dataset / name)
        reference, estimate = _end_to_end(sources), _end_to_end(estimates)
        si_sdr = specsep.metrics.si_sdr(reference, estimate)
        snr = specsep.metrics.snr(reference, estimate)
        track_rows = [r for r in rows if r["track"] == name]
        assert [r["source"] for r in track_rows] == names
        for j, row in enumerate(track_rows):
            assert float(row["si_sdr"]) == pytest.approx(si_sdr[j], abs=1e-9)
            assert float(row["snr"]) == pytest.approx(snr[j], abs=1e-9)
            assert float(row["seconds"]) == seconds
            assert row["error"] == ""
        assert min(snr) > 5.0  # oracle masks on these stems separate well


@pytest.mark.skipif(not has_module("fast_bss_eval"), reason="fast_bss_eval is not installed")
def test_oracle_sdr_is_bss_eval(irm_run, dataset):
    import fast_bss_eval

    out, _ = irm_run
    rows = [r for r in results_rows(out) if r["track"] == "c_mono"]
    _, sources, estimates, _ = _direct(dataset / "c_mono")
    sdr, perm = fast_bss_eval.sdr(_end_to_end(sources).astype(np.float64), _end_to_end(estimates).astype(np.float64),
                                  return_perm=True)
    assert list(perm) == [0, 1, 2]
    np.testing.assert_allclose([float(r["sdr"]) for r in rows], sdr, atol=1e-6)


def test_oracle_summary(irm_run):
    out, stdout = irm_run
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# specsep oracle: ideal ratio mask, power 2\n")
    assert summary in stdout  # printed as written
    assert "3 tracks: 3 separated, 0 failed" in summary
    for name, *_ in TRACKS:
        assert f"| {name} |" in summary
    rows = results_rows(out)
    for source in SOURCES:  # bass, drums and keys are in two tracks; mean and median of those
        values = [float(r["si_sdr"]) for r in rows if r["source"] == source]
        assert f"| {source} | 2 | {np.mean(values):.2f} | {np.median(values):.2f} |" in summary
    assert "wrote results.csv, summary.md to" in stdout


def test_one_track_folder_is_a_dataset(irm_run, dataset, tmp_path):
    code, stdout, _ = run_cli(["oracle", str(dataset / "b_slakh"), "--out", str(tmp_path)])
    assert code == 0
    assert "1 track in" in stdout
    assert results_rows(tmp_path) == [r for r in results_rows(irm_run[0]) if r["track"] == "b_slakh"]


def test_batch_equals_one_at_a_time(irm_run, dataset, tmp_path, monkeypatch):
    calls = []
    separate = oracle.separate  # specsep.separate, block by block, of a batch

    def counting(x, *args, **kwargs):
        calls.append(x.shape)
        return separate(x, *args, **kwargs)

    monkeypatch.setattr(oracle, "separate", counting)
    code, _, stderr = run_cli(["oracle", str(dataset), "--batch", "3", "--out", str(tmp_path)])
    assert code == 0, stderr
    assert calls == [(2, 2, 16000), (1, 1, 12000)]  # a and b stacked; c alone (another shape)
    batched, single = results_rows(tmp_path), results_rows(irm_run[0])
    assert [(r["track"], r["source"]) for r in batched] == [(r["track"], r["source"]) for r in single]
    for key in ("si_sdr", "snr"):
        np.testing.assert_allclose([float(r[key]) for r in batched], [float(r[key]) for r in single], rtol=0, atol=1e-9)


@pytest.mark.parametrize("mask", tuple(oracle.MASKS))
def test_batched_api_equals_one_at_a_time(dataset, mask):
    single = oracle.evaluate(dataset, mask, bss_eval=False)
    batched = oracle.evaluate(dataset, mask, batch=2, bss_eval=False)
    assert [r.track for r in batched] == [name for name, *_ in TRACKS]
    for a, b in zip(single, batched):
        assert a.sources == b.sources
        np.testing.assert_allclose(b.si_sdr, a.si_sdr, rtol=0, atol=1e-9)
        np.testing.assert_allclose(b.snr, a.snr, rtol=0, atol=1e-9)


@pytest.mark.parametrize("mask", ["irm", "psm"])
def test_blocks_equal_whole_tracks(dataset, mask, monkeypatch):
    """The block-by-block separation (masks from each block's own frames) against whole-track
    calls: the test tracks fit one block of CHUNK_FRAMES, so blocks of 5 frames make many."""
    whole = oracle.evaluate(dataset, mask, bss_eval=False)
    monkeypatch.setattr(oracle, "CHUNK_FRAMES", 5)
    blocks = oracle.evaluate(dataset, mask, bss_eval=False)
    assert [(r.si_sdr, r.snr) for r in blocks] == [(r.si_sdr, r.snr) for r in whole]


def test_write_stems_and_plot(dataset, tmp_path):
    argv = ["oracle", str(dataset / "c_mono"), "--mask", "psm", "--write-stems", "--out", str(tmp_path)]
    plot = has_module("matplotlib")
    code, stdout, stderr = run_cli(argv + (["--plot"] if plot else []))
    assert code == 0, stderr
    names, _, estimates, sr = _direct(dataset / "c_mono", mask="psm")
    for j, name in enumerate(names):
        written, rate = sf.read(tmp_path / "estimates" / "c_mono" / f"{name}.wav", dtype="float32", always_2d=True)
        assert rate == sr and sf.info(str(tmp_path / "estimates" / "c_mono" / f"{name}.wav")).subtype == "FLOAT"
        np.testing.assert_allclose(written.T, estimates[:, j], rtol=0, atol=1e-6)
    assert "3 estimates in estimates/" in stdout
    if plot:
        assert (tmp_path / "figures" / "c_mono.png").read_bytes()[:8] == PNG_MAGIC
        assert "1 figures in figures/" in stdout


def test_progress_bar_shows_throughput(dataset, tmp_path, monkeypatch):
    from specsep.tools.commands import oracle as command

    stream = io.StringIO()
    monkeypatch.setattr(command, "progress", lambda total, desc: _progress.TextBar(
        total, desc, file=stream, disable=False, delay=0.0))
    assert run_cli(["oracle", str(dataset), "--out", str(tmp_path)])[0] == 0
    drawn = stream.getvalue()
    assert "specsep oracle: [" in drawn and "3/3" in drawn
    assert "tracks/s, " in drawn and "audio s/s" in drawn


def test_api_evaluate(dataset, tmp_path):
    arrived = []
    results = oracle.evaluate(dataset, "ibm", bss_eval=False, on_result=arrived.append)
    assert sorted(r.track for r in arrived) == [r.track for r in results] == [name for name, *_ in TRACKS]
    assert all(r.ok and r.sdr is None for r in results)
    assert results[2] == oracle.run_track(oracle.find_tracks(dataset)[2], oracle.Options("ibm"))
    first = results[0]
    assert (first.sample_rate, first.channels, first.n_fft, first.hop_length) == (16000, 2, 1024, 256)
    with pytest.raises(ValueError, match="mask='nmf' is not one of"):
        oracle.evaluate(dataset, "nmf")
    with pytest.raises(ValueError, match="batch=0 must be an integer >= 1"):
        oracle.evaluate(dataset, batch=0)
    with pytest.raises(ValueError, match="need an output folder"):
        oracle.evaluate(dataset, write_stems=True)
    with pytest.raises(ValueError, match="is not a folder"):
        oracle.evaluate(tmp_path / "nowhere")


# ---------------------------------------------------------------------------------------------
# specsep oracle: failures, arguments, optional packages


def test_failed_tracks_are_reported_and_the_others_go_on(dataset, tmp_path):
    root = tmp_path / "data"
    _write_track(root / "good", "mix.wav", 8000, 1, 0.5, seed=7)
    _write_track(root / "rate", "mix.wav", 8000, 1, 0.5, seed=8)
    data, _ = sf.read(root / "rate" / "keys.wav")
    sf.write(root / "rate" / "keys.wav", data, 16000)
    (root / "empty").mkdir()
    (root / "garbage").mkdir()
    (root / "garbage" / "mix.wav").write_bytes(b"not a wave file")
    (root / "garbage" / "bass.wav").write_bytes(b"nor this")
    (root / "lonely").mkdir()
    sf.write(root / "lonely" / "mix.wav", np.zeros(800, dtype=np.float32), 8000)
    code, stdout, stderr = run_cli(["oracle", str(root), "--out", str(tmp_path / "out")])
    assert code == 0
    reasons = {
        "empty": "no mixture.wav or mix.wav in",
        "garbage": f"cannot read {root / 'garbage' / 'mix.wav'}",
        "lonely": "no source .wav files in",
        "rate": f"sample rates differ: the mixture {root / 'rate' / 'mix.wav'} is 8000 Hz but "
                f"{root / 'rate' / 'keys.wav'} is 16000 Hz",
    }
    for track, reason in reasons.items():
        assert f"specsep oracle: {track}: failed: {reason}" in stderr
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "5 tracks: 1 separated, 4 failed" in summary
    assert "## Failed tracks" in summary and "| rate | sample rates differ" in summary
    rows = results_rows(tmp_path / "out")
    assert [r["track"] for r in rows if r["error"]] == ["empty", "garbage", "lonely", "rate"]
    assert [r["source"] for r in rows if r["track"] == "good"] == list(SOURCES)
    assert "1 of 5 tracks separated" in stdout


def test_every_track_failed_exits_1(tmp_path):
    (tmp_path / "data" / "empty").mkdir(parents=True)
    code, _, stderr = run_cli(["oracle", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    assert code == 1
    assert "empty: failed: no mixture.wav or mix.wav" in stderr
    summary = (tmp_path / "out" / "summary.md").read_text()
    stft_line = next(line for line in summary.splitlines() if line.startswith("- STFT:"))
    assert stft_line.endswith("no size to report, as no track was separated"), stft_line  # never trails off


@pytest.mark.parametrize("extra, message", [
    (["--mask", "ibm", "--power", "1"], "argument --power: only --mask irm and wiener take a power"),
    (["--power", "-1"], "argument --power: '-1' must be a number >= 0"),
    (["--mask", "nmf"], "argument --mask: invalid choice: 'nmf'"),
    (["--batch", "0"], "argument --batch: '0' must be an integer >= 1"),
    (["--backend", "tpu"], "argument --backend: backend='tpu' is not one of"),
    (["--n-fft", "1024", "--hop-length", "2048"], "hop_length=2048 violates NOLA"),
])
def test_oracle_bad_arguments_exit_2(dataset, tmp_path, extra, message):
    code, _, stderr = run_cli(["oracle", str(dataset), "--out", str(tmp_path / "out")] + extra)
    assert code == 2
    assert stderr.startswith("usage: specsep oracle") and message in stderr
    assert not (tmp_path / "out").exists()


def test_oracle_dataset_without_tracks_exits_2(tmp_path):
    code, _, stderr = run_cli(["oracle", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == 2 and "holds no mixture.wav or mix.wav and no track folders" in stderr
    code, _, stderr = run_cli(["oracle", str(tmp_path / "nowhere")])
    assert code == 2 and "is not a folder" in stderr


def test_oracle_without_fast_bss_eval(dataset, tmp_path, monkeypatch):
    from specsep.tools.commands import scores

    monkeypatch.setattr(scores, "bss_eval_available", lambda: False)
    code, stdout, _ = run_cli(["oracle", str(dataset / "c_mono"), "--out", str(tmp_path)])
    assert code == 0
    assert all(r["sdr"] == "" for r in results_rows(tmp_path))
    assert "fast_bss_eval is not installed, so the sdr column is empty" in stdout
    assert "SDR not computed" in (tmp_path / "summary.md").read_text()


def test_scheduler_without_distributed_exits_2(dataset, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    code, _, stderr = run_cli(["oracle", str(dataset), "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path)])
    assert code == 2 and "argument --scheduler: needs dask.distributed" in stderr


def test_oracle_as_a_user_runs_it(irm_run, dataset, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "specsep.tools.cli", "oracle", str(dataset), "--batch", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, env=subprocess_env(), stdin=subprocess.DEVNULL, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "# specsep oracle: ideal ratio mask" in completed.stdout
    assert (tmp_path / "results.csv").read_text() == (irm_run[0] / "results.csv").read_text()


# ---------------------------------------------------------------------------------------------
# specsep oracle on a Dask cluster (worker processes on the loopback interface only)


def test_oracle_on_a_dask_cluster(irm_run, dataset, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    env = subprocess_env()  # the workers import the same specsep as this process
    if "PYTHONPATH" in env:
        monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        code, stdout, stderr = run_cli(["oracle", str(dataset), "--scheduler", cluster.scheduler_address,
                                     "--batch", "2", "--out", str(tmp_path)])
        on_workers = oracle.evaluate(dataset, "psm", client=client)
    assert code == 0, stderr
    assert f"on the Dask cluster at {cluster.scheduler_address}" in stdout
    for name in ("results.csv", "summary.md"):
        assert (tmp_path / name).read_text() == (irm_run[0] / name).read_text()
    assert on_workers == oracle.evaluate(dataset, "psm")


# ---------------------------------------------------------------------------------------------
# Real music: the reference figures of ../shared/music/setA/piece1


def test_oracle_on_music_reproduces_the_reference(music_piece, tmp_path):
    code, _, stderr = run_cli(["oracle", str(MUSIC), "--mask", "irm", "--out", str(tmp_path)])
    assert code == 0, stderr
    rows = {r["source"]: float(r["snr"]) for r in results_rows(tmp_path) if r["track"] == "piece1"}
    assert set(rows) == set(PIECE1_IRM_SDR_DB)
    for name, expected in PIECE1_IRM_SDR_DB.items():
        assert abs(rows[name] - expected) <= README_ROUNDING_DB, (name, rows[name])


# ---------------------------------------------------------------------------------------------
# specsep griffinlim and specsep misi


def _blocks(stdout):
    """``[(first, last, start value, end value)]`` of the lines ``iterations a-b: ... x -> y``."""
    blocks = []
    for line in stdout.splitlines():
        if line.startswith("iterations "):
            span, _, values = line[len("iterations "):].partition(": spectral convergence ")
            first, last = map(int, span.split("-"))
            start, end = map(float, values.split(" -> "))
            blocks.append((first, last, start, end))
    return blocks


def test_griffinlim(dataset, tmp_path):
    source = dataset / "a_musdb" / "mixture.wav"
    argv = ["griffinlim", str(source), str(tmp_path / "out.wav"), "--n-iter", "24", "--seed", "3"]
    plot = has_module("matplotlib")
    code, stdout, stderr = run_cli(argv + (["--plot", str(tmp_path / "gl.png")] if plot else []))
    assert code == 0, stderr
    original, sr = sf.read(source, dtype="float32", always_2d=True)
    rebuilt, rate = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    assert rate == sr and rebuilt.shape == original.shape
    blocks = _blocks(stdout)
    assert [(first, last) for first, last, *_ in blocks] == [(1, 8), (9, 16), (17, 24)]
    values = [v for *_, start, end in blocks for v in (start, end)]
    assert values[-1] < 0.5 * values[0]  # it converges
    final, in_db = stdout.split("output: spectral convergence ")[1].split()[:2]
    assert 0 < float(final) < values[0]
    assert in_db == f"({20 * np.log10(float(final)):.1f}"  # the ratio in dB beside it, as the demo prints
    if plot:
        assert (tmp_path / "gl.png").read_bytes()[:8] == PNG_MAGIC


def test_griffinlim_is_one_call_of_the_api(dataset, tmp_path):
    """The written signal is griffin_lim's, with the seed given."""
    source = dataset / "c_mono" / "mix.wav"
    assert run_cli(["griffinlim", str(source), str(tmp_path / "out.wav"), "--n-iter", "5", "--momentum", "0.5"])[0] == 0
    x, _ = sf.read(source, dtype="float32", always_2d=True)
    S = np.abs(specsep.stft(np.ascontiguousarray(x.T), n_fft=1024, hop_length=256))
    expected = specsep.griffin_lim(S, n_iter=5, n_fft=1024, hop_length=256, length=x.shape[0], momentum=0.5, rng=0)
    rebuilt, _ = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    np.testing.assert_array_equal(rebuilt.T, expected)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_griffinlim_precision(dataset, tmp_path, precision):
    """--precision chooses the iterations' precision, as griffin_lim's precision= does."""
    source = dataset / "c_mono" / "mix.wav"
    argv = ["griffinlim", str(source), str(tmp_path / "out.wav"), "--n-iter", "4", "--precision", precision]
    code, stdout, _ = run_cli(argv)
    assert code == 0 and f"{precision} iterations" in stdout.splitlines()[0]
    x, _ = sf.read(source, dtype="float32", always_2d=True)
    S = np.abs(specsep.stft(np.ascontiguousarray(x.T), n_fft=1024, hop_length=256))
    expected = specsep.griffin_lim(S, n_iter=4, n_fft=1024, hop_length=256, length=x.shape[0], rng=0,
                                   precision=precision)
    rebuilt, _ = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    np.testing.assert_array_equal(rebuilt.T, expected)


def test_misi(dataset, tmp_path):
    track = dataset / "a_musdb"
    argv = ["misi", str(track / "mixture.wav"), str(track), str(tmp_path / "out"), "--n-iter", "16"]
    code, stdout, stderr = run_cli(argv)
    assert code == 0, stderr
    mix, sr = sf.read(track / "mixture.wav", dtype="float32", always_2d=True)
    rebuilt = [sf.read(tmp_path / "out" / f"{name}.wav", dtype="float32", always_2d=True) for name in SOURCES]
    assert all(rate == sr and stem.shape == mix.shape for stem, rate in rebuilt)
    np.testing.assert_allclose(sum(stem for stem, _ in rebuilt), mix, rtol=0, atol=1e-5)  # MISI's sum
    blocks = _blocks(stdout)
    assert [(first, last) for first, last, *_ in blocks] == [(1, 8), (9, 16)]
    assert blocks[-1][3] < blocks[0][2]
    printed = dict(line.split() for line in stdout.splitlines() if line.startswith("  "))
    for j, name in enumerate(SOURCES):
        reference, _ = sf.read(track / f"{name}.wav", dtype="float32", always_2d=True)
        expected = specsep.metrics.si_sdr(reference.T.ravel(), rebuilt[j][0].T.ravel())
        assert float(printed[name]) == pytest.approx(expected, abs=0.005)


@pytest.mark.parametrize("argv, message", [
    (["griffinlim", "{a}/mixture.wav", "{out}/x.wav", "--momentum", "1"], "argument --momentum: 1 must be < 1"),
    (["griffinlim", "{a}/nothing.wav", "{out}/x.wav"], "argument IN.wav: cannot read"),
    (["griffinlim", "{a}/mixture.wav", "{out}/x.wav", "--backend", "tpu"], "argument --backend: backend='tpu'"),
    (["misi", "{a}/mixture.wav", "{out}", "{out}/o"], "the stems folder"),
    (["misi", "{a}/mixture.wav", "{a}", "{out}/o", "--init", "noise"], "argument --init: invalid choice"),
    (["misi", "{a}/mixture.wav", "{a}", "{out}/o", "--precision", "half"], "argument --precision: invalid choice"),
])
def test_phase_bad_arguments_exit_2(dataset, tmp_path, argv, message):
    argv = [a.format(a=dataset / "a_musdb", out=tmp_path / "missing") for a in argv]
    code, _, stderr = run_cli(argv)
    assert code == 2 and message in stderr, stderr


@pytest.mark.slow  # a two-process LocalCluster and six separations: ~35 s on two cores
def test_docs_dask_example_runs_as_a_script(tmp_path):
    """docs/cli.md's Dask example, saved as a script and run from the checkout (where its
    ../shared/music path points): worker processes import the script, so it needs its main guard."""
    pytest.importorskip("distributed")
    if not MUSIC.is_dir():
        pytest.skip("../shared/music is not beside this checkout")
    root = Path(__file__).resolve().parents[1]
    blocks = re.findall(r"```python\n(.*?)```", (root / "docs" / "cli.md").read_text(), re.S)
    (script := tmp_path / "example.py").write_text(next(b for b in blocks if "LocalCluster" in b))
    completed = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True,
                               env=subprocess_env(), stdin=subprocess.DEVNULL, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("piece1 {'bass': 11.88")  # the SNR of ../shared/music's README
