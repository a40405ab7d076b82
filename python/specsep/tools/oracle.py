"""Oracle separation of a dataset: each track's mixture separated with masks computed from its true
sources, and every estimate scored against its source.

This is the work behind ``specsep oracle``: the upper bound a mask of a given kind reaches on a
dataset, given perfect knowledge of the sources.

Dataset layouts
---------------
A dataset is a folder of track folders (sorted by name; hidden folders are skipped), or one track
folder. A track folder holds

- ``mixture.wav`` (MUSDB18-HQ) or ``mix.wav`` (Slakh2100 and ``../shared/music``), the mixture;
- its sources: the WAV files of its ``stems/`` subfolder when it has one (Slakh2100), else every
  other ``*.wav`` of the track folder (MUSDB18-HQ); sorted by name, named by their file names;
  hidden files (macOS's ``._*`` companions) skipped. Two sources whose names differ only in case
  fail the track.

The mixture is the one read from its file, not the sum of the sources. A track's files must share
their sample rate and channel count; files of different lengths are cut to the shortest (with a
note in the result).

Scores
------
Per source, over all its channels laid end to end: SI-SDR and SNR (:mod:`specsep.metrics`;
SNR ``10 log10(|s|^2 / |s - s_hat|^2)`` is what many papers call SDR), and BSS Eval SDR with
512-tap distortion filters when fast_bss_eval is installed.

Scaling out
-----------
:func:`run_tracks` is a module-level function of picklable arguments: :func:`evaluate` maps it
over the batches of tracks, in this process or on the workers of a ``dask.distributed.Client``
(``client=``), with the same results either way. Workers read the tracks and write the estimates
and figures themselves, so they need the paths as this process sees them (a shared file system).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specsep import masks, separate, stft

from .commands import audio, figures, outputs, prefetch, scores
from .commands.options import stft_size

__all__ = ["MASKS", "Options", "Track", "TrackResult", "evaluate", "find_tracks", "run_track", "run_tracks"]

#: The masks, by key: ``specsep.masks.ideal_binary``, ``ideal_ratio``, ``wiener`` (the ratio of
#: powers; the same function as ``ideal_ratio``) and ``phase_sensitive``.
MASKS = {
    "ibm": "ideal binary mask",
    "irm": "ideal ratio mask",
    "wiener": "Wiener mask",
    "psm": "phase-sensitive mask",
}
_MIXTURE_NAMES = ("mixture.wav", "mix.wav")
_STEMS_FOLDER = "stems"

# What fails one track (or one batch of tracks) without stopping the others: unreadable or
# mismatched files (AudioError is a ValueError), bad sizes, full disks, missing optional packages,
# non-finite estimates (ArithmeticError).
_TRACK_FAILURES = (ValueError, TypeError, OSError, RuntimeError, MemoryError, ImportError, ArithmeticError)


@dataclass(frozen=True)
class Track:
    """One track of a dataset: a folder with a mixture and its sources (see the module's layouts).

    Attributes
    ----------
    name : str
        The folder's name.
    folder : Path
        Absolute, so that the track can be read from another working directory.
    """

    name: str
    folder: Path

    def files(self) -> tuple:
        """``(mixture, sources)``: the mixture's path and the sources' paths, sorted by name.

        Raises
        ------
        ValueError
            No mixture, two mixtures, or no sources; ``audio.NameClash`` (a ValueError) for two
            sources whose names differ only in case.
        """
        mixtures = [self.folder / name for name in _MIXTURE_NAMES if (self.folder / name).is_file()]
        if not mixtures:
            raise ValueError(f"no {' or '.join(_MIXTURE_NAMES)} in {self.folder}")
        if len(mixtures) > 1:
            raise ValueError(f"both {' and '.join(_MIXTURE_NAMES)} in {self.folder}: which is the mixture?")
        stems = self.folder / _STEMS_FOLDER
        if stems.is_dir():
            sources = audio.wav_files(stems)
            where = f"{stems}"
        else:
            sources = audio.wav_files(self.folder, exclude=mixtures[0])
            where = f"{self.folder} besides {mixtures[0].name} (nor a {_STEMS_FOLDER}/ folder)"
        if not sources:
            raise ValueError(f"no source .wav files in {where}")
        return mixtures[0], tuple(sources)


@dataclass(frozen=True)
class Options:
    """How :func:`run_tracks` separates and scores; see :func:`evaluate` for the meaning of each."""

    mask: str = "irm"
    power: float = 2.0
    n_fft: int | None = None
    hop_length: int | None = None
    backend: str | None = None
    bss_eval: bool = False
    out: Path | None = None
    write_stems: bool = False
    plot: bool = False

    def __post_init__(self):
        if self.mask not in MASKS:
            raise ValueError(f"mask={self.mask!r} is not one of {', '.join(map(repr, MASKS))}")
        if not (np.isfinite(self.power) and self.power >= 0):
            raise ValueError(f"power={self.power!r} must be a finite number >= 0")
        if (self.write_stems or self.plot) and self.out is None:
            raise ValueError("write_stems and plot need an output folder, out=")


@dataclass(frozen=True)
class TrackResult:
    """The scores of one track, or why it failed.

    Attributes
    ----------
    track : str
        The track's name.
    sources : tuple of str
        The sources' names, in the order of the scores.
    si_sdr, snr : tuple of float
        dB per source, over all channels.
    sdr : tuple of float or None
        BSS Eval SDR in dB per source; None when it was not computed.
    seconds : float
        The track's duration (after cutting files to the shortest).
    sample_rate, channels, n_fft, hop_length : int
    notes : tuple of str
        What was done to read the track (files cut to the shortest).
    error : str or None
        Why the track failed; None when it succeeded (then the scores are set).
    """

    track: str
    sources: tuple = ()
    si_sdr: tuple = ()
    snr: tuple = ()
    sdr: tuple | None = None
    seconds: float = 0.0
    sample_rate: int = 0
    channels: int = 0
    n_fft: int = 0
    hop_length: int = 0
    notes: tuple = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the track succeeded."""
        return self.error is None


def find_tracks(dataset_dir) -> list:
    """The tracks of a dataset folder (see the module's layouts), sorted by name.

    Parameters
    ----------
    dataset_dir : str or os.PathLike
        A folder of track folders, or a track folder (it holds ``mixture.wav`` or ``mix.wav``):
        a one-track dataset.

    Returns
    -------
    list of Track
        Every subfolder but hidden ones is a track; one without a mixture or sources fails when
        it is run.

    Raises
    ------
    ValueError
        ``dataset_dir`` is not a folder, or it holds neither a mixture nor any subfolder.
    """
    folder = Path(dataset_dir).absolute()
    if not folder.is_dir():
        raise ValueError(f"{dataset_dir} is not a folder")
    if any((folder / name).is_file() for name in _MIXTURE_NAMES):
        return [Track(folder.name, folder)]
    tracks = [Track(p.name, p) for p in sorted(folder.iterdir(), key=lambda p: p.name)
              if p.is_dir() and not p.name.startswith(".")]
    if not tracks:
        raise ValueError(f"{dataset_dir} holds no {' or '.join(_MIXTURE_NAMES)} and no track folders")
    return tracks


def run_track(track: Track, options: Options) -> TrackResult:
    """Separate and score one track; :func:`run_tracks` of one track."""
    return run_tracks([track], options)[0]


def run_tracks(tracks, options: Options) -> list:
    """Separate and score tracks, stacking those of one shape into one batched call.

    Tracks of the same sample rate, channel count, length and source count are separated in one
    call to :func:`specsep.separate` (their STFTs, masks and inverse STFTs batched); any other
    track in its own call. Never padded, so the scores are those of one call per track (to float
    rounding; on the ``cpu`` backend, to the bit). Writes the estimates (``options.write_stems``)
    and a figure (``options.plot``) of every track under ``options.out``.

    Parameters
    ----------
    tracks : sequence of Track
    options : Options

    Returns
    -------
    list of TrackResult
        One per track, in order; a track that fails (unreadable or mismatched files, no sources,
        NaN or infinite estimates, a write that fails) has ``error`` set and does not stop the
        others: when a batched call fails, each of its tracks is run again alone.
    """
    return _run_read(_read_tracks(tracks), options)


def _read_tracks(tracks):
    """``(count, failed, groups)`` of reading ``tracks``: ``failed`` ``{index: TrackResult}`` of
    the unreadable ones, ``groups`` ``{(sample rate, mixture shape, sources shape): [(index,
    track, recording)]}`` of the others (host work: :func:`evaluate` runs it ahead, on a thread)."""
    failed, groups = {}, {}
    for i, track in enumerate(tracks):
        try:
            mixture, sources = track.files()
            recording = audio.read_recording(mixture, sources)
        except _TRACK_FAILURES as exc:
            failed[i] = _failed(track, exc)
            continue
        key = (recording.sr, recording.mix.shape, recording.sources.shape)
        groups.setdefault(key, []).append((i, track, recording))
    return len(tracks), failed, groups


def _run_read(read, options):
    """The results of the tracks :func:`_read_tracks` read, in order."""
    count, results, groups = read
    for group in groups.values():
        results.update(_run_group(group, options))
    return [results[i] for i in range(count)]


def _run_group(group, options):
    """``{index: TrackResult}`` of ``[(index, track, recording)]`` of one shape, in one batched
    call; when that call fails, each track alone, so that one track's failure is its own."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # NaN or infinite estimates fail in _finish
            separated = _separate([recording for _, _, recording in group], options)
    except _TRACK_FAILURES as exc:
        if len(group) == 1:
            return {group[0][0]: _failed(group[0][1], exc)}
        return {i: result for item in group for i, result in _run_group([item], options).items()}
    results = {}
    for b, (i, track, recording) in enumerate(group):
        try:
            results[i] = _finish(track, recording, separated, b, options)
        except _TRACK_FAILURES as exc:
            results[i] = _failed(track, exc)
    return results


def evaluate(dataset, mask="irm", *, power=2.0, n_fft=None, hop_length=None, backend=None, batch=1,
             out=None, write_stems=False, plot=False, bss_eval=None, client=None, on_result=None) -> list:
    """Separate every track of a dataset with oracle masks and score the estimates.

    Parameters
    ----------
    dataset : str, os.PathLike or sequence of Track
        A dataset folder (see :func:`find_tracks` and the module's layouts), or its tracks.
    mask : {"ibm", "irm", "wiener", "psm"}
        Computed from the true sources' STFTs: ideal binary, ideal ratio ``|S_j|^p / sum |S_k|^p``,
        Wiener (the same as ``"irm"``) or phase-sensitive (clipped to [0, 1]).
    power : float
        Exponent ``p`` of ``"irm"`` and ``"wiener"``; 2 (powers) by default.
    n_fft, hop_length : int, optional
        STFT size and hop (periodic Hann window, centred, zero padding); default per track by its
        sample rate: 1024 below 32 kHz, 2048 from 32 kHz, hop ``n_fft // 4``.
    backend : str, optional
        Default: specsep's choice for NumPy arrays (``cpu``). ``"cuda"`` moves each batch's audio
        to the GPU in blocks while the next batch is read on a host thread (with ``client``: on
        each worker, its GPU).
    batch : int
        Up to ``batch`` tracks of the same shape (sample rate, channels, length, sources) are
        separated in one batched call; the results are those of one track at a time.
    out : str or os.PathLike, optional
        Folder for the estimates (``out/estimates/<track>/<source>.wav``, 32-bit float) and the
        figures (``out/figures/<track>.png``).
    write_stems, plot : bool
        Write the estimates, and a figure per track (mixture spectrogram in dB, the masks and the
        estimates' spectrograms, first channel; needs matplotlib); both need ``out``.
    bss_eval : bool, optional
        Compute BSS Eval SDR (needs fast_bss_eval); default: when fast_bss_eval is installed.
    client : dask.distributed.Client, optional
        Run the batches on its workers (needs dask.distributed) instead of in this process.
    on_result : callable, optional
        Called with each :class:`TrackResult` as it arrives (batches finish in any order).

    Returns
    -------
    list of TrackResult
        One per track, in the order of the tracks; failed tracks have ``error`` set.

    Raises
    ------
    ValueError
        Bad arguments, or a dataset folder without tracks.
    ImportError
        ``bss_eval=True`` without fast_bss_eval, ``plot=True`` without matplotlib, or ``client``
        without dask.distributed.
    """
    tracks = find_tracks(dataset) if isinstance(dataset, (str, os.PathLike)) else list(dataset)
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch={batch!r} must be an integer >= 1")
    if bss_eval is None:
        bss_eval = scores.bss_eval_available()
    elif bss_eval and not scores.bss_eval_available():
        raise ImportError("bss_eval=True needs the fast_bss_eval package (pip install fast_bss_eval)")
    if plot and not figures.available():
        raise ImportError("plot=True needs matplotlib (pip install matplotlib)")
    if n_fft is not None:  # checked once here rather than failing every track
        stft_size(0, n_fft, hop_length)  # (the sample rate only chooses a default n_fft)
    run_options = Options(mask, float(power), n_fft, hop_length, backend, bool(bss_eval),
                          None if out is None else Path(out).absolute(), bool(write_stems), bool(plot))
    batches = _batches(tracks, int(batch))  # lists of indices into tracks
    groups = [[tracks[k] for k in indices] for indices in batches]
    if client is None:  # the next batch read on a host thread while this one is separated
        finished = enumerate(_run_read(read, run_options) for read in prefetch.prefetched(groups, _read_tracks))
    else:
        finished = _on_client(client, groups, run_options)
    results = [None] * len(tracks)
    for i, group_results in finished:
        for k, result in zip(batches[i], group_results):
            results[k] = result
            if on_result is not None:
                on_result(result)
    return results


# ---------------------------------------------------------------------------------------------
# The work of one batch


def _failed(track, exc) -> TrackResult:
    return TrackResult(track.name, error=str(exc) or type(exc).__name__)


#: Frames per block of the separation when no figure needs the whole masks: ~47 s at 44.1 kHz
#: with hop 512. Block by block, memory is the track's audio plus one block's spectrograms, however
#: long the track; the estimates are the same bits as one whole-track call (specsep.separate with chunk_frames).
CHUNK_FRAMES = 4096


def _masks(X_sources, X_mix, options):
    """The oracle masks ``(..., J, F, T)`` of the sources' STFTs (and the mixture's, for "psm")."""
    if options.mask == "ibm":
        return masks.ideal_binary(X_sources)
    if options.mask == "irm":
        return masks.ideal_ratio(X_sources, options.power)
    if options.mask == "wiener":
        return masks.wiener(X_sources, options.power)
    return masks.phase_sensitive(X_sources, X_mix)


def _stft_frames(x, n_fft, hop, first, stop, backend):
    """Frames ``[first, stop)`` of ``stft(x, n_fft, hop)`` (centred, zero-padded): the uncentred STFT
    of the samples they read, the padding gathered for the end frames only."""
    lo, hi = first * hop - n_fft // 2, (stop - 1) * hop + n_fft - n_fft // 2
    n = x.shape[-1]
    if 0 <= lo and hi <= n:
        segment = x[..., lo:hi]
    else:
        segment = np.zeros(x.shape[:-1] + (hi - lo,), x.dtype)
        inside = slice(max(lo, 0), min(hi, n))
        segment[..., inside.start - lo:inside.stop - lo] = x[..., inside]
    return stft(segment, n_fft=n_fft, hop_length=hop, center=False, backend=backend)


def _separate(recordings, options):
    """Masks and estimates of recordings of one shape, in one batched call each.

    Returns ``(n_fft, hop, X_mix, M, estimates)``: the mixtures' STFTs ``(B, C, F, T)`` and the
    masks ``(B, C, J, F, T)`` for the figures (None without ``options.plot``: then the tracks are
    separated in blocks of CHUNK_FRAMES frames, each block's masks made from the sources' STFT of
    its own frames), and the estimates ``(B, C, J, samples)``.
    """
    n_fft, hop = stft_size(recordings[0].sr, options.n_fft, options.hop_length)
    mix = np.stack([r.mix for r in recordings])
    sources = np.stack([r.sources for r in recordings])
    psm = options.mask == "psm"
    if not options.plot:
        def masks_of(first, stop):
            frames = (n_fft, hop, first, stop, options.backend)
            return _masks(_stft_frames(sources, *frames), _stft_frames(mix, *frames) if psm else None, options)

        estimates = separate(mix, masks_of, n_fft=n_fft, hop_length=hop, backend=options.backend,
                             chunk_frames=CHUNK_FRAMES)
        return n_fft, hop, None, None, estimates
    stft_args = dict(n_fft=n_fft, hop_length=hop, backend=options.backend)
    X_mix = stft(mix, **stft_args)
    M = _masks(stft(sources, **stft_args), X_mix, options)
    return n_fft, hop, X_mix, M, separate(mix, M, **stft_args)


def _finish(track, recording, separated, b, options) -> TrackResult:
    """Scores of item ``b`` of a batch, and its files."""
    n_fft, hop, X_mix, M, estimates = separated
    estimates = estimates[b]
    if not np.all(np.isfinite(estimates)):
        peak = float(np.max(np.abs(recording.sources)))
        raise ArithmeticError(f"its estimates are not finite (NaN or infinite): the masks overflowed float32 "
                              f"(its sources' largest sample is {peak:.3g} in magnitude)")
    si_sdr, snr = scores.si_sdr_and_snr(recording.sources, estimates)
    sdr = tuple(map(float, scores.bss_eval_sdr(recording.sources, estimates))) if options.bss_eval else None
    if options.write_stems:  # all of the track's estimates, or none of them
        paths = [options.out / "estimates" / track.name / f"{name}.wav" for name in recording.names]
        with outputs.replacing_all(paths) as temporaries:
            for j, temporary in enumerate(temporaries):
                audio.write_wav(temporary, estimates[:, j], recording.sr)
    if options.plot:
        _write_figure(track, recording, X_mix[b], M[b], estimates, n_fft, hop, options)
    channels, n_samples = recording.mix.shape
    return TrackResult(
        track.name, recording.names, tuple(map(float, si_sdr)), tuple(map(float, snr)), sdr,
        n_samples / recording.sr, recording.sr, channels, n_fft, hop, recording.notes)


def _write_figure(track, recording, X_mix, M, estimates, n_fft, hop, options):
    """Mixture spectrogram, then a row per source: its mask and its estimate's spectrogram (channel 1)."""
    X_estimates = stft(estimates[0], n_fft=n_fft, hop_length=hop, backend=options.backend)
    label = MASKS[options.mask]
    rows = [[figures.Panel(f"{track.name}: mixture, dB", np.abs(X_mix[0]), "db")]]
    rows += [[figures.Panel(f"{label}: {name}", M[0, j], "mask"),
              figures.Panel(f"estimate: {name}, dB", np.abs(X_estimates[j]), "db")]
             for j, name in enumerate(recording.names)]
    figures.write_figure(options.out / "figures" / f"{track.name}.png", rows, recording.sr, hop)


# ---------------------------------------------------------------------------------------------
# Planning and mapping batches


def _batches(tracks, size):
    """Lists of the indices of up to ``size`` tracks whose files share rate, channels, length and
    source count (read from the files' headers), in the order of the tracks' first appearance."""
    if size == 1:
        return [[k] for k in range(len(tracks))]
    groups = {}
    for k, track in enumerate(tracks):
        key = _shape(track)
        groups.setdefault(key if key is not None else ("alone", k), []).append(k)  # unreadable: alone
    return [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]


def _shape(track):
    """``(rates and channels, frames, sources)`` of a track from its headers; None if unreadable."""
    try:
        soundfile = audio.soundfile_module()
        mixture, sources = track.files()
        infos = [soundfile.info(str(path)) for path in (mixture, *sources)]
    except _TRACK_FAILURES:  # the track fails when it runs, with the reason
        return None
    return (frozenset((i.samplerate, i.channels) for i in infos), min(i.frames for i in infos), len(sources))


def _on_client(client, batches, run_options):
    """``(batch index, results)`` of every batch of tracks run on ``client``'s workers, as they finish."""
    try:
        from distributed import as_completed
    except ImportError:
        raise ImportError("client= needs dask.distributed (pip install 'specsep[dask]')") from None
    futures = client.map(run_tracks, batches, options=run_options, pure=False)
    index = {future.key: i for i, future in enumerate(futures)}
    for future in as_completed(futures):
        i = index[future.key]
        try:
            results = future.result()
        except Exception as exc:  # raised on the worker, or the worker was lost: this batch fails
            reason = RuntimeError(f"on the Dask cluster: {type(exc).__name__}: {exc}")
            results = [_failed(track, reason) for track in batches[i]]
        yield i, results
