"""The ``specsep`` command line: the parser, ``main`` and the dispatch to the commands.

Each command lives in its own module of :mod:`specsep.tools.commands` (``bench`` in
:mod:`specsep.tools.bench`):

- ``specsep demo``: a synthetic four-instrument clip (or your own mixture and stems) separated
  with oracle masks and phase retrieval, the quality of every method and its time;
- ``specsep oracle``: oracle-mask separation of a dataset folder, scored per track and source;
- ``specsep griffinlim`` and ``specsep misi``: phase retrieval on WAV files, with the spectral
  convergence per block of iterations;
- ``specsep bench``: the benchmark harness, the same as ``python bench/run.py`` in a checkout.
"""

from __future__ import annotations

import argparse
import sys

from specsep import __version__

from . import bench as _bench
from .commands import demo, oracle, phase

_PROG = "specsep"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``specsep`` command."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="specsep: batched STFT/iSTFT, separation masks and phase retrieval.",
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo.add_parser(commands)
    oracle.add_parser(commands)
    phase.add_parsers(commands)

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
    0 on success, 2 for bad arguments (with an argparse-style message), 1 when the work fails,
    130 when interrupted (Ctrl-C: one line on stderr, no traceback; the files being written are
    removed, so none is left truncated)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except SystemExit as exc:  # argparse's errors (2), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130


def _bench_command(args) -> int:
    return _bench.run(args, command=_bench.command_line(args, f"{_PROG} bench"))


if __name__ == "__main__":
    sys.exit(main())
