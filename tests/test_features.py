"""Features: magnitude, power, decibels, mel filterbank and mel spectrogram, against librosa."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

import specsep

from conftest import ORACLE_RTOL, RTOL, assert_close

COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}

# Decibel values are 10 log10 of the data computed in float64 then cast once: one rounding in the
# output dtype of a value of magnitude up to ~|max dB|, so elementwise atol = a few ulps * 100 dB.
DB_ATOL = {np.dtype(np.float32): 100 * 4 * np.finfo(np.float32).eps,
           np.dtype(np.float64): 1e-11}


def test_magnitude_and_power(rng, dtype):
    X = (rng.standard_normal((2, 5, 4)) + 1j * rng.standard_normal((2, 5, 4))).astype(COMPLEX_OF[dtype])
    mag = specsep.magnitude(X)
    pw = specsep.power(X)
    assert mag.dtype == dtype and pw.dtype == dtype and mag.shape == pw.shape == X.shape
    assert_close(mag, np.abs(X.astype(np.complex128)), RTOL[dtype])
    assert_close(pw, np.abs(X.astype(np.complex128)) ** 2, RTOL[dtype])
    assert_close(pw, mag.astype(np.float64) ** 2, RTOL[dtype])
    # 0-d and 1-d inputs are accepted
    assert specsep.magnitude(np.complex128(3 + 4j)) == 5.0
    assert specsep.power(np.array([3 + 4j])) == 25.0


def _spectrum(rng, dtype):
    S = rng.random((2, 17, 9)) ** 4 * 50.0  # wide dynamic range, > 80 dB
    S[0, 0, :3] = 0.0
    S[1, 3, 2] = 1e-14  # below amin
    return S.astype(dtype)


@pytest.mark.parametrize("ref", [1.0, 0.25, np.max, np.median])
@pytest.mark.parametrize("amin", [1e-10, 1e-5])
@pytest.mark.parametrize("top_db", [None, 80.0, 20.0])
def test_power_to_db_equals_librosa(rng, dtype, ref, amin, top_db):
    S = _spectrum(rng, dtype)
    ours = specsep.power_to_db(S, ref=ref, amin=amin, top_db=top_db)
    theirs = librosa.power_to_db(S, ref=ref, amin=amin, top_db=top_db)
    assert ours.dtype == dtype and ours.shape == S.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=DB_ATOL[dtype])


@pytest.mark.parametrize("ref", [1.0, 3.0, np.max])
@pytest.mark.parametrize("amin", [1e-5, 1e-3])
@pytest.mark.parametrize("top_db", [None, 80.0, 40.0])
def test_amplitude_to_db_equals_librosa(rng, dtype, ref, amin, top_db):
    S = np.sqrt(_spectrum(rng, dtype))
    ours = specsep.amplitude_to_db(S, ref=ref, amin=amin, top_db=top_db)
    theirs = librosa.amplitude_to_db(S, ref=ref, amin=amin, top_db=top_db)
    assert ours.dtype == dtype and ours.shape == S.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=DB_ATOL[dtype])


def test_db_known_values():
    np.testing.assert_allclose(specsep.power_to_db(np.array([1.0, 10.0, 100.0]), top_db=None), [0.0, 10.0, 20.0])
    np.testing.assert_allclose(specsep.amplitude_to_db(np.array([1.0, 10.0, 100.0]), top_db=None), [0.0, 20.0, 40.0])
    np.testing.assert_allclose(specsep.power_to_db(np.array([1.0, 1e-12]), top_db=80.0), [0.0, -80.0])
    np.testing.assert_allclose(specsep.power_to_db(np.array([4.0, 2.0]), ref=np.max, top_db=None),
                               [0.0, -10 * np.log10(2)], atol=1e-12)


# ---- mel ---------------------------------------------------------------------------------------


MEL_CONFIGS = [
    dict(sr=22050, n_fft=2048, n_mels=128),
    dict(sr=22050, n_fft=2047, n_mels=64),
    dict(sr=16000, n_fft=512, n_mels=40, fmin=20.0, fmax=7600.0),
    dict(sr=44100, n_fft=1024, n_mels=80, fmin=100.0, fmax=16000.0),
    dict(sr=8000, n_fft=255, n_mels=20, fmin=0.0, fmax=3000.0),
    dict(sr=48000, n_fft=4096, n_mels=256),
]


# every norm librosa.util.normalize knows: max (inf), min (-inf), count of non-zeros (0), p-norms
MEL_NORMS = ["slaney", None, 1, 2, 1.5, np.inf, -np.inf, 0]


@pytest.mark.parametrize("config", MEL_CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("norm", MEL_NORMS, ids=str)
def test_mel_filterbank_equals_librosa(config, htk, norm):
    ours = specsep.mel_filterbank(**config, htk=htk, norm=norm, dtype=np.float64)
    theirs = librosa.filters.mel(**config, htk=htk, norm=norm, dtype=np.float64)
    assert ours.shape == (config["n_mels"], config["n_fft"] // 2 + 1) and ours.dtype == np.float64
    assert_close(ours, theirs, ORACLE_RTOL)


@pytest.mark.parametrize("htk", [False, True])
def test_mel_filterbank_float32(htk):
    ours = specsep.mel_filterbank(22050, 2048, htk=htk)
    theirs = librosa.filters.mel(sr=22050, n_fft=2048, htk=htk)
    assert ours.dtype == np.float32 == theirs.dtype
    assert_close(ours, theirs, RTOL[np.dtype(np.float32)])


def test_mel_filterbank_shape_properties():
    fb = specsep.mel_filterbank(16000, 512, n_mels=40, norm=None, dtype=np.float64)
    assert np.all(fb >= 0) and np.all(fb <= 1 + 1e-12)
    assert np.all(fb.max(axis=1) > 0)  # no empty band at this resolution
    # triangles: each row rises then falls (unimodal)
    for row in fb:
        nz = np.flatnonzero(row)
        peak = np.argmax(row)
        assert np.all(np.diff(row[nz[0]:peak + 1]) >= 0) and np.all(np.diff(row[peak:nz[-1] + 1]) <= 0)
    # numeric norm: unit p-norm rows
    for p in (1, 2):
        rows = specsep.mel_filterbank(16000, 512, n_mels=40, norm=p, dtype=np.float64)
        np.testing.assert_allclose(np.sum(rows ** p, axis=1) ** (1 / p), 1.0, rtol=1e-12)


MELSPEC_CONFIGS = [
    dict(n_fft=512, hop_length=128, n_mels=40),
    dict(n_fft=511, hop_length=100, n_mels=32, window="hamming", power=1.0),
    dict(n_fft=256, hop_length=64, win_length=200, n_mels=24, center=False, fmin=50.0, fmax=4000.0),
    dict(n_fft=512, hop_length=256, n_mels=40, pad_mode="reflect", htk=True, norm=None),
]


@pytest.mark.parametrize("config", MELSPEC_CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_mel_spectrogram_equals_librosa(rng, backend, dtype, config):
    sr = 16000
    x = rng.standard_normal((2, 3000)).astype(dtype)
    config = dict(config)
    config.setdefault("pad_mode", "constant")  # librosa's default since 0.10; passed explicitly
    ours = specsep.mel_spectrogram(x, sr, **config, backend=backend)
    theirs = librosa.feature.melspectrogram(y=x, sr=sr, **config)
    assert ours.dtype == dtype and ours.shape == theirs.shape
    assert ours.shape[:-1] == (2, config["n_mels"])
    # librosa.feature.melspectrogram builds its filterbank in float32 (filters.mel's default dtype)
    # even for float64 signals, so it differs from an exact float64 result by float32 rounding of
    # the weights; both sides also carry float32 arithmetic at float32: 10x RTOL[float32].
    assert_close(ours, theirs, 10 * RTOL[np.dtype(np.float32)])
    if dtype == np.float64:
        # exact float64 oracle from librosa's pieces: filters.mel(dtype=float64) @ |librosa.stft|^p
        stft_kw = {k: config[k] for k in ("n_fft", "hop_length", "win_length", "window", "center", "pad_mode")
                   if k in config}
        mel_kw = {k: config[k] for k in ("n_mels", "fmin", "fmax", "htk", "norm") if k in config}
        spec = np.abs(librosa.stft(x, **stft_kw)) ** config.get("power", 2.0)
        basis = librosa.filters.mel(sr=sr, n_fft=config["n_fft"], **mel_kw, dtype=np.float64)
        # float64 STFT rounding is ~1e-15 relative; powers of it and a matmul stay well under 10x.
        assert_close(ours, np.matmul(basis, spec), 10 * ORACLE_RTOL)


def test_mel_spectrogram_is_filterbank_times_stft_power(rng, backend):
    x = rng.standard_normal(4000)
    ours = specsep.mel_spectrogram(x, 22050, n_fft=1024, hop_length=256, n_mels=64, power=2.0, backend=backend)
    X = specsep.stft(x, n_fft=1024, hop_length=256, backend="numpy")
    expected = specsep.mel_filterbank(22050, 1024, n_mels=64, dtype=np.float64) @ np.abs(X) ** 2
    assert_close(ours, expected, RTOL[np.dtype(np.float64)])
