"""The command line when things go wrong: colliding file names, a track whose arithmetic overflows,
output paths that cannot be written, reruns into an earlier run's folder, and Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import results_rows, run_cli, has_module, subprocess_env
from specsep import oracle
from specsep.tools.commands import demo as demo_command
from specsep.tools.commands import oracle as oracle_command
from specsep.tools.commands import phase
from specsep.tools.bench import harness

sf = pytest.importorskip("soundfile")

SR = 8000
SOURCES = ("bass", "drums", "keys")
FILES = tuple(f"{name}.wav" for name in SOURCES)
HUGE = 3e38  # a float WAV sample near float32's largest: its square overflows


def _write_track(folder, seed, seconds=0.5, names=FILES, peak=None):
    """``folder/mix.wav`` and a float WAV file per source named in ``names`` (stereo noise);
    ``peak`` sets a stretch of every source to that value."""
    rng = np.random.default_rng(seed)
    stems = (0.1 * rng.standard_normal((2, len(names), int(SR * seconds)))).astype(np.float32)
    if peak is not None:
        stems[:, :, 100:300] = peak
    folder.mkdir(parents=True)
    mix = stems[:, 0] if peak is not None else stems.sum(axis=1)  # (a sum would overflow)
    sf.write(folder / "mix.wav", mix.T, SR, subtype="FLOAT")
    for j, name in enumerate(names):
        sf.write(folder / name, stems[:, j].T, SR, subtype="FLOAT", format="WAV")
    return folder




def _forbid(monkeypatch, owner, name):
    """Make ``owner.name`` fail the test if it is called: the work must not start."""
    def called(*args, **kwargs):
        raise AssertionError(f"{name} ran before the arguments were refused")
    monkeypatch.setattr(owner, name, called)


# ---------------------------------------------------------------------------------------------
# Source files whose names differ only in case: refused before any work, naming both files


@pytest.mark.parametrize("command", ["misi", "oracle", "demo"])
def test_stem_names_differing_in_case_are_refused(tmp_path, monkeypatch, command):
    track = _write_track(tmp_path / "data" / "t", seed=1, names=("bass.wav", "bass.WAV", "keys.wav"))
    _write_track(tmp_path / "data" / "u", seed=2)
    out = tmp_path / "out"
    _forbid(monkeypatch, phase, "stft")
    _forbid(monkeypatch, oracle_command.oracle, "evaluate")
    _forbid(monkeypatch, demo_command, "_separate")
    argv = {"misi": ["misi", str(track / "mix.wav"), str(track), str(out)],
            "oracle": ["oracle", str(tmp_path / "data"), "--out", str(out), "--write-stems"],
            "demo": ["demo", "--input", str(track / "mix.wav"), "--stems", str(track), "--out", str(out)]}[command]
    code, _, stderr = run_cli(argv)
    assert code == 2
    assert f"{track / 'bass.WAV'} and {track / 'bass.wav'} have the same source name but for case" in stderr
    assert not out.exists()


def test_oracle_api_fails_a_track_whose_names_differ_in_case(tmp_path):
    _write_track(tmp_path / "t", seed=1, names=("bass.wav", "Bass.wav", "keys.wav"))
    _write_track(tmp_path / "u", seed=2)
    clash, fine = oracle.evaluate(tmp_path, bss_eval=False)
    assert not clash.ok and "have the same source name but for case" in clash.error
    assert fine.ok and fine.sources == SOURCES


def test_hidden_files_are_not_sources(tmp_path):
    track = _write_track(tmp_path / "t", seed=1)
    (track / "._bass.wav").write_bytes(b"a macOS resource fork, not audio")
    (result,) = oracle.evaluate(tmp_path, bss_eval=False)
    assert result.ok and result.sources == SOURCES


# ---------------------------------------------------------------------------------------------
# A track whose masks overflow float32 fails alone: never its batch-mates, never NaN scores


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory):
    """Three tracks of one shape; b's sources reach 3e38, so their squares overflow float32."""
    root = tmp_path_factory.mktemp("overflowing")
    for seed, name in enumerate("abc"):
        _write_track(root / name, seed, peak=HUGE if name == "b" else None)
    return root


@pytest.mark.parametrize("plot", [False, pytest.param(True, marks=pytest.mark.skipif(
    not has_module("matplotlib"), reason="matplotlib is not installed"))], ids=["blocks", "plot"])
def test_an_overflowing_track_fails_alone(overflowing, tmp_path, plot):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["oracle", str(overflowing), "--batch", "3", "--out", str(out)]
                                + ["--plot"] * plot)
    assert code == 0, stderr
    assert "specsep oracle: b: failed: " in stderr and ("not finite" in stderr or "NaN or Inf" in stderr)
    rows = results_rows(out)
    assert [(r["track"], r["error"] != "") for r in rows] == [("a", False)] * 3 + [("b", True)] + [("c", False)] * 3
    healthy = oracle.evaluate([t for t in oracle.find_tracks(overflowing) if t.name != "b"], bss_eval=False)
    for result in healthy:
        scores = [float(r["si_sdr"]) for r in rows if r["track"] == result.track]
        np.testing.assert_allclose(scores, result.si_sdr, rtol=0, atol=1e-9)
    summary = (out / "summary.md").read_text()
    assert "3 tracks: 2 separated, 1 failed" in summary and "| nan |" not in summary
    assert "2 of 3 tracks separated" in stdout
    if plot:
        assert sorted(p.name for p in (out / "figures").iterdir()) == ["a.png", "c.png"]


def test_nan_samples_fail_their_track(tmp_path):
    _write_track(tmp_path / "a", seed=1)
    bad = _write_track(tmp_path / "b", seed=2)
    data, _ = sf.read(bad / "drums.wav", always_2d=True)
    data[5, 1] = np.nan
    sf.write(bad / "drums.wav", data, SR, subtype="FLOAT")
    code, _, stderr = run_cli(["oracle", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == 0
    assert f"b: failed: {bad / 'drums.wav'} holds NaN or infinite samples" in stderr


# ---------------------------------------------------------------------------------------------
# Output paths that cannot be written: refused before any work, naming the option and the path


@pytest.mark.parametrize("command, option", [
    ("griffinlim", "OUT.wav"),
    pytest.param("griffinlim", "--plot", marks=pytest.mark.skipif(not has_module("matplotlib"),
                                                                   reason="matplotlib is not installed")),
    ("misi", "OUT_DIR"), ("oracle", "--out"),
    ("demo", "--out"), ("bench", "--json"), ("bench", "--markdown"),
])
def test_unwritable_outputs_are_refused_first(tmp_path, monkeypatch, command, option):
    track = _write_track(tmp_path / "data" / "t", seed=1)
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where a folder should be: nothing can be created under it
    bad = blocker / "sub" / "x.png"
    good = tmp_path / "fine"
    good.mkdir()  # a file's folder must exist; OUT_DIR and --out are created
    for owner, name in ((phase, "stft"), (oracle_command.oracle, "evaluate"), (demo_command, "_separate"),
                        (harness, "run")):
        _forbid(monkeypatch, owner, name)
    argv = {
        "griffinlim": ["griffinlim", str(track / "mix.wav"), str(good / "o.wav")],
        "misi": ["misi", str(track / "mix.wav"), str(track), str(good)],
        "oracle": ["oracle", str(tmp_path / "data"), "--out", str(good)],
        "demo": ["demo", "--seconds", "0.5", "--out", str(good)],
        "bench": ["bench", "--quick", "--workloads", "W1", "--implementations", "specsep-cpu", "--quiet"],
    }[command]
    if option.startswith("--") and option in argv:
        argv[argv.index(option) + 1] = str(bad)
    elif option.startswith("--"):
        argv += [option, str(bad)]
    else:
        argv[-1] = str(bad)
    code, _, stderr = run_cli(argv)
    assert code == 2, stderr
    assert f"argument {option}: cannot write" in stderr and str(blocker) in stderr


@pytest.mark.parametrize("option", ["OUT.wav", pytest.param("--plot", marks=pytest.mark.skipif(
    not has_module("matplotlib"), reason="matplotlib is not installed"))])
def test_a_file_in_a_missing_folder_is_refused_not_created(tmp_path, monkeypatch, option):
    track = _write_track(tmp_path / "t", seed=1)
    _forbid(monkeypatch, phase, "stft")
    missing = tmp_path / "nowhere" / "deeper"
    argv = ["griffinlim", str(track / "mix.wav"), str(tmp_path / "o.wav")]
    if option == "OUT.wav":
        argv[-1] = str(missing / "o.wav")
    else:
        argv += [option, str(missing / "o.png")]
    code, _, stderr = run_cli(argv)
    assert code == 2
    assert f"argument {option}: cannot write {missing}" in stderr and f"the folder {missing} does not exist" in stderr
    assert not (tmp_path / "nowhere").exists()


def test_output_folders_are_created_where_a_folder_was_asked_for(tmp_path):
    track = _write_track(tmp_path / "t", seed=1)
    out = tmp_path / "new" / "stems"
    code, _, stderr = run_cli(["misi", str(track / "mix.wav"), str(track), str(out), "--n-iter", "1"])
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)


@pytest.mark.parametrize("case, reason", [
    ("missing", "No such file or directory"),
    ("folder", "Is a directory"),
    ("garbage", "Format not recognised"),
])
def test_an_unreadable_input_names_the_file_and_the_reason(tmp_path, case, reason):
    path = tmp_path / "in.wav"
    if case == "folder":
        path.mkdir()
    elif case == "garbage":
        path.write_text("not audio")
    code, _, stderr = run_cli(["griffinlim", str(path), str(tmp_path / "o.wav")])
    assert code == 2
    assert f"argument IN.wav: cannot read {path}: {reason}" in stderr, stderr
    assert "System error" not in stderr


@pytest.mark.skipif(sys.platform == "win32" or getattr(__import__("os"), "geteuid", lambda: 1)() == 0,
                    reason="file permissions do not bind here (Windows, or running as root)")
def test_an_input_without_read_permission_says_so(tmp_path):
    track = _write_track(tmp_path / "t", seed=1)
    (track / "mix.wav").chmod(0)
    code, _, stderr = run_cli(["griffinlim", str(track / "mix.wav"), str(tmp_path / "o.wav")])
    assert code == 2 and f"cannot read {track / 'mix.wav'}: Permission denied" in stderr


# ---------------------------------------------------------------------------------------------
# Bad numbers: exit 2 naming the option, before any work


@pytest.mark.parametrize("argv, message", [
    (["griffinlim", "{t}/mix.wav", "{out}/o.wav", "--seed", "-5"], "argument --seed: '-5' must be an integer >= 0"),
    (["misi", "{t}/mix.wav", "{t}", "{out}", "--seed", "-5"], "argument --seed: '-5' must be an integer >= 0"),
    (["griffinlim", "{t}/mix.wav", "{out}/o.wav", "--n-fft", "100000000000"],
     "argument --n-fft: '100000000000' must be an integer from 2 to 16777216"),
    (["demo", "--seconds", "1e12", "--out", "{out}"], "argument --seconds: the synthetic clip is at most 600 s"),
])
def test_numbers_out_of_range_exit_2(tmp_path, argv, message):
    track = _write_track(tmp_path / "t", seed=1)
    code, _, stderr = run_cli([a.format(t=track, out=tmp_path / "out") for a in argv])
    assert code == 2 and message in stderr, stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# Reruns into an earlier run's folder, and runs that do not finish


@pytest.fixture
def small_dataset(tmp_path):
    for seed, name in enumerate("ab"):
        _write_track(tmp_path / "data" / name, seed)
    return tmp_path / "data"


def test_oracle_refuses_an_earlier_run_unless_overwrite(small_dataset, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run_cli(["oracle", str(small_dataset), "--out", str(out), "--write-stems"])[0] == 0
    before = (out / "results.csv").read_bytes()
    _forbid(monkeypatch, oracle_command.oracle, "evaluate")
    code, _, stderr = run_cli(["oracle", str(small_dataset), "--out", str(out), "--mask", "ibm"])
    assert code == 2
    assert f"argument --out: {out} holds the results of an earlier run (results.csv, summary.md, estimates/)" in stderr
    assert "--overwrite" in stderr and (out / "results.csv").read_bytes() == before
    monkeypatch.undo()
    code, _, stderr = run_cli(["oracle", str(small_dataset), "--out", str(out), "--mask", "ibm", "--overwrite"])
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "summary.md"]  # the old estimates are gone
    assert "ideal binary mask" in (out / "summary.md").read_text()


def test_an_interrupted_oracle_run_stays_marked(small_dataset, tmp_path, monkeypatch):
    out = tmp_path / "out"
    evaluate = oracle.evaluate

    def interrupted(tracks, *args, **kwargs):  # the first track's estimates are written, then Ctrl-C
        evaluate(tracks[:1], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(oracle_command.oracle, "evaluate", interrupted)
    code, _, stderr = run_cli(["oracle", str(small_dataset), "--out", str(out), "--write-stems"])
    assert (code, stderr.splitlines()[-1]) == (130, "specsep: interrupted")
    assert "Traceback" not in stderr
    assert (out / "specsep-unfinished.txt").is_file() and (out / "estimates" / "a").is_dir()
    assert not (out / "results.csv").exists()
    monkeypatch.undo()
    code, _, stderr = run_cli(["oracle", str(small_dataset), "--out", str(out)])
    assert code == 2 and "holds the results of an unfinished run" in stderr
    assert run_cli(["oracle", str(small_dataset), "--out", str(out), "--overwrite"])[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "summary.md"]


def test_demo_refuses_an_earlier_run_and_never_deletes_its_inputs(tmp_path, monkeypatch):
    _forbid(monkeypatch, demo_command, "_separate")
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("{}")
    code, _, stderr = run_cli(["demo", "--seconds", "0.5", "--out", str(out)])
    assert code == 2 and "holds the results of an earlier run (results.json)" in stderr
    track = _write_track(out / "estimates", seed=1)  # the user's stems inside --out
    code, _, stderr = run_cli(["demo", "--input", str(track / "mix.wav"), "--stems", str(track), "--out", str(out),
                            "--overwrite"])
    assert code == 2 and "--overwrite would delete it" in stderr
    assert (track / "bass.wav").is_file()


def test_misi_never_writes_over_its_inputs(tmp_path, monkeypatch):
    track = _write_track(tmp_path / "t", seed=1)
    before = (track / "bass.wav").read_bytes()
    _forbid(monkeypatch, phase, "stft")
    code, _, stderr = run_cli(["misi", str(track / "mix.wav"), str(track), str(track)])
    assert code == 2 and f"argument OUT_DIR: the rebuilt stems would replace the input {track / 'bass.wav'}" in stderr
    assert (track / "bass.wav").read_bytes() == before


def test_oracle_out_inside_the_dataset_is_not_a_track(small_dataset, tmp_path):
    out = small_dataset / "results"
    assert run_cli(["oracle", str(small_dataset), "--out", str(out)])[0] == 0
    code, stdout, stderr = run_cli(["oracle", str(small_dataset), "--out", str(out), "--overwrite"])
    assert code == 0, stderr
    assert "2 tracks in" in stdout and [r["track"] for r in results_rows(out)] == ["a"] * 3 + ["b"] * 3


# ---------------------------------------------------------------------------------------------
# Ctrl-C: one line, exit status 130, no half-written file


def test_interrupt_exits_130_without_a_file(tmp_path, monkeypatch):
    track = _write_track(tmp_path / "t", seed=1)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(phase, "griffin_lim", interrupted)
    code, _, stderr = run_cli(["griffinlim", str(track / "mix.wav"), str(tmp_path / "o.wav")])
    assert (code, stderr) == (130, "specsep: interrupted\n")
    assert not (tmp_path / "o.wav").exists()


def test_a_write_interrupted_halfway_leaves_no_file(tmp_path, monkeypatch):
    track = _write_track(tmp_path / "t", seed=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keys.wav").write_bytes(b"an earlier file")
    write = sf.write
    written = []

    def interrupted(path, data, *args, **kwargs):  # the second stem is cut short by Ctrl-C
        if written:
            with open(path, "wb") as f:
                f.write(b"RIFF")
            raise KeyboardInterrupt
        written.append(path)
        write(path, data, *args, **kwargs)

    monkeypatch.setattr(sf, "write", interrupted)
    code, _, _ = run_cli(["misi", str(track / "mix.wav"), str(track), str(out), "--n-iter", "1"])
    assert code == 130
    assert sorted(p.name for p in out.iterdir()) == ["keys.wav"]  # no stem, no temporary file
    assert (out / "keys.wav").read_bytes() == b"an earlier file"


def test_ctrl_c_in_a_terminal(tmp_path):
    """SIGINT during the iterations, as Ctrl-C sends it: exit 130 within seconds, one line on
    stderr, no traceback, no output file. The numpy backend iterates in Python, so the
    interrupt lands between iterations."""
    track = _write_track(tmp_path / "t", seed=1, seconds=2.0)
    process = subprocess.Popen(
        [sys.executable, "-m", "specsep.tools.cli", "griffinlim", str(track / "mix.wav"), str(tmp_path / "o.wav"),
         "--backend", "numpy", "--n-iter", "1000000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(), stdin=subprocess.DEVNULL)
    try:
        assert process.stdout.readline().startswith("specsep griffinlim:")  # the header: it is iterating
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert stderr == "specsep: interrupted\n"
    assert not (tmp_path / "o.wav").exists()
