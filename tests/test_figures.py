"""The commands' figures explain themselves: colour bars name their unit and reference, the
frequency axis is logarithmic unless asked otherwise, difference panels show rebuilt minus
target in dB, and the demo's and phase retrieval's figures hold what they promise."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from conftest import run_cli

pytest.importorskip("matplotlib")

from specsep.tools.commands import figures  # noqa: E402

SR, HOP = 8000, 128


def _colour_bar_labels(fig):
    return sorted(ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>")


def _spectrogram_axes(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.collections]


def _rows(seed=0):
    rng = np.random.default_rng(seed)
    target = rng.uniform(0.5, 1.0, (129, 20))  # n_fft 256
    return [
        [figures.Panel("curve", np.geomspace(1.0, 0.01, 8), "curve", "spectral convergence, dB")],
        [figures.Panel("target", target, "db"), figures.Panel("mask", rng.uniform(0, 1, target.shape), "mask"),
         figures.Panel("difference", np.stack([10 * target, target]), "difference")],
    ]


def test_colour_bars_name_unit_and_reference():
    fig = figures.draw(_rows(), SR, HOP)
    assert _colour_bar_labels(fig) == ["dB re loudest bin", "dB, rebuilt - target", "mask value"]


@pytest.mark.parametrize("freq_axis, scale, lowest", [("log", "log", 30.0), ("linear", "linear", 0.0)])
def test_frequency_axis(freq_axis, scale, lowest):
    axes = _spectrogram_axes(figures.draw(_rows(), SR, HOP, freq_axis))
    assert len(axes) == 3
    for ax in axes:
        assert ax.get_yscale() == scale
        assert ax.get_ylim() == pytest.approx((lowest, SR / 2))


def test_difference_panel_is_rebuilt_minus_target_in_db():
    *_, difference = _spectrogram_axes(figures.draw(_rows(), SR, HOP))
    values = np.asarray(difference.collections[0].get_array())
    # 10x the target's magnitude is +20 dB wherever both lie above the 80 dB floor (all of it here)
    np.testing.assert_allclose(values, 20.0, rtol=1e-9)


def test_the_default_axis_is_log():
    parser = argparse.ArgumentParser()
    figures.add_freq_axis_option(parser)
    assert parser.parse_args([]).freq_axis == "log"


@pytest.fixture
def captured(monkeypatch):
    """The rows of every figure the commands write, instead of writing it."""
    rows = []
    monkeypatch.setattr(figures, "write_figure", lambda path, r, *args: rows.append(r))
    return rows


def _kinds(rows):
    return [[panel.kind for panel in row] for row in rows]


def test_griffinlim_figure_shows_the_difference(tmp_path, captured):
    sf = pytest.importorskip("soundfile")
    x = np.random.default_rng(1).standard_normal((SR // 2, 2)).astype(np.float32) * 0.1
    sf.write(tmp_path / "in.wav", x, SR, subtype="FLOAT")
    code, _, stderr = run_cli(["griffinlim", str(tmp_path / "in.wav"), str(tmp_path / "o.wav"), "--n-iter", "2",
                               "--plot", str(tmp_path / "gl.png")])
    assert code == 0, stderr
    (rows,) = captured
    assert _kinds(rows) == [["curve"], ["db", "db", "difference"]]
    target, rebuilt, difference = rows[1]
    np.testing.assert_array_equal(difference.data, np.stack([rebuilt.data, target.data]))


def test_misi_figure_shows_each_stems_difference(tmp_path, captured):
    sf = pytest.importorskip("soundfile")
    stems = np.random.default_rng(2).standard_normal((3, SR // 2)).astype(np.float32) * 0.1
    for name, stem in zip("abc", stems):
        sf.write(tmp_path / f"{name}.wav", stem, SR, subtype="FLOAT")
    sf.write(tmp_path / "mix.wav", stems.sum(axis=0), SR, subtype="FLOAT")
    code, _, stderr = run_cli(["misi", str(tmp_path / "mix.wav"), str(tmp_path), str(tmp_path / "out"),
                               "--n-iter", "2", "--plot", str(tmp_path / "misi.png")])
    assert code == 0, stderr
    (rows,) = captured
    assert _kinds(rows) == [["curve"]] + [["db", "db", "difference"]] * 3
    assert [row[0].title for row in rows[1:]] == ["a: target", "b: target", "c: target"]


def test_demo_figure_shows_the_estimates_and_their_scores(tmp_path, captured):
    code, _, stderr = run_cli(["demo", "--seconds", "1", "--n-iter", "2", "--backend", "cpu",
                               "--out", str(tmp_path / "out")])
    assert code == 0, stderr
    (rows,) = captured
    methods = {m["key"]: m for m in json.loads((tmp_path / "out" / "results.json").read_text())["methods"]}
    stems = list(methods["irm"]["si_sdr_db"])
    assert _kinds(rows) == [["db"]] + [["db", "mask", "db", "db", "db"]] * len(stems)
    for name, row in zip(stems, rows[1:]):
        assert row[2].title == f"ratio-mask estimate: SI-SDR {methods['irm']['si_sdr_db'][name]:.1f} dB"
        assert row[3].title == f"Griffin-Lim: SC {methods['griffinlim']['spectral_convergence_db'][name]:.1f} dB"
        assert row[4].title == (f"MISI: SI-SDR {methods['misi']['si_sdr_db'][name]:.1f} dB, "
                                f"SC {methods['misi']['spectral_convergence_db'][name]:.1f} dB")
