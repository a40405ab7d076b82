"""Seeded, music-like test signals for the benchmarks: NumPy only, the same bits every run.

A source is a sequence of notes: harmonic tones (a fundamental on a pentatonic scale and its
partials with a 1/h roll-off and a little inharmonicity) under an attack/decay envelope, or for
a drum source short noise bursts with a low "body" tone, plus a quiet noise floor. Several
sources sound at once, stereo by constant-power panning. Spectra therefore have the structure of
music (sparse harmonic lines, onsets, silence between notes) rather than that of white noise,
which matters for masks and phase retrieval.
"""

from __future__ import annotations

import numpy as np

KINDS = ("drums", "bass", "keys", "lead")  # one instrument per source index, cycling
_PENTATONIC = np.array([0, 3, 5, 7, 10])  # minor pentatonic, semitones above the root
_OCTAVES = {"bass": (1, 2), "keys": (3, 4), "lead": (4, 6)}  # octaves above MIDI 21 (A0)
_NOTE_SECONDS = {"drums": (0.08, 0.25), "bass": (0.2, 0.6), "keys": (0.5, 1.5), "lead": (0.15, 0.5)}
_NOTES_PER_SECOND = {"drums": 4.0, "bass": 2.5, "keys": 1.5, "lead": 3.0}
_HARMONICS = {"bass": 6, "keys": 10, "lead": 8}
_NOISE_FLOOR = 1e-3
_TABLE = 4096  # wavetable length of one period

GL_SEED = 7  # seed of the random initial phases of Griffin-Lim, shared by every implementation


def _envelope(n, sr, rng):
    """Linear attack of 2-20 ms, then an exponential decay over the note."""
    attack = max(1, int(sr * rng.uniform(0.002, 0.02)))
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    env = np.exp(-t * np.float32(rng.uniform(2.0, 8.0)), dtype=np.float32)
    env[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False, dtype=np.float32)
    env[-min(n, 64):] *= np.linspace(1.0, 0.0, min(n, 64), dtype=np.float32)  # no click at the end
    return env


def _tone(kind, n, sr, rng):
    """One note of a pitched instrument: harmonic partials under an envelope.

    The partials (1/h roll-off, random phases, none above 0.45 sr) are summed once into a
    one-period wavetable, which the note then reads at the fundamental's rate.
    """
    low, high = _OCTAVES[kind]
    midi = 21 + 12 * rng.integers(low, high) + rng.choice(_PENTATONIC)
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    harmonics = np.arange(1, min(_HARMONICS[kind], int(0.45 * sr / f0)) + 1)
    phases = rng.uniform(0.0, 2.0 * np.pi, harmonics.size)
    grid = np.arange(_TABLE) * (2.0 * np.pi / _TABLE)
    table = (np.sin(np.outer(grid, harmonics) + phases) / harmonics).sum(axis=1).astype(np.float32)
    index = (np.arange(n) * (f0 / sr * _TABLE)).astype(np.int64) % _TABLE
    return table[index] * _envelope(n, sr, rng)


def _hit(n, sr, rng):
    """One drum hit: a noise burst with a decaying low body tone."""
    t = np.arange(n, dtype=np.float64) / sr
    body = np.sin(2.0 * np.pi * rng.uniform(50.0, 200.0) * t).astype(np.float32)
    noise = rng.standard_normal(n).astype(np.float32) * np.float32(rng.uniform(0.2, 1.0))
    return (body + noise) * _envelope(n, sr, rng)


def source(kind, n, sr, rng):
    """A mono source of ``n`` samples at ``sr`` Hz, float32, peak around 1."""
    out = np.zeros(n, dtype=np.float32)
    seconds = n / sr
    count = max(1, int(round(_NOTES_PER_SECOND[kind] * seconds)))
    shortest, longest = _NOTE_SECONDS[kind]
    for _ in range(count):
        length = min(n, max(1, int(sr * rng.uniform(shortest, longest))))
        start = int(rng.integers(0, max(1, n - length // 2)))
        note = _hit(length, sr, rng) if kind == "drums" else _tone(kind, length, sr, rng)
        stop = min(n, start + length)
        out[start:stop] += np.float32(rng.uniform(0.3, 1.0)) * note[: stop - start]
    out += _NOISE_FLOOR * rng.standard_normal(n).astype(np.float32)
    peak = float(np.max(np.abs(out)))
    return out / np.float32(peak) if peak > 0 else out


def sources(batch, channels, n_sources, seconds, sr, seed):
    """Stereo (or ``channels``-channel) sources, float32 ``(batch, channels, n_sources, samples)``.

    Source ``j`` plays instrument ``KINDS[j % 4]``; each is panned to the channels with
    constant-power gains drawn per source.
    """
    n = int(round(seconds * sr))
    out = np.empty((batch, channels, n_sources, n), dtype=np.float32)
    for b in range(batch):
        for j in range(n_sources):
            rng = np.random.default_rng([seed, b, j])
            mono = source(KINDS[j % len(KINDS)], n, sr, rng)
            pan = rng.uniform(0.2, 0.8) * np.pi / 2
            gains = np.cos(pan + np.linspace(0.0, np.pi / 2, channels)) if channels > 1 else np.ones(1)
            out[b, :, j] = np.float32(0.5) * gains[:, None].astype(np.float32) * mono
    return out


def mixtures(batch, channels, seconds, sr, seed, n_sources=4):
    """Mixtures of ``n_sources`` sources, float32 ``(batch, channels, samples)``."""
    return sources(batch, channels, n_sources, seconds, sr, seed).sum(axis=-2, dtype=np.float32)
