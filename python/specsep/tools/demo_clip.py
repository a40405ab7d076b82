"""A synthetic four-stem clip for ``specsep demo``: NumPy only, seeded, the same bits every run.

Four instruments on a 120 bpm grid in A minor (chords Am F C G, one per half bar):

- ``drums``: kick drums (sine sweeps from ~155 Hz down to 45 Hz) on every beat, snare drums
  (band-passed noise bursts with a 185 Hz body) on the off beats, closed hi-hats (high-passed
  noise ticks) on every eighth;
- ``bass``: eighth notes on the chord roots, a band-limited sawtooth;
- ``keys``: the chords as sums of harmonic tones with a slow decay;
- ``lead``: a pentatonic melody with delayed vibrato.

Every stem is quantised to the 16-bit grid (multiples of 2**-15), so the float32 mixture is the
*exact* sum of the stems and all of them round-trip through 16-bit PCM WAV files unchanged.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 22050
STEM_NAMES = ("drums", "bass", "keys", "lead")
SEED = 20261125

_BEAT = 0.5  # seconds per beat at 120 bpm
_CHORDS = (  # (bass root, keys triad) in MIDI note numbers, one chord per two beats
    (45, (57, 60, 64)),  # A minor
    (41, (53, 57, 60)),  # F major
    (48, (60, 64, 67)),  # C major
    (43, (55, 59, 62)),  # G major
)
_MELODY = (  # (MIDI note, length in eighths), A minor pentatonic, 16 eighths = two bars
    (76, 2), (74, 1), (72, 1), (69, 2), (72, 2),
    (74, 1), (76, 1), (79, 2), (81, 3), (79, 1),
)
_RMS = {"drums": 0.14, "bass": 0.11, "keys": 0.08, "lead": 0.09}
_PEAK = 0.9  # peak of the mixture before quantisation
_QUANTUM = 2.0 ** -15


def _hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _place(out, start, sound):
    """Add ``sound`` into ``out`` at sample ``start``, cut at the end of ``out``."""
    if start >= out.shape[-1]:
        return
    stop = min(out.shape[-1], start + sound.shape[-1])
    out[start:stop] += sound[: stop - start]


def _envelope(n, sr, attack, decay, release):
    """Linear attack, exponential decay (time constant ``decay`` s), linear release at the end."""
    t = np.arange(n) / sr
    env = np.exp(-t / decay) if decay else np.ones(n)
    n_attack = max(1, int(attack * sr))
    env[:n_attack] *= np.linspace(0.0, 1.0, n_attack, endpoint=False)
    n_release = min(n, max(1, int(release * sr)))
    env[n - n_release:] *= np.linspace(1.0, 0.0, n_release)
    return env


def _harmonic_tone(freq, n, sr, amplitudes, phase=None):
    """Sum of harmonics ``amplitudes[k-1] * sin(k * phase)`` below 0.45 ``sr``; ``freq`` may vary."""
    if phase is None:
        phase = 2.0 * np.pi * freq * np.arange(n) / sr
    top = np.max(freq)
    tone = np.zeros(n)
    for k, a in enumerate(amplitudes, start=1):
        if k * top < 0.45 * sr:
            tone += a * np.sin(k * phase)
    return tone


def _noise_burst(rng, n, sr, smooth, highpass, decay):
    """White noise, high-passed by ``highpass`` first differences, low-passed by a ``smooth``-tap
    moving average, with an exponential decay."""
    noise = rng.standard_normal(n + highpass + smooth)
    noise = np.diff(noise, n=highpass) if highpass else noise
    if smooth > 1:
        noise = np.convolve(noise, np.ones(smooth) / smooth, mode="valid")
    noise = noise[:n]
    return noise / np.max(np.abs(noise)) * np.exp(-np.arange(n) / (decay * sr))


def _drums(rng, n, sr):
    out = np.zeros(n)
    n_beats = int(np.ceil(n / (_BEAT * sr)))
    kick_n = int(0.35 * sr)
    t = np.arange(kick_n) / sr
    sweep = 45.0 + 110.0 * np.exp(-t / 0.03)
    kick = np.sin(2.0 * np.pi * np.cumsum(sweep) / sr) * _envelope(kick_n, sr, 0.002, 0.12, 0.02)
    for beat in range(n_beats):
        start = int(round(beat * _BEAT * sr))
        velocity = 0.9 + 0.1 * rng.random()
        _place(out, start, velocity * kick)
        if beat % 2 == 1:
            snare_n = int(0.22 * sr)
            body = np.sin(2.0 * np.pi * 185.0 * np.arange(snare_n) / sr) * _envelope(snare_n, sr, 0.001, 0.05, 0.01)
            snare = 0.7 * _noise_burst(rng, snare_n, sr, smooth=2, highpass=1, decay=0.06) + 0.4 * body
            _place(out, start, velocity * snare)
        for eighth in range(2):
            hat_n = int(0.06 * sr)
            hat = 0.25 * _noise_burst(rng, hat_n, sr, smooth=1, highpass=2, decay=0.012)
            _place(out, start + int(round(eighth * _BEAT / 2 * sr)), (0.8 + 0.2 * rng.random()) * hat)
    return out


def _bass(rng, n, sr):
    out = np.zeros(n)
    eighth = _BEAT / 2
    saw = [(-1.0) ** (k + 1) / k for k in range(1, 16)]
    for i in range(int(np.ceil(n / (eighth * sr)))):
        root, _ = _CHORDS[(i // 4) % len(_CHORDS)]
        note = root + (12 if i % 4 == 2 else 0)
        length = int(0.9 * eighth * sr)
        tone = _harmonic_tone(_hz(note), length, sr, saw)
        velocity = 0.85 + 0.15 * rng.random()
        _place(out, int(round(i * eighth * sr)), velocity * tone * _envelope(length, sr, 0.004, 0.25, 0.015))
    return out


def _keys(rng, n, sr):
    out = np.zeros(n)
    chord_s = 2 * _BEAT
    partials = [1.0 / k ** 2 for k in range(1, 7)]
    for i in range(int(np.ceil(n / (chord_s * sr)))):
        _, triad = _CHORDS[i % len(_CHORDS)]
        length = int(chord_s * sr)
        env = _envelope(length, sr, 0.012, 0.7, 0.03)
        chord = sum(_harmonic_tone(_hz(note), length, sr, partials, phase=None) for note in triad)
        _place(out, int(round(i * chord_s * sr)), (0.9 + 0.1 * rng.random()) * chord * env)
    return out


def _lead(rng, n, sr):
    out = np.zeros(n)
    eighth = _BEAT / 2
    position = 0
    i = 0
    while position * eighth * sr < n:
        note, eighths = _MELODY[i % len(_MELODY)]
        length = int(eighths * eighth * sr)
        t = np.arange(length) / sr
        depth = 0.3 * np.clip((t - 0.12) / 0.1, 0.0, 1.0)  # semitones, after a short onset
        freq = _hz(note) * 2.0 ** (depth * np.sin(2.0 * np.pi * 5.5 * t) / 12.0)
        phase = 2.0 * np.pi * np.cumsum(freq) / sr
        tone = _harmonic_tone(freq, length, sr, (1.0, 0.5, 0.3, 0.15, 0.08), phase=phase)
        velocity = 0.85 + 0.15 * rng.random()
        _place(out, int(round(position * eighth * sr)), velocity * tone * _envelope(length, sr, 0.02, 0.0, 0.04))
        position += eighths
        i += 1
    return out


def synthesize(seconds: float = 6.0, sr: int = SAMPLE_RATE, seed: int = SEED):
    """The demo clip.

    Parameters
    ----------
    seconds : float
        Duration, ``> 0``.
    sr : int
        Sample rate in Hz.
    seed : int
        Seed of the noise and the note velocities.

    Returns
    -------
    mix : np.ndarray, shape (samples,), float32
        ``stems.sum(axis=0)``, exactly.
    stems : np.ndarray, shape (4, samples), float32
        In the order of :data:`STEM_NAMES`; multiples of ``2**-15`` with ``|mix| < 1``.
    """
    n = max(1, int(round(seconds * sr)))
    rng = np.random.default_rng(seed)
    makers = {"drums": _drums, "bass": _bass, "keys": _keys, "lead": _lead}
    stems = []
    for name in STEM_NAMES:
        stem = makers[name](rng, n, sr)
        rms = np.sqrt(np.mean(stem ** 2))
        stems.append(stem * (_RMS[name] / rms if rms > 0 else 0.0))
    stems = np.stack(stems)
    peak = np.max(np.abs(stems.sum(axis=0)))
    if peak > 0:
        stems *= _PEAK / peak
    stems = (np.round(stems / _QUANTUM) * _QUANTUM).astype(np.float32)
    mix = stems.sum(axis=0, dtype=np.float32)  # exact: every partial sum lies on the 2**-15 grid
    return mix, stems
