"""``specsep griffinlim`` and ``specsep misi``: phase retrieval on WAV files.

``griffinlim`` rebuilds a signal from the magnitude of its own STFT (fast Griffin-Lim);
``misi`` rebuilds every stem of a mixture from the stems' magnitudes and the mixture. Both print
the spectral convergence ``|| |STFT(y)| - S || / ||S||`` per block of iterations, from one call
of :func:`specsep.griffin_lim` or :func:`specsep.misi` (with momentum, blocks of separate calls
would not be the same algorithm), and the convergence of the signals they write.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from specsep import griffin_lim, misi, stft

from ..argtypes import int_at_least, non_negative_float
from . import audio, figures, options, outputs, scores

_BLOCK = 8  # iterations per printed line, doubled and so on while there would be more than 16 lines
_MAX_LINES = 16


def add_parsers(commands) -> None:
    """Add ``griffinlim`` and ``misi`` to the subparsers ``commands``."""
    gl = commands.add_parser(
        "griffinlim", help="rebuild a WAV file from the magnitude of its STFT (fast Griffin-Lim)",
        description=(
            "Take the magnitude of IN.wav's STFT, rebuild a signal from it with fast Griffin-Lim "
            "(random initial phases), and write it to OUT.wav (32-bit float, same rate and channels; "
            "an existing OUT.wav is replaced once the new one is complete). Prints the spectral "
            "convergence || |STFT(y)| - S || / ||S|| over all channels per block of iterations, and "
            "that of the written signal. Exit status: 0 on success, 1 when the work fails, 2 for "
            "bad arguments (among them outputs that cannot be written, checked first), 130 when "
            "interrupted (Ctrl-C)."),
    )
    gl.add_argument("input", type=Path, metavar="IN.wav", help="the signal whose magnitude is the target")
    gl.add_argument("output", type=Path, metavar="OUT.wav", help="the rebuilt signal")
    _add_iteration_options(gl, momentum=0.99)
    gl.add_argument("--seed", type=int_at_least(0), default=0, metavar="S",
                    help="seed of the random initial phases, an integer >= 0 (default: 0)")
    gl.set_defaults(run=run_griffinlim, command_parser=gl)

    mi = commands.add_parser(
        "misi", help="rebuild stems from their magnitudes and the mixture (MISI)",
        description=(
            "Take the magnitudes of the stems' STFTs (every *.wav in STEMS_DIR but MIX.wav) and the "
            "mixture MIX.wav, rebuild every stem with multiple input spectrogram inversion (the "
            "rebuilt stems sum to the mixture), and write them to OUT_DIR/<stem>.wav (32-bit float; "
            "all of them replace existing files at once, once all are complete). Prints the spectral "
            "convergence over all stems and channels per block of iterations, that of the written "
            "stems, and each rebuilt stem's SI-SDR against the given stem. Stems whose names differ "
            "only in case are refused. Exit status as for griffinlim."),
    )
    mi.add_argument("mix", type=Path, metavar="MIX.wav", help="the mixture")
    mi.add_argument("stems", type=Path, metavar="STEMS_DIR", help="folder of the stems: every *.wav but MIX.wav")
    mi.add_argument("out", type=Path, metavar="OUT_DIR", help="folder for the rebuilt stems")
    _add_iteration_options(mi, momentum=0.0)
    mi.add_argument("--init", choices=("mixture", "random", "zeros"), default="mixture",
                    help="initial phases: the mixture's, random or zero (default: mixture)")
    mi.add_argument("--seed", type=int_at_least(0), default=0, metavar="S",
                    help="seed of --init random, an integer >= 0 (default: 0)")
    mi.set_defaults(run=run_misi, command_parser=mi)


def _add_iteration_options(parser, momentum):
    parser.add_argument("--n-iter", type=int_at_least(0), default=32, metavar="N", help="iterations (default: 32)")
    parser.add_argument("--momentum", type=non_negative_float, default=momentum, metavar="M",
                        help=f"fast Griffin-Lim momentum in [0, 1), 0 for none (default: {momentum:g})")
    parser.add_argument("--tol", type=non_negative_float, default=None, metavar="T",
                        help="stop a channel once its spectral convergence improves by less than this "
                             "fraction in one iteration (default: run every iteration)")
    parser.add_argument("--precision", choices=("float32", "float64"), default=None,
                        help="iterate in this precision (default: the audio's, float32, as librosa does; "
                             "float64 is the definition every backend matches sample by sample)")
    options.add_stft_options(parser)
    options.add_backend_option(parser)
    parser.add_argument("--plot", type=Path, default=None, metavar="PNG",
                        help="write a figure: the convergence, the target and rebuilt spectrograms and their "
                             "difference in dB (first channel; needs matplotlib)")
    figures.add_freq_axis_option(parser)


def _comparison_row(prefix, S, X):
    """Figure panels of one signal's first channel: the target magnitude ``S``, the rebuilt
    spectrum ``X``'s magnitude, and their difference, which shows where they differ."""
    rebuilt = np.abs(X)
    sc = float(scores.spectral_convergence(S, X, axes=None))
    return [figures.Panel(f"{prefix}target", S, "db"),
            figures.Panel(f"{prefix}rebuilt: SC {float(scores.to_db(sc)):.1f} dB", rebuilt, "db"),
            figures.Panel(f"{prefix}rebuilt minus target", np.stack([rebuilt, S]), "difference")]


def _check_arguments(parser, args):
    if args.backend is not None:
        options.check_backend(parser, args.backend)
    if args.momentum >= 1:
        parser.error(f"argument --momentum: {args.momentum:g} must be < 1")
    if not audio.available():
        parser.error("reading WAV files needs the soundfile package (pip install soundfile)")
    if args.plot is not None and not figures.available():
        parser.error(f"argument --plot: {figures.MISSING}")


def _check_output(parser, option, check, path):
    """Exit through ``parser.error`` unless ``check(path)`` (``outputs.check_file`` or
    ``check_folder``) passes: a bad output path fails before the work, not after it."""
    try:
        check(path)
    except outputs.OutputError as exc:
        parser.error(f"argument {option}: {exc}")


def _stft_size(parser, args, sr):
    try:
        return options.stft_size(sr, args.n_fft, args.hop_length)
    except ValueError as exc:
        parser.error(f"arguments --n-fft/--hop-length: {exc}")


# ---------------------------------------------------------------------------------------------
# specsep griffinlim


def run_griffinlim(args) -> int:
    """Run ``specsep griffinlim`` for parsed ``args``; returns the exit status."""
    parser = args.command_parser
    _check_arguments(parser, args)
    try:
        x, sr = audio.read_wav(args.input)
    except audio.AudioError as exc:
        parser.error(f"argument IN.wav: {exc}")
    if x.shape[-1] == 0:
        parser.error(f"argument IN.wav: {args.input} has no samples")
    n_fft, hop = _stft_size(parser, args, sr)
    _check_output(parser, "OUT.wav", outputs.check_file, args.output)
    if args.plot is not None:
        _check_output(parser, "--plot", outputs.check_file, args.plot)
    _print_header(parser.prog, args, f"{args.input}", x, sr, n_fft, hop)
    start = time.perf_counter()
    try:
        S = np.abs(stft(x, n_fft=n_fft, hop_length=hop, backend=args.backend))  # (C, F, T)
        y, history = griffin_lim(
            S, n_iter=args.n_iter, hop_length=hop, n_fft=n_fft, length=x.shape[-1], momentum=args.momentum,
            rng=args.seed, tol=args.tol, return_history=True, precision=args.precision, backend=args.backend)
        X_out = stft(y, n_fft=n_fft, hop_length=hop, backend=args.backend)
        elapsed = time.perf_counter() - start
        audio.write_wav(args.output, y, sr)
        curve = _overall(history, _norms(S, axes=(-2, -1)))
        if args.plot is not None:
            figures.write_figure(args.plot, [
                [figures.Panel("convergence over all channels", curve, "curve", "spectral convergence, dB")],
                _comparison_row("", S[0], X_out[0]),
            ], sr, hop, args.freq_axis)
    except (OSError, ValueError, TypeError, MemoryError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    _print_convergence(curve, args.n_iter, float(scores.spectral_convergence(S, X_out, axes=None)))
    _print_throughput(x.shape[-1] / sr, elapsed, args.backend)
    print(f"wrote {args.output}" + (f" and {args.plot}" if args.plot is not None else ""))
    return 0


# ---------------------------------------------------------------------------------------------
# specsep misi


def run_misi(args) -> int:
    """Run ``specsep misi`` for parsed ``args``; returns the exit status."""
    parser = args.command_parser
    _check_arguments(parser, args)
    try:
        recording = audio.read_stems_folder(args.mix, args.stems)
    except audio.AudioError as exc:
        parser.error(f"arguments MIX.wav/STEMS_DIR: {exc}")
    n_fft, hop = _stft_size(parser, args, recording.sr)
    inputs = {args.mix.resolve(), *(p.resolve() for p in audio.wav_files(args.stems))}
    clobbered = [p for p in (args.out / f"{name}.wav" for name in recording.names) if p.resolve() in inputs]
    if clobbered:
        parser.error(f"argument OUT_DIR: the rebuilt stems would replace the input {clobbered[0]}; "
                     "choose another folder")
    _check_output(parser, "OUT_DIR", outputs.check_folder, args.out)
    if args.plot is not None:
        _check_output(parser, "--plot", outputs.check_file, args.plot)
    _print_header(parser.prog, args, f"{args.mix}, {len(recording.names)} stems ({', '.join(recording.names)})",
                  recording.mix, recording.sr, n_fft, hop)
    start = time.perf_counter()
    try:
        S = np.abs(stft(recording.sources, n_fft=n_fft, hop_length=hop, backend=args.backend))  # (C, J, F, T)
        rebuilt, history = misi(
            recording.mix, S, n_iter=args.n_iter, momentum=args.momentum, init=args.init, tol=args.tol,
            return_history=True, n_fft=n_fft, hop_length=hop, rng=args.seed, precision=args.precision,
            backend=args.backend)
        X_out = stft(rebuilt, n_fft=n_fft, hop_length=hop, backend=args.backend)
        elapsed = time.perf_counter() - start
        with outputs.replacing_all([args.out / f"{name}.wav" for name in recording.names]) as paths:
            for j, path in enumerate(paths):
                audio.write_wav(path, rebuilt[:, j], recording.sr)
        curve = _overall(history, _norms(S, axes=(-3, -2, -1)))
        if args.plot is not None:
            rows = [[figures.Panel("convergence over all stems and channels", curve, "curve", "spectral convergence, dB")]]
            rows += [_comparison_row(f"{name}: ", S[0, j], X_out[0, j]) for j, name in enumerate(recording.names)]
            figures.write_figure(args.plot, rows, recording.sr, hop, args.freq_axis)
    except (OSError, ValueError, TypeError, MemoryError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    _print_convergence(curve, args.n_iter, float(scores.spectral_convergence(S, X_out, axes=None)))
    _print_throughput(recording.mix.shape[-1] / recording.sr, elapsed, args.backend)
    si_sdr, _ = scores.si_sdr_and_snr(recording.sources, rebuilt)
    width = max(len(name) for name in recording.names)
    print("SI-SDR of each rebuilt stem against the given stem (dB, over all channels):")
    for name, value in zip(recording.names, si_sdr):
        print(f"  {name:<{width}}  {value:7.2f}")
    for note in recording.notes:
        print(f"note: {note}")
    print(f"wrote {len(recording.names)} stems to {args.out}" + (f" and {args.plot}" if args.plot is not None else ""))
    return 0


# ---------------------------------------------------------------------------------------------
# Spectral convergence


def _print_header(prog, args, what, signal, sr, n_fft, hop):
    channels, n_samples = signal.shape
    print(f"{prog}: {what}, {n_samples / sr:.1f} s at {sr} Hz, {channels} channel{'s' * (channels > 1)}; "
          f"STFT n_fft={n_fft} hop={hop} hann; {args.n_iter} iteration{'s' * (args.n_iter != 1)}, "
          f"momentum {args.momentum:g}" + (f", tol {args.tol:g}" if args.tol is not None else "")
          + (f", {args.precision} iterations" if args.precision else ""), flush=True)


def _print_throughput(audio_seconds, elapsed, backend):
    """Seconds of audio per second of the work (the STFTs and the iterations, not the files)."""
    print(f"{audio_seconds:.1f} s of audio in {elapsed:.2f} s on the {backend or 'default'} backend "
          f"({audio_seconds / max(elapsed, 1e-9):.1f} seconds of audio per second)")


def _norms(S, axes):
    """``||S||`` of each channel (over ``axes``), float64."""
    return np.sqrt(np.sum(np.square(S, dtype=np.float64), axis=axes))


def _overall(history, norms):
    """The spectral convergence over all channels, per iteration, from each channel's.

    ``history`` is ``(channels, iterations)``: channel ``c`` misses ``h_c ||S_c||`` from its
    target, so all channels together miss ``sqrt(sum_c (h_c ||S_c||)^2) / ||S||``. A channel that
    stopped on ``tol`` (NaN from then on) keeps its last value.
    """
    history = np.array(history, dtype=np.float64)
    for t in range(1, history.shape[-1]):
        history[:, t] = np.where(np.isnan(history[:, t]), history[:, t - 1], history[:, t])
    total = math.sqrt(float(np.sum(norms ** 2)))
    return np.sqrt(np.sum((history * norms[:, None]) ** 2, axis=0)) / max(total, np.finfo(np.float64).tiny)


def _print_convergence(curve, n_iter, final):
    """The spectral convergence per block of iterations (iteration k: the estimate it starts
    from), then that of the output."""
    block = _BLOCK * 2 ** max(0, math.ceil(math.log2(max(n_iter, 1) / (_BLOCK * _MAX_LINES))))
    for start in range(0, curve.shape[-1], block):
        part = curve[start:start + block]
        print(f"iterations {start + 1}-{start + part.shape[-1]}: spectral convergence {part[0]:.4g} -> {part[-1]:.4g}")
    if curve.shape[-1] < n_iter:
        print(f"stopped after {curve.shape[-1]} iterations: every channel improved by less than --tol")
    print(f"output: spectral convergence {final:.4g} ({float(scores.to_db(final)):.1f} dB)")
