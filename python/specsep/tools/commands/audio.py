"""WAV files for the commands: a mixture with its sources, read and checked; estimates, written.

Reading needs the optional soundfile package; every signal comes back as float32 with channels
first, ``(channels, samples)``, whatever the file's sample format, rate or channel count.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import outputs


class AudioError(ValueError):
    """Files that cannot be read, or that do not go together (sample rate, channels)."""


class NameClash(AudioError):
    """Two source files whose names differ only in case: their sources would share a name."""


def available() -> bool:
    """Whether soundfile can be imported."""
    try:
        soundfile_module()
    except AudioError:
        return False
    return True


def soundfile_module():
    """The soundfile module; :class:`AudioError` when it is not installed."""
    try:
        import soundfile
    except ImportError:
        raise AudioError("reading and writing WAV files needs the soundfile package (pip install soundfile)") from None
    return soundfile


@dataclass(frozen=True)
class Recording:
    """A mixture and its sources, as read from files.

    Attributes
    ----------
    mix : np.ndarray, shape (channels, samples), float32
    sources : np.ndarray, shape (channels, J, samples), float32
        In the order of ``names``.
    names : tuple of str
        The sources' file names without their suffix.
    sr : int
        Sample rate in Hz, the same for every file.
    notes : tuple of str
        What was done to make the files fit together (files cut to the shortest).
    """

    mix: np.ndarray
    sources: np.ndarray
    names: tuple
    sr: int
    notes: tuple = ()


def wav_files(folder: Path, exclude: Path | None = None) -> list:
    """The ``*.wav`` files of ``folder`` (any case of the suffix), sorted by name, but ``exclude``
    and hidden files (macOS's ``._*`` companions, the commands' unfinished temporary files).

    Raises
    ------
    NameClash
        Two of them have names that differ only in case (``bass.wav``, ``bass.WAV``): as sources
        they would share a name, and their estimates a file.
    """
    excluded = None if exclude is None else exclude.resolve()
    paths = sorted((p for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() == ".wav" and not p.name.startswith(".")
                    and p.resolve() != excluded),
                   key=lambda p: p.name)
    seen = {}
    for path in paths:
        other = seen.setdefault(path.stem.casefold(), path)
        if other is not path:
            raise NameClash(f"{other} and {path} have the same source name but for case; rename one")
    return paths


def read_stems_folder(mix_path: Path, stems_dir: Path, seconds: float | None = None) -> Recording:
    """A mixture file and every other WAV file of ``stems_dir`` as its sources.

    Parameters
    ----------
    mix_path : Path
        The mixture; it may lie in ``stems_dir`` (it is then not a source).
    stems_dir : Path
        Folder of the sources: every ``*.wav`` in it but the mixture, sorted by name.
    seconds : float, optional
        Read only the first ``seconds`` of every file; default all.

    Returns
    -------
    Recording

    Raises
    ------
    AudioError
        A missing file or folder, no sources, or as :func:`read_recording`.
    """
    soundfile_module()
    if not mix_path.is_file():
        raise AudioError(f"the mixture {mix_path} is not a file")
    if not stems_dir.is_dir():
        raise AudioError(f"the stems folder {stems_dir} is not a folder")
    sources = wav_files(stems_dir, exclude=mix_path)
    if not sources:
        raise AudioError(f"no .wav files in {stems_dir} besides the mixture")
    return read_recording(mix_path, sources, seconds)


def read_recording(mix_path: Path, source_paths, seconds: float | None = None) -> Recording:
    """A mixture and its sources from files that must share their sample rate and channel count.

    Files of different lengths are cut to the shortest (with a note in the result).

    Parameters
    ----------
    mix_path : Path
    source_paths : sequence of Path
        The sources, in the order wanted; their names are the file names without suffix.
    seconds : float, optional
        Read only the first ``seconds`` of every file; default all.

    Returns
    -------
    Recording

    Raises
    ------
    AudioError
        soundfile missing, a file it cannot read, sample rates or channel counts that differ
        (the message names the files), or no samples.
    """
    soundfile = soundfile_module()
    paths = [Path(mix_path)] + [Path(p) for p in source_paths]
    infos = {}
    for path in paths:
        with _reading(path):
            infos[path] = soundfile.info(str(path))
    mix_path, source_paths = paths[0], paths[1:]
    sr = infos[mix_path].samplerate
    wrong = [f"{p} is {infos[p].samplerate} Hz" for p in source_paths if infos[p].samplerate != sr]
    if wrong:
        raise AudioError(f"sample rates differ: the mixture {mix_path} is {sr} Hz but " + ", ".join(wrong))
    channels = infos[mix_path].channels
    wrong = [f"{p} has {infos[p].channels}" for p in source_paths if infos[p].channels != channels]
    if wrong:
        raise AudioError(f"channel counts differ: the mixture {mix_path} has {channels} but " + ", ".join(wrong))

    frames = -1 if seconds is None else max(1, int(round(seconds * sr)))
    signals = [read_wav(path, frames)[0] for path in paths]
    lengths = {path: s.shape[-1] for path, s in zip(paths, signals)}
    n = min(lengths.values())
    if n == 0:
        raise AudioError(f"{min(lengths, key=lengths.get)} has no samples")
    notes = ()
    if len(set(lengths.values())) > 1:
        notes = (f"the files have different lengths; all were cut to the shortest, {n} samples",)
    mix = np.ascontiguousarray(signals[0][:, :n])
    sources = np.stack([s[:, :n] for s in signals[1:]], axis=1)
    return Recording(mix, sources, tuple(p.stem for p in source_paths), sr, notes)


def read_wav(path: Path, frames: int = -1) -> tuple:
    """One audio file as ``(signal, sr)``: ``signal`` float32 ``(channels, samples)``, ``sr`` in Hz.

    Parameters
    ----------
    path : Path
    frames : int
        Read only the first ``frames`` samples of each channel; -1 (default) reads them all.

    Raises
    ------
    AudioError
        soundfile missing, a file it cannot read, or NaN or infinite samples (a float file).
    """
    soundfile = soundfile_module()
    with _reading(path):
        data, sr = soundfile.read(str(path), frames=frames, dtype="float32", always_2d=True)
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path} holds NaN or infinite samples")
    return np.ascontiguousarray(data.T), sr


@contextmanager
def _reading(path):
    """Turn soundfile's errors (RuntimeErrors) and the system's into an :class:`AudioError` naming
    ``path`` and the reason.

    The file is opened by Python first: libsndfile reports a missing or unreadable file as
    "System error.", while the system's own reason ("No such file or directory", "Permission
    denied", "Is a directory") tells the user what to fix.
    """
    try:
        with open(path, "rb"):
            pass
        yield
    except (RuntimeError, OSError) as exc:
        # libsndfile's own reason without soundfile's "Error opening '<path>': " (the path is said once)
        reason = getattr(exc, "strerror", None) or getattr(exc, "error_string", None) or exc
        raise AudioError(f"cannot read {path}: {reason}") from None


def write_wav(path: Path, signal: np.ndarray, sr: int, subtype: str = "FLOAT") -> None:
    """Write ``signal`` ``(channels, samples)`` as a WAV file, creating its folder.

    ``subtype="FLOAT"`` (32-bit float) keeps estimates that exceed full scale; ``"PCM_16"`` suits
    signals on the 16-bit grid. The file is written under a temporary name and renamed, so an
    interrupted write leaves no truncated file.

    Raises
    ------
    OSError
        The file cannot be written (soundfile's errors are turned into one naming ``path``).
    """
    soundfile = soundfile_module()
    path.parent.mkdir(parents=True, exist_ok=True)
    with outputs.replacing(path) as temporary:
        try:
            soundfile.write(str(temporary), np.asarray(signal).T, sr, subtype=subtype, format="WAV")
        except RuntimeError as exc:  # soundfile.LibsndfileError
            raise OSError(f"cannot write {path}: {exc}") from None
