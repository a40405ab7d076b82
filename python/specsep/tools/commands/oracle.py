"""``specsep oracle``: oracle separation of a dataset, scored per track and source, with
``results.csv`` and ``summary.md``; the work itself is :mod:`specsep.oracle`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import oracle
from ..argtypes import int_at_least, non_negative_float
from ..progress import progress
from . import audio, figures, options, oracle_report, outputs, scores

_DESCRIPTION = """\
Separate every track of a dataset with an oracle mask computed from the track's true sources
(their STFTs), score each estimate against its source, and write results.csv (a row per track
and source: track, source, si_sdr, snr, sdr, seconds, error) and summary.md (the mean and median
per source, every track's scores, the failed tracks), which is also printed.

dataset layouts:
  DATASET_DIR/<track>/mixture.wav + <source>.wav ...   MUSDB18-HQ: every other *.wav is a source
  DATASET_DIR/<track>/mix.wav + <source>.wav ...       ../shared/music style
  DATASET_DIR/<track>/mix.wav + stems/<source>.wav     Slakh2100: the stems/ folder holds the sources
  DATASET_DIR itself holding mixture.wav or mix.wav    a one-track dataset
Tracks are the subfolders (sorted, hidden ones skipped); sources are sorted by file name (hidden
files, such as macOS's ._* companions, skipped). The mixture is read from its file (not summed from
the sources). A track's files must share their sample rate and channel count; files of different
lengths are cut to the shortest.

scores (dB, per source over all its channels): si_sdr; snr = 10 log10(|s|^2 / |s - s_hat|^2);
sdr = BSS Eval SDR (512-tap filters) when fast_bss_eval is installed, else empty.

A track that fails (unreadable file, mismatched rates or channels, NaN or infinite samples, no
mixture or no sources, NaN or infinite estimates) is reported on stderr and in summary.md, left
out of the means and medians, and the others go on (a batch that fails is run again track by
track). Two sources whose names differ only in case (bass.wav, bass.WAV) are refused before any
track is separated.

output folder: DIR is created and checked before any track is separated. A DIR holding the files
of an earlier run (results.csv, summary.md, estimates/, figures/, specsep-unfinished.txt) is
refused unless --overwrite is given, which deletes those (and only those) first. While the run
goes on, DIR/specsep-unfinished.txt marks its files as incomplete; it is removed once
results.csv and summary.md are written, so a DIR that still holds it after an interruption or a
crash holds an unfinished run. Every file is written under a temporary name and renamed, so none
is ever left truncated.

Exit status: 0 when at least one track was separated, 1 when every track failed or the results
cannot be written, 2 for bad arguments (among them an output folder that cannot be written),
130 when interrupted (Ctrl-C).
"""

#: The files and folders a run writes into its output folder.
_OUTPUTS = ("results.csv", "summary.md", "estimates", "figures")


def add_parser(commands) -> None:
    """Add ``oracle`` to the subparsers ``commands``."""
    parser = commands.add_parser(
        "oracle", help="oracle-mask separation of a dataset folder, scored per track and source",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR",
                        help="folder of track folders, or one track folder")
    parser.add_argument("--mask", choices=tuple(oracle.MASKS), default="irm",
                        help="ibm: ideal binary; irm: ideal ratio |S_j|^p / sum |S_k|^p; wiener: the same as irm; "
                             "psm: phase-sensitive, clipped to [0, 1] (default: irm)")
    parser.add_argument("--power", type=non_negative_float, default=None, metavar="P",
                        help="exponent p of irm and wiener (default: 2, the ratio of powers)")
    options.add_backend_option(parser)
    options.add_stft_options(parser)
    parser.add_argument("--out", type=Path, default=Path("specsep-oracle"), metavar="DIR",
                        help="output folder (default: ./specsep-oracle)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results of an earlier run in DIR (deletes its results.csv, summary.md, "
                             "estimates/ and figures/ first); without it, such a DIR is refused")
    parser.add_argument("--batch", type=int_at_least(1), default=1, metavar="N",
                        help="separate up to N tracks of the same sample rate, channels, length and source count "
                             "in one batched call; others alone, never padded, same scores (default: 1)")
    parser.add_argument("--write-stems", action="store_true",
                        help="write the estimates as 32-bit float WAV files, DIR/estimates/<track>/<source>.wav")
    parser.add_argument("--plot", action="store_true",
                        help="write DIR/figures/<track>.png: mixture spectrogram, masks and estimates' spectrograms "
                             "(first channel; needs matplotlib)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the tracks on the workers of this Dask scheduler (e.g. tcp://127.0.0.1:8786; "
                             "needs dask.distributed); workers read and write the paths as given here")
    parser.set_defaults(run=run, command_parser=parser)


def run(args) -> int:
    """Run ``specsep oracle`` for parsed ``args``; returns the exit status."""
    parser = args.command_parser
    _check_arguments(parser, args)
    try:
        tracks = oracle.find_tracks(args.dataset)
    except ValueError as exc:
        parser.error(f"argument DATASET_DIR: {exc}")
    tracks = [t for t in tracks if t.folder.resolve() != args.out.resolve()]  # an --out inside the dataset
    if not tracks:
        parser.error(f"argument DATASET_DIR: {args.dataset} holds no track folders but --out {args.out}")
    _check_source_names(parser, tracks)
    folder = outputs.RunFolder(args.out, _OUTPUTS, inputs=[args.dataset])
    try:
        folder.check(args.overwrite)
    except outputs.OutputError as exc:
        parser.error(f"argument --out: {exc}")
    client = None
    if args.scheduler is not None:
        Client = _client_class(parser)
        try:
            client = Client(args.scheduler)
        except (OSError, TimeoutError, ValueError) as exc:
            print(f"{parser.prog}: error: cannot connect to the Dask scheduler at {args.scheduler}: {exc}",
                  file=sys.stderr)
            return 1
    bss_eval = scores.bss_eval_available()
    power = 2.0 if args.power is None else args.power
    where = f"on the Dask cluster at {args.scheduler}" if client is not None else "in this process"
    print(f"{parser.prog}: {len(tracks)} track{'s' * (len(tracks) != 1)} in {args.dataset}, "
          f"{oracle.MASKS[args.mask]}, {where}", flush=True)

    start = time.perf_counter()
    try:
        folder.start(f"{parser.prog} {args.dataset}")
        with progress(len(tracks), parser.prog) as bar:
            results = oracle.evaluate(
                tracks, args.mask, power=power, n_fft=args.n_fft, hop_length=args.hop_length,
                backend=args.backend, batch=args.batch, out=args.out, write_stems=args.write_stems,
                plot=args.plot, bss_eval=bss_eval, client=client, on_result=_Throughput(bar, start))
        elapsed = time.perf_counter() - start
        summary = oracle_report.summary_markdown(results, args.dataset, args.mask, power, bss_eval)
        outputs.write_text(args.out / "results.csv", oracle_report.results_csv(results))
        outputs.write_text(args.out / "summary.md", summary)
        folder.finish()
    except (OSError, ValueError, TypeError, MemoryError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()

    for r in results:
        if not r.ok:
            print(f"{parser.prog}: {r.track}: failed: {r.error}", file=sys.stderr)
    print()
    print(summary, end="")
    print()
    if not bss_eval:
        print("note: fast_bss_eval is not installed, so the sdr column is empty (pip install fast_bss_eval)")
    ok = [r for r in results if r.ok]
    written = ["results.csv", "summary.md"]
    if args.write_stems:
        written.append(f"{sum(len(r.sources) for r in ok)} estimates in estimates/")
    if args.plot:
        written.append(f"{len(ok)} figures in figures/")
    print(f"wrote {', '.join(written)} to {args.out}")
    audio_seconds = sum(r.seconds for r in ok)
    print(f"{len(ok)} of {len(results)} tracks separated in {elapsed:.1f} s "
          f"({audio_seconds / max(elapsed, 1e-9):.1f} seconds of audio per second)")
    return 0 if ok else 1


def _check_arguments(parser, args):
    """Exit through ``parser.error`` on arguments that cannot work, before any track is read."""
    if args.backend is not None:
        options.check_backend(parser, args.backend)
    if args.power is not None and args.mask not in ("irm", "wiener"):
        parser.error(f"argument --power: only --mask irm and wiener take a power, not --mask {args.mask}")
    if args.n_fft is not None:
        try:
            options.stft_size(0, args.n_fft, args.hop_length)  # (the rate only chooses a default n_fft)
        except ValueError as exc:
            parser.error(f"arguments --n-fft/--hop-length: {exc}")
    if not audio.available():
        parser.error("argument DATASET_DIR: reading WAV files needs the soundfile package (pip install soundfile)")
    if args.plot and not figures.available():
        parser.error(f"argument --plot: {figures.MISSING}")


def _check_source_names(parser, tracks):
    """Exit through ``parser.error`` when a track has two sources whose names differ only in case
    (their rows, and their estimates' files, would merge); the tracks' other faults fail them alone."""
    for track in tracks:
        try:
            track.files()
        except audio.NameClash as exc:
            parser.error(f"argument DATASET_DIR: track {track.name}: {exc}")
        except ValueError:  # reported as that track's failure when it runs
            pass


def _client_class(parser):
    """``dask.distributed.Client``, imported only for ``--scheduler``; exits when it is missing."""
    try:
        from distributed import Client
    except ImportError:
        parser.error("argument --scheduler: needs dask.distributed (pip install 'specsep[dask]')")
    return Client


class _Throughput:
    """``on_result`` of :func:`specsep.oracle.evaluate`: one step of the bar per track, with
    tracks and seconds of audio per second of wall time."""

    def __init__(self, bar, start):
        self.bar = bar
        self.start = start
        self.tracks = 0
        self.audio_seconds = 0.0

    def __call__(self, result):
        self.tracks += 1
        self.audio_seconds += result.seconds
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{self.tracks / elapsed:.2f} tracks/s, "
                                 f"{self.audio_seconds / elapsed:.1f} audio s/s", refresh=False)
        self.bar.update()
