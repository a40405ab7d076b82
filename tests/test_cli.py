"""The ``specsep`` command line: ``specsep demo`` end to end, its errors, and its helpers."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import specsep
from conftest import MUSIC, PIECE1_IRM_SDR_DB, README_ROUNDING_DB, has_module, subprocess_env
from specsep.tools import demo_clip, progress
from specsep.tools.cli import main

LABELS = ("ideal binary mask", "ideal ratio mask", "phase-sensitive mask", "Griffin-Lim", "MISI")
KEYS = ("ibm", "irm", "psm", "griffinlim", "misi")

# Oracle ideal ratio mask on the first 2 s of the synthetic clip (n_fft 1024, hop 256): measured
# 9.3 dB mean SI-SDR, 3.96 dB for its hardest stem (keys, whose harmonics sit on the bass's).
IRM_MEAN_SI_SDR_DB = 6.0
IRM_STEM_SI_SDR_DB = 2.0


def _audio_suffix():
    return ".wav" if has_module("soundfile") else ".npy"


# ---------------------------------------------------------------------------------------------
# specsep demo, as a user runs it


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "specsep.tools.cli", "demo", "--out", str(out), "--seconds", "2", "--n-iter", "4"],
        capture_output=True, text=True, env=subprocess_env(), stdin=subprocess.DEVNULL, timeout=300,
    )
    return completed, out


def test_demo_exits_zero(demo_run):
    completed, _ = demo_run
    assert completed.returncode == 0, completed.stderr


def _printed_table(stdout, title):
    """The rows of the demo's table printed under the line starting with ``title``: one list of
    words per row (the header and the rule skipped, up to the blank line)."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method") and i > 0
                  and any(lines[k].startswith(title) for k in range(max(0, i - 2), i)))
    return [row.split("  ") for row in lines[header + 2: lines.index("", header)]]


def test_demo_prints_every_method_and_stem(demo_run):
    completed, _ = demo_run
    stdout = completed.stdout
    for label in LABELS:
        assert label in stdout
    for name in demo_clip.STEM_NAMES:
        assert name in stdout
    backends = [b for b in specsep.available_backends() if b != "cuda-emu"]  # the demo's default
    tables = {"SI-SDR of the waveforms": [label for label in LABELS if label != "Griffin-Lim"],
              "spectral convergence of the magnitudes": ["Griffin-Lim", "MISI"]}
    for title, labels in tables.items():
        rows = [[word.strip() for word in row if word.strip()] for row in _printed_table(stdout, title)]
        assert [row[:2] for row in rows] == [[label, backend] for label in labels for backend in backends]
        assert all(len(row) == 2 + 1 + len(demo_clip.STEM_NAMES) + 1 for row in rows)  # mean, stems, seconds


def test_demo_printed_scores_are_the_results_files(demo_run):
    """Each printed table holds results.json's values of its measure, rounded to 0.01 dB."""
    completed, out = demo_run
    methods = json.loads((out / "results.json").read_text())["methods"]
    labels = {m["label"]: m["key"] for m in methods}
    for title, field in (("SI-SDR of the waveforms", "si_sdr_db"),
                         ("spectral convergence of the magnitudes", "spectral_convergence_db")):
        for row in _printed_table(completed.stdout, title):
            words = [word.strip() for word in row if word.strip()]
            entry = next(m for m in methods if m["key"] == labels[words[0]] and m["backend"] == words[1])
            printed = [float(word) for word in words[2:-1]]
            expected = [entry[f"{field}_mean"], *(entry[field][name] for name in demo_clip.STEM_NAMES)]
            np.testing.assert_allclose(printed, expected, atol=0.0051)


def test_demo_results_fields_measure_what_they_name(demo_run):
    """results.json's fields, recomputed from the files the demo wrote (the first backend's
    estimates): SI-SDR and SNR of the waveforms, spectral convergence of the STFT magnitudes
    (n_fft and hop as recorded), all in dB per stem over its channels (docs/results.md)."""
    sf = pytest.importorskip("soundfile")
    _, out = demo_run
    results = json.loads((out / "results.json").read_text())
    first = results["methods"][0]["backend"]
    stft_args = dict(n_fft=results["n_fft"], hop_length=results["hop_length"])
    for method in (m for m in results["methods"] if m["backend"] == first):
        assert set(method) == {"key", "label", "backend", "seconds", "si_sdr_db", "si_sdr_db_mean", "snr_db",
                               "snr_db_mean", "spectral_convergence_db", "spectral_convergence_db_mean"}
        for name in results["stems"]:
            stem = sf.read(out / "stems" / f"{name}.wav", dtype="float64")[0]  # (samples,): one channel
            estimate = sf.read(out / "estimates" / method["key"] / f"{name}.wav", dtype="float64")[0]
            S, X = np.abs(specsep.stft(stem, **stft_args)), specsep.stft(estimate, **stft_args)
            convergence = np.linalg.norm(np.abs(X) - S) / np.linalg.norm(S)
            expected = {"si_sdr_db": specsep.metrics.si_sdr(stem, estimate),
                        "snr_db": specsep.metrics.snr(stem, estimate),
                        "spectral_convergence_db": 20 * np.log10(convergence)}
            for field, value in expected.items():
                assert method[field][name] == pytest.approx(float(value), abs=1e-3), (method["key"], field, name)
        for field in ("si_sdr_db", "snr_db", "spectral_convergence_db"):
            assert method[f"{field}_mean"] == pytest.approx(np.mean(list(method[field].values())), rel=1e-12)
    griffinlim = next(m for m in results["methods"] if m["key"] == "griffinlim")
    assert griffinlim["spectral_convergence_db_mean"] < -5  # 4 iterations on 2 s: measured -10.6 dB


def test_demo_writes_files(demo_run):
    _, out = demo_run
    suffix = _audio_suffix()
    assert (out / f"mix{suffix}").is_file()
    for name in demo_clip.STEM_NAMES:
        assert (out / "stems" / f"{name}{suffix}").is_file()
        for key in KEYS:
            assert (out / "estimates" / key / f"{name}{suffix}").is_file()
    assert (out / "demo.png").is_file() == has_module("matplotlib")
    assert (out / "results.json").is_file()


def test_demo_ratio_mask_quality(demo_run):
    _, out = demo_run
    results = json.loads((out / "results.json").read_text())
    assert results["stems"] == list(demo_clip.STEM_NAMES)
    backends = [b for b in specsep.available_backends() if b != "cuda-emu"]
    assert sorted((m["key"], m["backend"]) for m in results["methods"]) == sorted(
        (key, backend) for key in KEYS for backend in backends)
    for irm in (m for m in results["methods"] if m["key"] == "irm"):
        assert irm["si_sdr_db_mean"] > IRM_MEAN_SI_SDR_DB
        assert min(irm["si_sdr_db"].values()) > IRM_STEM_SI_SDR_DB


def test_demo_audio_round_trips(demo_run):
    """The synthetic mixture and stems are written bit-exactly (16-bit grid)."""
    sf = pytest.importorskip("soundfile")
    _, out = demo_run
    mix, stems = demo_clip.synthesize(2.0)
    written, sr = sf.read(out / "mix.wav", dtype="float32")
    assert sr == demo_clip.SAMPLE_RATE
    np.testing.assert_array_equal(written, mix)
    drums, _ = sf.read(out / "stems" / "drums.wav", dtype="float32")
    np.testing.assert_array_equal(drums, stems[0])


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"specsep {specsep.__version__}"


# ---------------------------------------------------------------------------------------------
# Bad arguments: exit code 2 and an argparse-style message naming the argument


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: COMMAND"),
    (["separate"], "invalid choice: 'separate'"),
    (["demo", "--n-iter", "-1"], "argument --n-iter: '-1' must be an integer >= 0"),
    (["demo", "--n-iter", "many"], "argument --n-iter: 'many' is not an integer"),
    (["demo", "--seconds", "0"], "argument --seconds: '0' must be a number > 0"),
    (["demo", "--seconds", "nan"], "argument --seconds: 'nan' must be a number > 0"),
    (["demo", "--backend", "tpu"], "argument --backend: backend='tpu' is not one of"),
    (["demo", "--backend", "cuda"], "argument --backend: backend='cuda' is not available"),
    (["demo", "--stems", "."], "arguments --input and --stems go together"),
    (["demo", "--n-fft", "1024", "--hop-length", "2048"], "hop_length=2048 violates NOLA"),
    (["demo", "--unknown"], "unrecognized arguments: --unknown"),
])
def test_bad_arguments_exit_2(argv, message, capsys, tmp_path):
    if "--backend" in argv and argv[argv.index("--backend") + 1] in specsep.available_backends():
        pytest.skip("that backend is available here")
    assert main(argv + ["--out", str(tmp_path / "out")] if argv[:1] == ["demo"] else argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: specsep")
    assert message in err
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_folder(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    assert main(["demo", "--out", str(tmp_path / "file")]) == 2
    assert "is not a folder" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# --input MIX.wav --stems DIR


def _write_clip(sf, folder, seconds=1.0, sr=demo_clip.SAMPLE_RATE, stereo=True):
    mix, stems = demo_clip.synthesize(seconds)
    if stereo:  # a second channel: the same clip, stems panned differently
        gains = np.array([0.5, 1.0, 0.75, 0.25], dtype=np.float32)[:, None]
        stems = np.stack([stems, np.round(stems * gains * 2**15) / 2**15])  # (2, J, L)
        mix = stems.sum(axis=1)
    else:
        stems, mix = stems[None], mix[None]
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / "mixture.wav", mix.T, sr, subtype="PCM_16")
    for j, name in enumerate(demo_clip.STEM_NAMES):
        sf.write(folder / f"{name}.wav", stems[:, j].T, sr, subtype="PCM_16")
    return folder / "mixture.wav"


def test_input_and_stems(tmp_path, capsys):
    sf = pytest.importorskip("soundfile")
    mix_path = _write_clip(sf, tmp_path / "clip")
    out = tmp_path / "out"
    assert main(["demo", "--input", str(mix_path), "--stems", str(tmp_path / "clip"),
                 "--out", str(out), "--n-iter", "2"]) == 0
    stdout = capsys.readouterr().out
    assert "2 channels" in stdout
    for label in LABELS:
        assert label in stdout
    results = json.loads((out / "results.json").read_text())
    assert results["stems"] == sorted(demo_clip.STEM_NAMES)  # every *.wav but the mixture, by name
    assert results["channels"] == 2
    irm = next(m for m in results["methods"] if m["key"] == "irm")
    assert irm["si_sdr_db_mean"] > IRM_MEAN_SI_SDR_DB
    estimate, sr = sf.read(out / "estimates" / "irm" / "bass.wav", always_2d=True)
    assert sr == demo_clip.SAMPLE_RATE and estimate.shape == (demo_clip.SAMPLE_RATE, 2)
    assert not (out / "mix.wav").exists()  # the user's own files are not copied


def test_input_seconds_cuts(tmp_path, capsys):
    sf = pytest.importorskip("soundfile")
    mix_path = _write_clip(sf, tmp_path / "clip", stereo=False)
    assert main(["demo", "--input", str(mix_path), "--stems", str(tmp_path / "clip"), "--seconds", "0.5",
                 "--out", str(tmp_path / "out"), "--n-iter", "0"]) == 0
    capsys.readouterr()
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["samples"] == demo_clip.SAMPLE_RATE // 2


def test_sample_rate_mismatch_names_the_files(tmp_path, capsys):
    sf = pytest.importorskip("soundfile")
    mix_path = _write_clip(sf, tmp_path / "clip")
    data, sr = sf.read(tmp_path / "clip" / "keys.wav")
    sf.write(tmp_path / "clip" / "keys.wav", data, 16000)
    assert main(["demo", "--input", str(mix_path), "--stems", str(tmp_path / "clip"),
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "sample rates differ" in err
    assert f"{mix_path} is {sr} Hz" in err
    assert f"{tmp_path / 'clip' / 'keys.wav'} is 16000 Hz" in err


def test_channel_mismatch_names_the_files(tmp_path, capsys):
    sf = pytest.importorskip("soundfile")
    mix_path = _write_clip(sf, tmp_path / "clip")
    data, sr = sf.read(tmp_path / "clip" / "lead.wav")
    sf.write(tmp_path / "clip" / "lead.wav", data[:, 0], sr)
    assert main(["demo", "--input", str(mix_path), "--stems", str(tmp_path / "clip"),
                 "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path / 'clip' / 'lead.wav'} has 1" in capsys.readouterr().err


def test_stems_folder_without_stems(tmp_path, capsys):
    sf = pytest.importorskip("soundfile")
    sf.write(tmp_path / "mix.wav", np.zeros(100, dtype=np.float32), 8000)
    assert main(["demo", "--input", str(tmp_path / "mix.wav"), "--stems", str(tmp_path),
                 "--out", str(tmp_path / "out")]) == 2
    assert "no .wav files" in capsys.readouterr().err


def test_missing_input_file(tmp_path, capsys):
    pytest.importorskip("soundfile")
    assert main(["demo", "--input", str(tmp_path / "nope.wav"), "--stems", str(tmp_path),
                 "--out", str(tmp_path / "out")]) == 2
    assert "is not a file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The synthetic clip and the progress bar


def test_synthesize_is_deterministic_and_exact():
    mix, stems = demo_clip.synthesize(1.5)
    again_mix, again_stems = demo_clip.synthesize(1.5)
    assert mix.dtype == stems.dtype == np.float32
    assert stems.shape == (len(demo_clip.STEM_NAMES), round(1.5 * demo_clip.SAMPLE_RATE))
    assert mix.tobytes() == again_mix.tobytes() and stems.tobytes() == again_stems.tobytes()
    np.testing.assert_array_equal(stems.astype(np.float64).sum(axis=0), mix)  # exact sum
    np.testing.assert_array_equal(np.round(stems * 2.0 ** 15), stems * 2.0 ** 15)  # 16-bit grid
    assert np.max(np.abs(mix)) < 1.0
    assert np.all(np.sqrt(np.mean(stems ** 2, axis=-1)) > 0.01)  # every stem sounds
    assert not np.array_equal(demo_clip.synthesize(1.5, seed=1)[0], mix)


def test_text_bar_draws_and_clears():
    stream = io.StringIO()
    with progress.TextBar(3, "work", file=stream, disable=False, delay=0.0) as bar:
        bar.update()
        bar.set_postfix_str("step two")
        bar.update(2)
        drawn = stream.getvalue()
    assert "work: [" in drawn and "3/3" in drawn and "step two" in drawn
    assert stream.getvalue().endswith("\r")


def test_text_bar_quiet_off_a_terminal_and_before_its_delay():
    stream = io.StringIO()  # not a terminal
    with progress.TextBar(2, "work", file=stream) as bar:
        bar.update(2)
    with progress.TextBar(2, "work", file=stream, disable=False, delay=60.0) as bar:
        bar.update(2)
    assert stream.getvalue() == ""


def test_progress_quiet_off_a_terminal():
    stream = io.StringIO()
    with progress.progress(2, "work", file=stream) as bar:
        bar.set_postfix_str("x")
        bar.update(2)
    assert stream.getvalue() == ""


# ---------------------------------------------------------------------------------------------
# Real music: the oracle ratio mask reproduces the reference figures of ../shared/music


def test_music_piece_ratio_mask_matches_reference(music_piece):
    mix, stems, sr = music_piece
    names = tuple(PIECE1_IRM_SDR_DB)
    sources = np.stack([stems[name] for name in names], axis=-2)  # (channels, J, samples)
    M = specsep.masks.ideal_ratio(specsep.stft(sources, n_fft=2048, hop_length=512))
    estimates = specsep.separate(mix, M, n_fft=2048, hop_length=512)
    for j, name in enumerate(names):
        sdr = float(specsep.metrics.snr(sources[:, j].ravel(), estimates[:, j].ravel()))
        assert abs(sdr - PIECE1_IRM_SDR_DB[name]) <= README_ROUNDING_DB, (name, sdr)


def test_demo_on_music_piece(music_piece, tmp_path, capsys):
    piece = MUSIC / "piece1"
    assert main(["demo", "--input", str(piece / "mix.wav"), "--stems", str(piece), "--n-fft", "2048",
                 "--hop-length", "512", "--n-iter", "1", "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["sample_rate"] == music_piece[2] and results["channels"] == 2
    irm = next(m for m in results["methods"] if m["key"] == "irm")
    for name, expected in PIECE1_IRM_SDR_DB.items():  # the music README's "SDR" is the SNR
        assert abs(irm["snr_db"][name] - expected) <= README_ROUNDING_DB, (name, irm["snr_db"][name])


def test_progress_draws_when_asked():
    stream = io.StringIO()
    with progress.progress(2, "work", file=stream, disable=False, delay=0.0) as bar:
        bar.set_postfix_str("first")
        bar.update()
        bar.set_postfix_str("second")
        bar.update()
        drawn = stream.getvalue()
    assert "work" in drawn and "/2" in drawn and "second" in drawn  # tqdm may skip frames


def test_every_results_field_is_documented(demo_run):
    """docs/results.md names every field of results.json (top level and per method)."""
    _, out = demo_run
    documented = (Path(__file__).resolve().parents[1] / "docs" / "results.md").read_text()
    results = json.loads((out / "results.json").read_text())
    fields = set(results) | {field for method in results["methods"] for field in method}
    missing = sorted(field for field in fields if f"`{field}`" not in documented)
    assert not missing, f"docs/results.md does not name {missing}"
