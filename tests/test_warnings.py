"""Warnings for inputs that are valid but most likely not what the caller meant (librosa's cases)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import specsep


def test_signal_shorter_than_n_fft_warns(backend):
    with pytest.warns(UserWarning, match=r"^n_fft=2048 is too large for x of 1000 samples on its last axis$") as record:
        specsep.stft(np.zeros(1000, np.float32), n_fft=2048, backend=backend)
    assert record[0].filename == __file__  # attributed to the caller's line, not to specsep
    with pytest.warns(UserWarning, match=r"n_fft=2048 is too large for x_mix of 1000 samples"):
        specsep.separate(np.zeros(1000), np.ones((1025, 2)), n_fft=2048, backend=backend)


def test_samples_on_the_wrong_axis_names_the_likely_cause():
    """soundfile returns (samples, channels): the STFT of that array frames the 2 channels."""
    stereo = np.zeros((44100, 2), np.float32)
    with pytest.warns(UserWarning, match=r"x has shape \(44100, 2\): specsep takes signals as \(\.\.\., samples\), "
                                         r"so if axis 0 holds the samples .* pass x\.T"):
        specsep.stft(stereo, n_fft=1024)
    with pytest.warns(UserWarning, match=r"axis 1 holds the samples"):
        specsep.STFT(1024).forward(np.zeros((2, 44100, 1), np.float32))


def test_no_warning_for_signals_of_a_frame_or_more():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        specsep.stft(np.zeros((2, 2048), np.float32), n_fft=2048)
        specsep.mel_filterbank(22050, 2048, n_mels=128)


@pytest.mark.parametrize("sr, n_fft, fmax", [(8000, 2048, 16000.0), (22050, 256, None)],
                         ids=["fmax-above-nyquist", "too-many-mels"])
def test_empty_mel_filters_warn(sr, n_fft, fmax):
    with pytest.warns(UserWarning, match=r"^(\d+) of the n_mels=128 mel filters are empty") as record:
        weights = specsep.mel_filterbank(sr, n_fft, n_mels=128, fmax=fmax)
    empty = int((weights.max(axis=1) == 0).sum())
    assert empty > 0 and str(record[0].message).startswith(f"{empty} of")
    assert record[0].filename == __file__
