"""The benchmark workloads: their parameters, their inputs, and how an output is checked.

Every workload is float32 on seeded music-like signals (:mod:`.signals`). ``quick`` versions keep
every parameter but the batch and the duration, for smoke tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import signals
from .signals import GL_SEED

SEED = 20261125
CHECK_RTOL = 1e-4  # relative L2 error allowed against specsep cpu (float32 results)
GL_SC_SLACK = 0.02  # spectral convergence allowed above the reference's


@dataclass(frozen=True)
class Workload:
    key: str  # "W1"
    kind: str  # stft | istft | roundtrip | griffinlim | separate
    title: str
    batch: tuple  # leading axes of the signals, channels included
    seconds: float
    sr: int
    n_fft: int
    hop: int
    window: str = "hann"
    center: bool = True
    pad_mode: str = "constant"
    n_iter: int = 0
    momentum: float = 0.0
    n_sources: int = 0
    # Memory order of the given spectrograms: "" each implementation's own STFT's; "fortran"
    # librosa.stft's (batch axes innermost); "frames" torch.stft's (frame-major). With a layout,
    # "separate" is given the sources' STFTs in it (the masks come from them) instead of the sources.
    layout: str = ""
    base: str = ""  # the workload of the same inputs in each implementation's own layout

    @property
    def samples(self) -> int:
        return int(round(self.seconds * self.sr))

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio processed: every batch item and channel (mixtures, for separation)."""
        return float(np.prod(self.batch)) * self.samples / self.sr

    @property
    def n_frames(self) -> int:
        return 1 + self.samples // self.hop if self.center else 1 + (self.samples - self.n_fft) // self.hop

    @property
    def stft_args(self) -> dict:
        """specsep's STFT keywords for this workload."""
        return dict(n_fft=self.n_fft, hop_length=self.hop, window=self.window, center=self.center)

    def describe(self) -> str:
        shape = " x ".join(str(b) for b in self.batch)
        text = (f"{self.title}: {shape} x {self.seconds:g} s at {self.sr / 1000:g} kHz, n_fft {self.n_fft}, "
                f"hop {self.hop}, {self.window}")
        if self.kind != "istft":
            text += f", center {self.pad_mode} padding"
        if self.kind == "griffinlim":
            text += f", {self.n_iter} iterations, momentum {self.momentum:g}"
        if self.kind == "separate":
            text += f", {self.n_sources} sources, ideal ratio mask"
        if self.layout:
            text += f", spectrograms in {LAYOUT_SOURCES[self.layout]}'s layout"
        return text


LAYOUT_SOURCES = {"fortran": "librosa.stft", "frames": "torch.stft"}


WORKLOADS = (
    Workload("W1", "stft", "STFT", (16, 2), 10.0, 44100, 2048, 512, pad_mode="reflect"),
    Workload("W2", "istft", "iSTFT of W1's spectrogram", (16, 2), 10.0, 44100, 2048, 512, pad_mode="reflect"),
    Workload("W3", "roundtrip", "STFT + iSTFT", (64, 1), 4.0, 16000, 512, 128, window="sqrt_hann"),
    Workload("W4", "griffinlim", "fast Griffin-Lim", (4, 1), 10.0, 22050, 1024, 256, n_iter=32, momentum=0.99),
    Workload("W5", "separate", "oracle separation", (4, 2), 10.0, 44100, 2048, 512, n_sources=4),
    # W2 and W5 as a pipeline mixing libraries hands them over: spectrograms in another STFT's layout
    Workload("W2L", "istft", "iSTFT of librosa's W1 spectrogram", (16, 2), 10.0, 44100, 2048, 512,
             pad_mode="reflect", layout="fortran", base="W2"),
    Workload("W2T", "istft", "iSTFT of torch's W1 spectrogram", (16, 2), 10.0, 44100, 2048, 512,
             pad_mode="reflect", layout="frames", base="W2"),
    Workload("W5L", "separate", "oracle separation from librosa's STFTs", (4, 2), 10.0, 44100, 2048, 512,
             n_sources=4, layout="fortran", base="W5"),
    Workload("W6", "stft", "STFT at a prime n_fft", (4, 2), 10.0, 44100, 4093, 1024),
)
KEYS = tuple(w.key for w in WORKLOADS)


def select(keys=None, quick=False):
    """The workloads named in ``keys`` (all by default), shrunk to batch 1 x 0.5 s when ``quick``."""
    chosen = [w for w in WORKLOADS if keys is None or w.key in keys]
    if quick:
        chosen = [replace(w, batch=(1,) * (len(w.batch) - 1) + (w.batch[-1],), seconds=0.5) for w in chosen]
    return chosen


def make_inputs(w: Workload) -> dict:
    """The inputs of a workload, as NumPy arrays (spectrograms as specsep cpu returns them; each
    implementation's ``bind`` lays them out as the workload or its own STFT does)."""
    import specsep

    batch, channels = int(np.prod(w.batch[:-1])), w.batch[-1]
    seed = SEED + KEYS.index(w.key)
    if w.kind == "separate":
        src = signals.sources(batch, channels, w.n_sources, w.seconds, w.sr, seed)
        src = src.reshape(w.batch + src.shape[-2:])
        mix = src.sum(axis=-2, dtype=np.float32)
        if w.layout:
            S = specsep.stft(src, **w.stft_args, pad_mode=w.pad_mode, backend="cpu")
            return {"sources_stft": S, "mix": mix}
        return {"sources": src, "mix": mix}
    x = signals.mixtures(batch, channels, w.seconds, w.sr, seed).reshape(w.batch + (w.samples,))
    if w.kind in ("stft", "roundtrip"):
        return {"x": x}
    X = specsep.stft(x, **w.stft_args, pad_mode=w.pad_mode, backend="cpu")
    if w.kind == "istft":
        return {"X": X}
    return {"S": np.abs(X)}  # griffinlim


def reference(w: Workload, inputs: dict):
    """specsep cpu's output, which every implementation's output is compared with."""
    from .peers import Specsep

    return Specsep("cpu").bind(w, inputs)()


def spectral_convergence(w: Workload, y, S) -> float:
    """``|| |STFT(y)| - S || / ||S||`` over the whole batch, computed by specsep cpu in float64."""
    import specsep

    Y = specsep.stft(np.asarray(y, dtype=np.float64), **w.stft_args, pad_mode=w.pad_mode, backend="cpu")
    S = np.asarray(S, dtype=np.float64)
    return float(np.linalg.norm((np.abs(Y) - S).ravel()) / np.linalg.norm(S.ravel()))


def rel_error(actual, expected, interior=0) -> float:
    """Relative L2 error; with ``interior``, signals lose that many samples at each end first."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise ValueError(f"output shape {actual.shape}, expected {expected.shape}")
    if interior:
        actual, expected = actual[..., interior:-interior], expected[..., interior:-interior]
    diff = actual.astype(np.complex128 if actual.dtype.kind == "c" else np.float64) - expected
    return float(np.linalg.norm(diff.ravel()) / np.linalg.norm(expected.ravel()))


def check(w: Workload, output, ref, inputs, interior=False) -> dict:
    """Whether ``output`` computes what specsep computes: relative error against ``ref`` (or,
    for Griffin-Lim, whose waveform depends on rounding, the final spectral convergence)."""
    if w.kind == "griffinlim":
        sc = spectral_convergence(w, output, inputs["S"])
        sc_ref = spectral_convergence(w, ref, inputs["S"])
        return {"spectral_convergence": sc, "error": None, "ok": bool(sc <= sc_ref + GL_SC_SLACK)}
    error = rel_error(output, ref, interior=w.n_fft if interior else 0)
    return {"error": error, "ok": bool(error <= CHECK_RTOL)}
