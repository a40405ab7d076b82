"""``specsep demo``: separate a synthetic four-instrument clip (or your own mixture and stems)
with oracle masks and phase retrieval, print the quality of every method and its time, and write
the estimates, a figure and ``results.json``."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specsep import griffin_lim, masks, misi, separate, stft

from .. import demo_clip
from ..argtypes import int_at_least, positive_float
from ..progress import progress
from . import audio, figures, options, outputs, scores

_METHODS = (  # key (folder name), label
    ("ibm", "ideal binary mask"),
    ("irm", "ideal ratio mask"),
    ("psm", "phase-sensitive mask"),
    ("griffinlim", "Griffin-Lim"),
    ("misi", "MISI"),
)
_GL_MOMENTUM = 0.99
# The longest synthetic clip: the demo holds every method's estimates and spectrograms at once,
# some GB for ten minutes, so a longer clip is refused rather than run out of memory.
_MAX_SYNTHETIC_SECONDS = 600.0
#: The files and folders a run writes into its output folder, and those of the synthetic clip.
_OUTPUTS = ("estimates", "demo.png", "results.json")
_SYNTHETIC_OUTPUTS = ("mix.wav", "mix.npy", "stems")


def add_parser(commands) -> None:
    """Add ``demo`` to the subparsers ``commands``."""
    demo = commands.add_parser(
        "demo",
        help="separate a synthetic clip (or your own stems) with oracle masks and phase retrieval",
        description=(
            "Separate a mixture into its stems with oracle masks computed from the true stems "
            "(ideal binary, ideal ratio, phase-sensitive), rebuild each stem from its true "
            "magnitude with Griffin-Lim, and all stems at once from the mixture with MISI. Prints "
            "SI-SDR (dB, against the true stems) and wall time per method; writes the estimates "
            "as WAV files (.npy without soundfile) and a figure (with matplotlib). DIR is "
            "checked before any work; one holding an earlier run's files is refused unless "
            "--overwrite, and DIR/specsep-unfinished.txt marks a run that has not finished. "
            "Exit status: 0 on success, 1 when the work fails, 2 for bad arguments, 130 when "
            "interrupted (Ctrl-C)."
        ),
    )
    demo.add_argument("--out", type=Path, default=Path("specsep-demo"), metavar="DIR",
                      help="output folder (default: ./specsep-demo)")
    demo.add_argument("--overwrite", action="store_true",
                      help="replace the files of an earlier run in DIR (deletes its estimates/, demo.png and "
                           "results.json first, and for the synthetic clip mix.wav and stems/); without it, such "
                           "a DIR is refused")
    demo.add_argument("--backend", default=None, metavar="NAMES",
                      help="comma-separated backends to run and compare (default: every one installed "
                           "here but the emulator); installed here: " + ", ".join(options.host_backends()))
    demo.add_argument("--input", type=Path, default=None, metavar="MIX.wav",
                      help="your own mixture (needs soundfile); give --stems too")
    demo.add_argument("--stems", type=Path, default=None, metavar="DIR",
                      help="folder of the true stems: every *.wav in it except the mixture")
    demo.add_argument("--n-iter", type=int_at_least(0), default=32, metavar="N",
                      help="Griffin-Lim and MISI iterations (default: 32)")
    demo.add_argument("--seconds", type=positive_float, default=None, metavar="S",
                      help=f"length of the synthetic clip (default: 6, at most {_MAX_SYNTHETIC_SECONDS:g}), "
                           "or the first S seconds of --input (default: all)")
    options.add_stft_options(demo)
    demo.set_defaults(run=run, command_parser=demo)


@dataclass
class _Result:
    key: str
    label: str
    backend: str
    seconds: float
    estimates: np.ndarray  # (channels, stems, samples)
    si_sdr: np.ndarray  # (stems,)
    sdr: np.ndarray  # (stems,)


def run(args) -> int:
    """Run ``specsep demo`` for parsed ``args``; returns the exit status."""
    parser = args.command_parser
    error = parser.error
    # Every backend asked for (default: every one available but the slow emulator) runs every
    # method, so that the table compares them; the estimates written are the first backend's.
    names = args.backend.split(",") if args.backend else [b for b in options.host_backends() if b != "cuda-emu"]
    for name in names:
        options.check_backend(parser, name)

    synthetic = args.input is None and args.stems is None
    if synthetic:
        if args.seconds is not None and args.seconds > _MAX_SYNTHETIC_SECONDS:
            error(f"argument --seconds: the synthetic clip is at most {_MAX_SYNTHETIC_SECONDS:g} s, not "
                  f"{args.seconds:g} (give --input and --stems for longer material)")
        mix, stems = demo_clip.synthesize(6.0 if args.seconds is None else args.seconds)
        material = audio.Recording(mix[None], stems[None], demo_clip.STEM_NAMES, demo_clip.SAMPLE_RATE)
        description = "synthetic clip"
    elif args.input is None or args.stems is None:
        error("arguments --input and --stems go together: give both, or neither for the synthetic clip")
    else:
        try:
            material = audio.read_stems_folder(args.input, args.stems, args.seconds)
        except audio.AudioError as exc:
            error(f"arguments --input/--stems: {exc}")
        description = f"{args.input}"

    try:
        n_fft, hop = options.stft_size(material.sr, args.n_fft, args.hop_length)
    except ValueError as exc:
        error(f"arguments --n-fft/--hop-length: {exc}")
    inputs = () if synthetic else (args.input, args.stems)
    folder = outputs.RunFolder(args.out, _SYNTHETIC_OUTPUTS * synthetic + _OUTPUTS, inputs)
    try:
        folder.check(args.overwrite)
    except outputs.OutputError as exc:
        error(f"argument --out: {exc}")

    channels, n_stems, n_samples = material.sources.shape
    print(f"specsep demo: {description}, {n_stems} stems ({', '.join(material.names)}), "
          f"{n_samples / material.sr:.1f} s at {material.sr} Hz, {channels} channel{'s' * (channels > 1)}; "
          f"STFT n_fft={n_fft} hop={hop} hann; {args.n_iter} iteration{'s' * (args.n_iter != 1)}", flush=True)

    steps = (len(_METHODS) - 1 + n_stems) * len(names) + 2  # per backend: masks, GL per stem, MISI
    try:
        folder.start(parser.prog)
        with progress(steps, "specsep demo") as bar:
            results = []
            for name in names:
                backend_results, X_mix, irm = _separate(material, n_fft, hop, args.n_iter, name, bar)
                results += backend_results
            bar.set_postfix_str("writing files")
            written, audio_note = _write_audio(
                args.out, material, synthetic, [r for r in results if r.backend == names[0]])
            bar.update()
            bar.set_postfix_str("figure")
            figure, figure_note = _write_figure(args.out, material, X_mix, irm, hop)
            bar.update()
            _write_json(args.out, material, description, results, n_fft, hop, args.n_iter)
        folder.finish()
    except (OSError, ValueError, TypeError, MemoryError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1

    print()
    print(_format_table(sorted(results, key=lambda r: [key for key, _ in _METHODS].index(r.key)), material.names))
    print()
    print("SI-SDR: dB against the true stems (higher is better), mean over stems, then per stem;")
    print("seconds: wall time of the method, masks and STFTs included.")
    print(_throughput(results, names, n_samples / material.sr))
    print("Griffin-Lim sees each stem's magnitude only: the phase it finds is its own, so its")
    print("SI-SDR is low even where it sounds right. MISI also uses the mixture, which pins phases down.")
    for note in [f"note: {n}" for n in material.notes] + [audio_note, figure_note]:
        if note:
            print(note)
    kind = "WAV" if audio_note is None else ".npy"
    files = f"{written} {kind} files, " + (f"{figure.name}, " if figure else "") + "results.json"
    print(f"wrote {files} to {args.out}")
    if synthetic and written and audio_note is None:
        print(f"your own material: {parser.prog} --input MIX.wav --stems DIR "
              f"(try --input {args.out / 'mix.wav'} --stems {args.out / 'stems'})")
    return 0


def _separate(material, n_fft, hop, n_iter, backend, bar):
    """Every method on ``material``; returns the results, the mixture STFT and the ratio masks."""
    stft_args = dict(n_fft=n_fft, hop_length=hop)
    mix, stems = material.mix, material.sources
    n_samples = mix.shape[-1]
    results = []

    def record(key, seconds, estimates):
        label = dict(_METHODS)[key]
        si_sdr, sdr = scores.si_sdr_and_snr(stems, estimates)
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
            momentum=_GL_MOMENTUM, rng=demo_clip.SEED + j, backend=backend))
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


def _throughput(results, names, audio_seconds) -> str:
    """Seconds of audio per second of each backend's methods together (every method separates
    the whole clip once)."""
    rates = []
    for name in names:
        mine = [r for r in results if r.backend == name]
        rates.append(f"{name} {len(mine) * audio_seconds / max(sum(r.seconds for r in mine), 1e-9):.1f}")
    return "seconds of audio per second, all methods: " + ", ".join(rates)


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


def _write_audio(out, material, synthetic, results):
    """Estimates (and, for the synthetic clip, its mixture and stems); returns (count, note)."""
    wav = audio.available()
    files = []  # (path without suffix, (channels, samples) float32, exact 16-bit?)
    if synthetic:
        files.append((out / "mix", material.mix, True))
        for j, name in enumerate(material.names):
            files.append((out / "stems" / name, material.sources[:, j], True))
    for r in results:
        for j, name in enumerate(material.names):
            files.append((out / "estimates" / r.key / name, r.estimates[:, j], False))
    for path, signal, exact in files:
        if wav:
            # The synthetic clip lies on the 16-bit grid, so PCM_16 keeps its bits; estimates may
            # exceed full scale, so they are written as float.
            audio.write_wav(path.with_suffix(".wav"), signal, material.sr, subtype="PCM_16" if exact else "FLOAT")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            with outputs.replacing(path.with_suffix(".npy")) as temporary:
                np.save(temporary, signal)
    note = None
    if not wav:
        note = ("soundfile is not installed: wrote NumPy .npy files of shape (channels, samples) "
                "instead of WAV (pip install soundfile)")
    return len(files), note


def _write_figure(out, material, X_mix, irm, hop):
    """Mixture spectrogram in dB and the ratio mask of every stem (first channel) as demo.png."""
    if not figures.available():
        return None, figures.MISSING
    rows = [[figures.Panel("mixture, dB", np.abs(X_mix[0]), "db")]]
    rows += [[figures.Panel(f"ideal ratio mask: {name}", irm[0, j], "mask")] for j, name in enumerate(material.names)]
    path = out / "demo.png"
    figures.write_figure(path, rows, material.sr, hop)
    return path, None


def _write_json(out, material, description, results, n_fft, hop, n_iter):
    summary = {
        "input": description,
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
    outputs.write_text(out / "results.json", json.dumps(summary, indent=2) + "\n")
