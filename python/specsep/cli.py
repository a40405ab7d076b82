"""The ``specsep`` command line.

``specsep demo`` separates a synthetic four-instrument clip (or your own mixture and stems) with
oracle masks and phase retrieval, prints the quality of each method (SI-SDR against the true
stems) and its time, and writes the results as audio files and a figure. ``specsep bench`` runs
the benchmark harness (specsep's backends against librosa, scipy, NumPy and torch), the same as
``python bench/run.py`` in a checkout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__, _backends, _bench, _demo, masks, metrics
from ._argtypes import int_at_least, positive_float
from ._plan import STFT
from ._progress import progress
from .api import griffin_lim, misi, separate, stft
from .features import amplitude_to_db

_PROG = "specsep"


# ---------------------------------------------------------------------------------------------
# Argument parsing


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``specsep`` command."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="specsep: batched STFT/iSTFT, separation masks and phase retrieval.",
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="separate a synthetic clip (or your own stems) with oracle masks and phase retrieval",
        description=(
            "Separate a mixture into its stems with oracle masks computed from the true stems "
            "(ideal binary, ideal ratio, phase-sensitive), rebuild each stem from its true "
            "magnitude with Griffin-Lim, and all stems at once from the mixture with MISI. Prints "
            "SI-SDR (dB, against the true stems) and wall time per method; writes the estimates "
            "as WAV files (.npy without soundfile) and a figure (with matplotlib)."
        ),
    )
    demo.add_argument("--out", type=Path, default=Path("specsep-demo"), metavar="DIR",
                      help="output folder (default: ./specsep-demo)")
    demo.add_argument("--backend", default=None, metavar="NAMES",
                      help="comma-separated backends to run and compare (default: every one installed "
                           "here but the emulator); installed here: " + ", ".join(_backends.available()))
    demo.add_argument("--input", type=Path, default=None, metavar="MIX.wav",
                      help="your own mixture (needs soundfile); give --stems too")
    demo.add_argument("--stems", type=Path, default=None, metavar="DIR",
                      help="folder of the true stems: every *.wav in it except the mixture")
    demo.add_argument("--n-iter", type=int_at_least(0), default=32, metavar="N",
                      help="Griffin-Lim and MISI iterations (default: 32)")
    demo.add_argument("--seconds", type=positive_float, default=None, metavar="S",
                      help="length of the synthetic clip (default: 6), or the first S seconds "
                           "of --input (default: all)")
    demo.add_argument("--n-fft", type=int_at_least(2), default=None, metavar="N",
                      help="FFT size (default: 1024 below 32 kHz, 2048 from 32 kHz)")
    demo.add_argument("--hop-length", type=int_at_least(1), default=None, metavar="N",
                      help="STFT hop (default: n_fft / 4)")
    demo.set_defaults(run=_demo_command, command_parser=demo)

    bench = commands.add_parser(
        "bench",
        help="time specsep's backends against librosa, scipy, NumPy and torch",
        description=(
            "Run the benchmark workloads (STFT, iSTFT, STFT + iSTFT, fast Griffin-Lim, oracle "
            "separation) on specsep's backends and the peers installed here, in one process: "
            "warm-up, then the median of repeats. Prints markdown tables (seconds, audio seconds "
            "per second, the speed-up of specsep cpu over the fastest peer, the agreement of every "
            "output with specsep's). Peers that are not installed are listed as not run. With --gpu: "
            "specsep cuda against torch on CUDA and cupyx.scipy.signal, beside the predicted H100 times "
            "(without a CUDA device, the predictions only)."
        ),
    )
    _bench.add_arguments(bench)
    bench.set_defaults(run=_bench_command, command_parser=bench)
    return parser


def main(argv=None) -> int:
    """Run the ``specsep`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code:
    0 on success, 2 for bad arguments (with an argparse-style message), 1 when the work fails."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except SystemExit as exc:  # argparse's errors (2), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else 1


# ---------------------------------------------------------------------------------------------
# specsep bench


def _bench_command(args) -> int:
    return _bench.run(args, command=_bench.command_line(args, f"{_PROG} bench"))


# ---------------------------------------------------------------------------------------------
# specsep demo

_METHODS = (  # key (folder name), label
    ("ibm", "ideal binary mask"),
    ("irm", "ideal ratio mask"),
    ("psm", "phase-sensitive mask"),
    ("griffinlim", "Griffin-Lim"),
    ("misi", "MISI"),
)
_GL_MOMENTUM = 0.99


@dataclass
class _Material:
    mix: np.ndarray  # (channels, samples) float32
    stems: np.ndarray  # (channels, stems, samples) float32
    names: tuple
    sr: int
    description: str
    synthetic: bool
    notes: list = field(default_factory=list)


@dataclass
class _Result:
    key: str
    label: str
    backend: str
    seconds: float
    estimates: np.ndarray  # (channels, stems, samples)
    si_sdr: np.ndarray  # (stems,)
    sdr: np.ndarray  # (stems,)


def _demo_command(args) -> int:
    error = args.command_parser.error
    # Every backend asked for (default: every one available but the slow emulator) runs every
    # method, so that the table compares them; the estimates written are the first backend's.
    names = args.backend.split(",") if args.backend else [b for b in _backends.available() if b != "cuda-emu"]
    for name in names:
        try:
            _backends.select(name)
        except ValueError as exc:
            error(f"argument --backend: {exc} (available here: {', '.join(_backends.available())})")
    if args.out.exists() and not args.out.is_dir():
        error(f"argument --out: {args.out} exists and is not a folder")

    if args.input is None and args.stems is None:
        mix, stems = _demo.synthesize(6.0 if args.seconds is None else args.seconds)
        material = _Material(
            mix[None], stems[None], _demo.STEM_NAMES, _demo.SAMPLE_RATE,
            "synthetic clip", synthetic=True)
    elif args.input is None or args.stems is None:
        error("arguments --input and --stems go together: give both, or neither for the synthetic clip")
    else:
        material = _read_material(error, args.input, args.stems, args.seconds)

    n_fft = args.n_fft if args.n_fft is not None else (1024 if material.sr < 32000 else 2048)
    hop = args.hop_length if args.hop_length is not None else max(n_fft // 4, 1)
    try:
        STFT(n_fft, hop, dtype=np.float32).check_invertible()
    except ValueError as exc:
        error(f"arguments --n-fft/--hop-length: {exc}")

    channels, n_stems, n_samples = material.stems.shape
    print(f"specsep demo: {material.description}, {n_stems} stems ({', '.join(material.names)}), "
          f"{n_samples / material.sr:.1f} s at {material.sr} Hz, {channels} channel{'s' * (channels > 1)}; "
          f"STFT n_fft={n_fft} hop={hop} hann; {args.n_iter} iteration{'s' * (args.n_iter != 1)}", flush=True)

    steps = (len(_METHODS) - 1 + n_stems) * len(names) + 2  # per backend: masks, GL per stem, MISI
    try:
        with progress(steps, "specsep demo") as bar:
            results = []
            for name in names:
                backend_results, X_mix, irm = _separate(material, n_fft, hop, args.n_iter, name, bar)
                results += backend_results
            args.out.mkdir(parents=True, exist_ok=True)
            bar.set_postfix_str("writing files")
            written, audio_note = _write_audio(args.out, material, [r for r in results if r.backend == names[0]])
            bar.update()
            bar.set_postfix_str("figure")
            figure, figure_note = _write_figure(args.out, material, X_mix, irm, hop)
            bar.update()
            _write_json(args.out, material, results, n_fft, hop, args.n_iter)
    except (OSError, ValueError, TypeError, MemoryError) as exc:
        print(f"{_PROG} demo: error: {exc}", file=sys.stderr)
        return 1

    print()
    print(_format_table(sorted(results, key=lambda r: [key for key, _ in _METHODS].index(r.key)), material.names))
    print()
    print("SI-SDR: dB against the true stems (higher is better), mean over stems, then per stem;")
    print("seconds: wall time of the method, masks and STFTs included.")
    print("Griffin-Lim sees each stem's magnitude only: the phase it finds is its own, so its")
    print("SI-SDR is low even where it sounds right. MISI also uses the mixture, which pins phases down.")
    for note in material.notes + [audio_note, figure_note]:
        if note:
            print(note)
    kind = "WAV" if audio_note is None else ".npy"
    files = f"{written} {kind} files, " + (f"{figure.name}, " if figure else "") + "results.json"
    print(f"wrote {files} to {args.out}")
    if material.synthetic and written and audio_note is None:
        print(f"your own material: {_PROG} demo --input MIX.wav --stems DIR "
              f"(try --input {args.out / 'mix.wav'} --stems {args.out / 'stems'})")
    return 0


def _read_material(error, mix_path, stems_dir, seconds):
    """Mixture and stems from WAV files, as float32 ``(channels, samples)`` and ``(channels, J, samples)``."""
    try:
        import soundfile
    except ImportError:
        error("argument --input: reading WAV files needs the soundfile package (pip install soundfile)")
    if not mix_path.is_file():
        error(f"argument --input: {mix_path} is not a file")
    if not stems_dir.is_dir():
        error(f"argument --stems: {stems_dir} is not a folder")
    stem_paths = sorted(p for p in stems_dir.iterdir()
                        if p.is_file() and p.suffix.lower() == ".wav" and p.resolve() != mix_path.resolve())
    if not stem_paths:
        error(f"argument --stems: no .wav files in {stems_dir} besides the mixture")

    infos = {}
    for path in [mix_path] + stem_paths:
        try:
            infos[path] = soundfile.info(str(path))
        except Exception as exc:  # soundfile raises its own error types for unreadable files
            error(f"cannot read {path}: {exc}")
    sr = infos[mix_path].samplerate
    wrong = [f"{p} is {infos[p].samplerate} Hz" for p in stem_paths if infos[p].samplerate != sr]
    if wrong:
        error(f"sample rates differ: the mixture {mix_path} is {sr} Hz but " + ", ".join(wrong))
    channels = infos[mix_path].channels
    wrong = [f"{p} has {infos[p].channels}" for p in stem_paths if infos[p].channels != channels]
    if wrong:
        error(f"channel counts differ: the mixture {mix_path} has {channels} but " + ", ".join(wrong))

    frames = -1 if seconds is None else max(1, int(round(seconds * sr)))

    def read(path):
        data, _ = soundfile.read(str(path), frames=frames, dtype="float32", always_2d=True)
        return np.ascontiguousarray(data.T)

    signals = [read(path) for path in [mix_path] + stem_paths]
    lengths = {path: s.shape[-1] for path, s in zip([mix_path] + stem_paths, signals)}
    n = min(lengths.values())
    if n == 0:
        error(f"{min(lengths, key=lengths.get)} has no samples")
    notes = []
    if len(set(lengths.values())) > 1:
        notes.append(f"note: the files have different lengths; all were cut to the shortest, {n} samples")
    mix = signals[0][:, :n]
    stems = np.stack([s[:, :n] for s in signals[1:]], axis=1)
    names = tuple(p.stem for p in stem_paths)
    return _Material(mix, stems, names, sr, f"{mix_path}", synthetic=False, notes=notes)


def _quality(stems, estimates):
    """SI-SDR and SDR per stem over all channels: arrays ``(channels, J, samples)`` -> ``(J,)``."""
    n_stems = stems.shape[1]
    reference = np.moveaxis(stems, 1, 0).reshape(n_stems, -1)
    estimate = np.moveaxis(estimates, 1, 0).reshape(n_stems, -1)
    return metrics.si_sdr(reference, estimate), metrics.snr(reference, estimate)


def _separate(material, n_fft, hop, n_iter, backend, bar):
    """Every method on ``material``; returns the results, the mixture STFT and the ratio masks."""
    stft_args = dict(n_fft=n_fft, hop_length=hop)
    mix, stems = material.mix, material.stems
    n_samples = mix.shape[-1]
    results = []

    def record(key, seconds, estimates):
        label = dict(_METHODS)[key]
        si_sdr, sdr = _quality(stems, estimates)
        results.append(_Result(key, label, backend, seconds, estimates, si_sdr, sdr))

    # Oracle masks: each computed from the true stems, then applied to the mixture.
    start = time.perf_counter()
    X_stems = stft(stems, **stft_args, backend=backend)  # (C, J, F, T)
    X_mix = stft(mix, **stft_args, backend=backend)  # (C, F, T)
    analysis = time.perf_counter() - start
    makers = {
        "ibm": lambda: masks.ideal_binary(X_stems),
        "irm": lambda: masks.ideal_ratio(X_stems),
        "psm": lambda: masks.phase_sensitive(X_stems, X_mix),
    }
    irm = None
    for key, make in makers.items():
        bar.set_postfix_str(key.upper())
        start = time.perf_counter()
        M = make()
        estimates = separate(mix, M, **stft_args, backend=backend)
        record(key, analysis + time.perf_counter() - start, estimates)
        if key == "irm":
            irm = M
        bar.update()

    # Griffin-Lim: each stem from its own true magnitude, one stem at a time (a bar step each).
    S_stems = np.abs(X_stems)
    seconds = analysis
    parts = []
    for j, name in enumerate(material.names):
        bar.set_postfix_str(f"Griffin-Lim {name}")
        start = time.perf_counter()
        parts.append(griffin_lim(
            S_stems[:, j], n_iter=n_iter, hop_length=hop, n_fft=n_fft, length=n_samples,
            momentum=_GL_MOMENTUM, rng=_demo.SEED + j, backend=backend))
        seconds += time.perf_counter() - start
        bar.update()
    record("griffinlim", seconds, np.stack(parts, axis=1))

    # MISI: all stems at once from the mixture and the true magnitudes.
    bar.set_postfix_str("MISI")
    start = time.perf_counter()
    estimates = misi(mix, S_stems, n_iter=n_iter, n_fft=n_fft, hop_length=hop, backend=backend)
    record("misi", analysis + time.perf_counter() - start, estimates)
    bar.update()
    return results, X_mix, irm


def _format_table(results, names) -> str:
    widths = [max(7, len(name)) for name in names]
    label_width = max(len("method"), *(len(r.label) for r in results))
    backend_width = max(len("backend"), *(len(r.backend) for r in results))
    header = (f"{'method':<{label_width}}  {'backend':<{backend_width}}  {'SI-SDR':>7}  "
              + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths)) + f"  {'seconds':>8}")
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.label:<{label_width}}  {r.backend:<{backend_width}}  {np.mean(r.si_sdr):7.2f}  "
            + "  ".join(f"{value:{w}.2f}" for value, w in zip(r.si_sdr, widths))
            + f"  {r.seconds:8.3f}")
    return "\n".join(lines)


def _write_audio(out, material, results):
    """Estimates (and, for the synthetic clip, its mixture and stems); returns (count, note)."""
    try:
        import soundfile
    except ImportError:
        soundfile = None
    files = []  # (path without suffix, (channels, samples) float32, exact 16-bit?)
    if material.synthetic:
        files.append((out / "mix", material.mix, True))
        for j, name in enumerate(material.names):
            files.append((out / "stems" / name, material.stems[:, j], True))
    for r in results:
        for j, name in enumerate(material.names):
            files.append((out / "estimates" / r.key / name, r.estimates[:, j], False))
    for path, signal, exact in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        if soundfile is None:
            np.save(path.with_suffix(".npy"), signal)
        else:
            # The synthetic clip lies on the 16-bit grid, so PCM_16 keeps its bits; estimates may
            # exceed full scale, so they are written as float.
            soundfile.write(str(path.with_suffix(".wav")), signal.T, material.sr,
                            subtype="PCM_16" if exact else "FLOAT")
    note = None
    if soundfile is None:
        note = ("soundfile is not installed: wrote NumPy .npy files of shape (channels, samples) "
                "instead of WAV (pip install soundfile)")
    return len(files), note


def _write_figure(out, material, X_mix, irm, hop):
    """Mixture spectrogram in dB and the ratio mask of every stem (first channel) as demo.png."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None, "matplotlib is not installed: no figure (pip install matplotlib)"
    # The Agg canvas is attached to the figure directly: no pyplot, no global backend switch.
    n_freqs, n_frames = X_mix.shape[-2:]
    extent = (0.0, n_frames * hop / material.sr, 0.0, material.sr / 2000.0)
    rows = 1 + irm.shape[1]
    fig = Figure(figsize=(9.0, 1.7 * rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, sharey=True)
    db = amplitude_to_db(np.abs(X_mix[0]), ref=np.max)
    image = axes[0].imshow(db, origin="lower", aspect="auto", extent=extent, cmap="magma")
    axes[0].set_title("mixture, dB")
    fig.colorbar(image, ax=axes[0], pad=0.01)
    for j, name in enumerate(material.names):
        image = axes[j + 1].imshow(irm[0, j], origin="lower", aspect="auto", extent=extent,
                                   cmap="viridis", vmin=0.0, vmax=1.0)
        axes[j + 1].set_title(f"ideal ratio mask: {name}")
        fig.colorbar(image, ax=axes[j + 1], pad=0.01)
    for ax in axes:
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("seconds")
    path = out / "demo.png"
    fig.savefig(path, dpi=100)
    return path, None


def _write_json(out, material, results, n_fft, hop, n_iter):
    summary = {
        "input": material.description,
        "sample_rate": material.sr,
        "channels": int(material.mix.shape[0]),
        "samples": int(material.mix.shape[-1]),
        "stems": list(material.names),
        "n_fft": n_fft,
        "hop_length": hop,
        "n_iter": n_iter,
        "methods": [
            {
                "key": r.key,
                "label": r.label,
                "backend": r.backend,
                "seconds": r.seconds,
                "mean_si_sdr": float(np.mean(r.si_sdr)),
                "si_sdr": {n: float(x) for n, x in zip(material.names, r.si_sdr)},
                "sdr": {n: float(x) for n, x in zip(material.names, r.sdr)},
            }
            for r in results
        ],
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
