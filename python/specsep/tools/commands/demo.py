"""``specsep demo``: separate a synthetic four-instrument clip (or your own mixture and stems)
with oracle masks and phase retrieval, print the quality of every method and its time, and write
the estimates, a figure and ``results.json`` (its fields: docs/results.md).

Each method is scored by what it rebuilds: the masks and MISI a waveform (SI-SDR and SNR against
the true stem), Griffin-Lim and MISI a magnitude (spectral convergence against the true stem's).
Griffin-Lim sees a stem's magnitude only, so the phase it finds is its own and a waveform
measure says nothing of it."""

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
_PHASE_RETRIEVAL = ("griffinlim", "misi")  # the methods scored by spectral convergence
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
            "the SI-SDR of the masks and MISI and the spectral convergence of Griffin-Lim and MISI "
            "(dB, against the true stems) and wall time per method; writes the estimates "
            "as WAV files (.npy without soundfile), a figure (with matplotlib) and results.json "
            "(its fields: docs/results.md). DIR is "
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
    figures.add_freq_axis_option(demo)
    demo.set_defaults(run=run, command_parser=demo)


@dataclass
class _Result:
    key: str
    label: str
    backend: str
    seconds: float
    estimates: np.ndarray  # (channels, stems, samples)
    si_sdr_db: np.ndarray  # (stems,)
    snr_db: np.ndarray  # (stems,)
    spectral_convergence_db: np.ndarray  # (stems,)


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
            figure, figure_note = _write_figure(args.out, material, [r for r in results if r.backend == names[0]],
                                                X_mix, irm, n_fft, hop, args.freq_axis)
            bar.update()
            _write_json(args.out, material, description, results, n_fft, hop, args.n_iter)
        folder.finish()
    except (OSError, ValueError, TypeError, MemoryError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1

    ordered = sorted(results, key=lambda r: [key for key, _ in _METHODS].index(r.key))
    print()
    print("SI-SDR of the waveforms, dB against the true stems (higher is better):")
    print(_format_table([r for r in ordered if r.key != "griffinlim"], material.names, "SI-SDR",
                        lambda r: r.si_sdr_db))
    print()
    print("spectral convergence of the magnitudes, || |STFT(estimate)| - |STFT(stem)| || / || |STFT(stem)| ||")
    print("in dB (lower is better):")
    print(_format_table([r for r in ordered if r.key in _PHASE_RETRIEVAL], material.names, "SC",
                        lambda r: r.spectral_convergence_db))
    print()
    print("mean: over stems; seconds: wall time of the method, masks and STFTs included.")
    print(_throughput(results, names, n_samples / material.sr))
    print("Griffin-Lim sees each stem's magnitude only: the phase it finds is its own, so a waveform")
    print("measure (SI-SDR) says nothing of it; its measure is the spectral convergence. MISI also uses")
    print("the mixture, which pins the phases down: both measures apply.")
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
        si_sdr, snr = scores.si_sdr_and_snr(stems, estimates)
        X_estimates = stft(estimates, **stft_args, backend=backend)
        convergence = scores.spectral_convergence(S_stems, X_estimates, axes=(0, 2, 3))  # per stem
        results.append(_Result(key, label, backend, seconds, estimates, si_sdr, snr, scores.to_db(convergence)))

    # Oracle masks: each computed from the true stems, then applied to the mixture.
    start = time.perf_counter()
    X_stems = stft(stems, **stft_args, backend=backend)  # (C, J, F, T)
    X_mix = stft(mix, **stft_args, backend=backend)  # (C, F, T)
    analysis = time.perf_counter() - start
    S_stems = np.abs(X_stems)
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


def _format_table(results, names, measure, values) -> str:
    """One row per result: ``values(result)`` per stem (dB) with their mean, and the seconds."""
    widths = [max(7, len(name)) for name in names]
    label_width = max(len("method"), *(len(r.label) for r in results))
    backend_width = max(len("backend"), *(len(r.backend) for r in results))
    header = (f"{'method':<{label_width}}  {'backend':<{backend_width}}  {'mean ' + measure:>11}  "
              + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths)) + f"  {'seconds':>8}")
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.label:<{label_width}}  {r.backend:<{backend_width}}  {np.mean(values(r)):11.2f}  "
            + "  ".join(f"{value:{w}.2f}" for value, w in zip(values(r), widths))
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


def _write_figure(out, material, results, X_mix, irm, n_fft, hop, freq_axis):
    """demo.png (first channel): the mixture, then per stem the true stem, its ratio mask and the
    estimates of the ratio mask, Griffin-Lim and MISI with their scores."""
    if not figures.available():
        return None, figures.MISSING
    by_key = {r.key: r for r in results}
    spectra = {key: np.abs(stft(by_key[key].estimates[0], n_fft=n_fft, hop_length=hop)) for key in ("irm", "griffinlim", "misi")}
    S_true = np.abs(stft(material.sources[0], n_fft=n_fft, hop_length=hop))  # (J, F, T)
    rows = [[figures.Panel("mixture", np.abs(X_mix[0]), "db")]]
    for j, name in enumerate(material.names):
        irm_r, gl, mi = by_key["irm"], by_key["griffinlim"], by_key["misi"]
        rows.append([
            figures.Panel(f"{name}: true stem", S_true[j], "db"),
            figures.Panel(f"{name}: ideal ratio mask", irm[0, j], "mask"),
            figures.Panel(f"ratio-mask estimate: SI-SDR {irm_r.si_sdr_db[j]:.1f} dB", spectra["irm"][j], "db"),
            figures.Panel(f"Griffin-Lim: SC {gl.spectral_convergence_db[j]:.1f} dB", spectra["griffinlim"][j], "db"),
            figures.Panel(f"MISI: SI-SDR {mi.si_sdr_db[j]:.1f} dB, SC {mi.spectral_convergence_db[j]:.1f} dB",
                          spectra["misi"][j], "db"),
        ])
    path = out / "demo.png"
    figures.write_figure(path, rows, material.sr, hop, freq_axis)
    return path, None


def _measure(name, values, names):
    """``{name: {stem: value}, name + "_mean": mean}``; a value that is not finite is written as
    null (JSON has no inf), and the mean is then null too."""
    finite = [float(x) if np.isfinite(x) else None for x in values]
    mean = float(np.mean(values)) if all(x is not None for x in finite) else None
    return {name: dict(zip(names, finite)), f"{name}_mean": mean}


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
                **_measure("si_sdr_db", r.si_sdr_db, material.names),
                **_measure("snr_db", r.snr_db, material.names),
                **_measure("spectral_convergence_db", r.spectral_convergence_db, material.names),
            }
            for r in results
        ],
    }
    outputs.write_text(out / "results.json", json.dumps(summary, indent=2) + "\n")
