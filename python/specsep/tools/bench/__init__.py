"""The benchmark harness behind ``python bench/run.py`` and ``specsep bench``.

specsep's backends and the peers (librosa, scipy.signal.ShortTimeFFT, NumPy with scipy.fft,
torch) side by side in one process on the workloads of :mod:`.workloads`: warm-up, then the
median of repeats; every output checked against specsep cpu's; a markdown report, and optionally
JSON, a PNG bar chart and the markdown in a file. With ``--gpu``, specsep cuda against torch on
CUDA and cupyx.scipy.signal instead, beside the predicted H100 times (:mod:`.gpu`).
"""

from __future__ import annotations

import argparse
import faulthandler
import shlex
import sys
from pathlib import Path

from ..argtypes import int_at_least
from ..commands import outputs
from . import gpu_peers, harness, peers, report, workloads


def _keys(valid, what):
    def parse(text):
        keys = [k.strip() for k in text.split(",") if k.strip()]
        wrong = [k for k in keys if k not in valid]
        if not keys or wrong:
            raise argparse.ArgumentTypeError(
                f"{text!r}: unknown {what} {', '.join(wrong) or '(none given)'}; choose from {','.join(valid)}")
        return keys
    return parse


def default_threads() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options, shared by ``bench/run.py`` and ``specsep bench``."""
    impl_keys = [i.key for i in peers.all_implementations()]
    gpu_keys = [i.key for i in gpu_peers.gpu_implementations()]
    parser.add_argument("--workloads", type=_keys(workloads.KEYS, "workload"), default=list(workloads.KEYS),
                        metavar="W1,W3", help=f"workloads to run (default: all of {','.join(workloads.KEYS)})")
    parser.add_argument("--implementations", type=_keys(impl_keys + gpu_keys, "implementation"), default=None,
                        metavar="NAMES", help=f"implementations to run (default: all of {','.join(impl_keys)}; "
                                              f"with --gpu all of {','.join(gpu_keys)})")
    parser.add_argument("--gpu", action="store_true",
                        help="run on the CUDA device: specsep cuda against torch on CUDA and cupyx.scipy.signal, "
                             "beside the predicted H100 times; without a device it prints why and the predictions "
                             "(exit status 0)")
    parser.add_argument("--repeats", type=int_at_least(1), default=5, metavar="N",
                        help="timed runs per implementation and workload; the median is reported (default: 5)")
    parser.add_argument("--warmup", type=int_at_least(0), default=1, metavar="N",
                        help="untimed runs before them (default: 1)")
    parser.add_argument("--threads", type=int_at_least(1), default=None, metavar="N",
                        help="threads for specsep cpu (specsep.set_num_threads), torch (set_num_threads) and "
                             "scipy.fft (workers) (default: the usable cores)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (batch 1, 0.5 s; every other parameter kept), for smoke tests")
    parser.add_argument("--skip-slow", action="store_true",
                        help="skip the NumPy reference backend (otherwise it runs once, without warm-up)")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="write the results as JSON (every output path is checked before the benchmark runs)")
    parser.add_argument("--plot", default=None, metavar="PATH", help="write a PNG bar chart (needs matplotlib)")
    parser.add_argument("--markdown", default=None, metavar="PATH", help="write the markdown report")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def command_line(args, prog) -> str:
    """The command that gives ``args``: ``prog`` and the options that differ from the defaults."""
    defaults = vars(build_parser(prog).parse_args([]))
    words = [prog]
    for name, value in vars(args).items():
        if name not in defaults or value == defaults[name]:
            continue
        option = "--" + name.replace("_", "-")
        if value is True:
            words.append(option)
        elif isinstance(value, list):
            words += [option, ",".join(value)]
        else:
            words += [option, shlex.quote(str(value))]
    return " ".join(words)


def run(args, command="python bench/run.py") -> int:
    """Run the benchmark for parsed ``args``; prints the report. Returns 0, or 1 when an output
    disagrees with specsep's, an implementation failed or a file cannot be written (2 for
    implementations of the other run, and for output paths that cannot be written, checked first)."""
    try:  # a crash in a native library then names the implementation's Python frame
        faulthandler.enable()
    except (AttributeError, ValueError, OSError):  # stderr without a file descriptor (captured)
        pass
    threads = args.threads or default_threads()
    chosen = workloads.select(args.workloads, quick=args.quick)
    known = gpu_peers.gpu_implementations() if args.gpu else peers.all_implementations()
    wrong = [k for k in args.implementations or () if k not in {i.key for i in known}]
    if wrong:
        print(f"error: argument --implementations: {','.join(wrong)} not in the {'GPU' if args.gpu else 'CPU'} run"
              f"{'' if args.gpu else ' (use --gpu)'}; choose from {','.join(i.key for i in known)}", file=sys.stderr)
        return 2
    impls = [i for i in known if args.implementations is None or i.key in args.implementations]
    for option in ("json", "plot", "markdown"):
        path = getattr(args, option)
        try:
            if path is not None:
                outputs.check_file(Path(path))
        except outputs.OutputError as exc:
            print(f"error: argument --{option}: {exc}", file=sys.stderr)
            return 2
    if args.gpu:
        from . import gpu

        return gpu.run(args, command, chosen, impls, threads, _finish)
    settings = {
        "command": command,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "threads": threads,
        "quick": args.quick,
        "skip_slow": args.skip_slow,
        "slow_implementations": [i.key for i in impls if i.slow],
    }
    info = report.machine(threads)
    print(f"specsep benchmark, {info['date']}")
    print(f"machine: {report.machine_line(info)}")
    print(f"command: {command}")
    print(workloads_text := report.workload_lines(chosen))
    print(flush=True)

    cells = harness.run(chosen, impls, threads=threads, warmup=args.warmup, repeats=args.repeats,
                        skip_slow=args.skip_slow, verbose=not args.quiet)
    summary = harness.summarize(chosen, cells)
    text = report.tables(chosen, cells, summary, settings)
    print(text)
    header = (f"specsep benchmark, {info['date']}\n\nmachine: {report.machine_line(info)}\n\n"
              f"command: `{command}`\n\n{workloads_text}")
    title = f"specsep benchmark, {info['date']}: {info['cpu']}, {threads} thread{'s' * (threads != 1)}"
    return _finish(args, chosen, header, text, cells, summary, info, settings, {}, plot_title=title)


def _finish(args, chosen, header, text, cells, summary, info, settings, extra, plot_title):
    """Writes the files ``args`` asks for (markdown: ``header`` and ``text``; JSON with ``extra``
    added; a plot titled ``plot_title``, where something was measured); returns the exit status."""
    try:
        if args.markdown:
            outputs.write_text(Path(args.markdown), f"{header}\n\n{text}\n")
        if args.json:
            report.write_json(args.json, {**report.to_json(chosen, cells, summary, info, settings), **extra})
        if args.plot:
            if not any(c.seconds for c in cells):
                print("nothing was measured: no plot", file=sys.stderr)
            else:
                try:
                    report.plot(args.plot, chosen, cells, plot_title)
                except ImportError:
                    print("matplotlib is not installed: no plot (pip install matplotlib)", file=sys.stderr)
    except OSError as exc:  # a full disk, a folder removed meanwhile
        print(f"error: cannot write the results: {exc}", file=sys.stderr)
        return 1

    failed = [c for c in cells if c.ok is False or (c.skipped or "").startswith("failed")]
    for c in failed:
        print(f"error: {c.label} on {c.workload}: "
              + (c.skipped if c.skipped else "its output disagrees with specsep cpu's"), file=sys.stderr)
    return 1 if failed else 0


def build_parser(prog="bench/run.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0].replace("\n", " "))
    add_arguments(parser)
    return parser


def main(argv=None, prog="bench/run.py") -> int:
    """Entry point of ``bench/run.py``; Ctrl-C stops it with one line and exit status 130."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(prog).parse_args(argv)
    try:
        return run(args, command="python " + command_line(args, prog))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
