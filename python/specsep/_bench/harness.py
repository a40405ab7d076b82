"""Timing: every implementation on every workload, warm-up then the median of repeats, in one
process; each output checked against specsep cpu's."""

from __future__ import annotations

import gc
import statistics
import sys
import time
from dataclasses import dataclass, field

from . import workloads as wl


@dataclass
class Cell:
    """One implementation on one workload."""

    workload: str
    implementation: str
    label: str
    specsep: bool
    seconds: float | None = None  # median
    times: list = field(default_factory=list)
    warmup: int = 0
    error: float | None = None  # relative L2 error against specsep cpu
    spectral_convergence: float | None = None  # Griffin-Lim only
    ok: bool | None = None  # the check passed
    interior: bool = False  # checked without n_fft samples at each end
    skipped: str | None = None  # why it did not run

    def audio_rate(self, w) -> float | None:
        return None if not self.seconds else w.audio_seconds / self.seconds


def _log(message, verbose):
    if verbose:
        print(message, file=sys.stderr, flush=True)


def time_cell(impl, w, inputs, ref, warmup, repeats) -> Cell:
    """Warm-up runs, then ``repeats`` timed runs; the first output is checked. The garbage
    collector is off during the runs (as in ``timeit``)."""
    cell = Cell(w.key, impl.key, impl.label, impl.specsep, warmup=warmup)
    run = impl.bind(w, inputs)
    gc.collect(1)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(warmup + repeats):
            start = time.perf_counter()
            out = run()
            elapsed = time.perf_counter() - start
            if i >= warmup:
                cell.times.append(elapsed)
            if i == 0:
                result = wl.check(w, out, ref, inputs, interior=w.kind in impl.interior)
                cell.error, cell.ok = result["error"], result["ok"]
                cell.spectral_convergence = result.get("spectral_convergence")
                cell.interior = w.kind in impl.interior and cell.error is not None
            del out
    finally:
        if enabled:
            gc.enable()
    cell.seconds = statistics.median(cell.times)
    return cell


def run(workloads, implementations, *, threads, warmup, repeats, skip_slow=False, verbose=True):
    """Every implementation on every workload; returns the cells in that order.

    Slow implementations (the NumPy reference) run once without warm-up, or not at all with
    ``skip_slow``. A failing implementation is reported in its cell and does not stop the run.
    """
    cells = []
    try:
        for w in workloads:
            # Full collections are slow with torch and numba loaded; collect once per workload and
            # freeze what survives, so that the collections between cells scan only new objects.
            gc.collect()
            gc.freeze()
            cells += _run_workload(w, implementations, threads, warmup, repeats, skip_slow, verbose)
    finally:
        gc.unfreeze()
    return cells


def _run_workload(w, implementations, threads, warmup, repeats, skip_slow, verbose):
    """The cells of one workload: its inputs and reference, then every implementation."""
    cells = []
    start = time.perf_counter()
    inputs = wl.make_inputs(w)
    ref = wl.reference(w, inputs)
    _log(f"{w.key} {w.describe()} (inputs in {time.perf_counter() - start:.1f} s)", verbose)
    for impl in implementations:
        why = impl.available()
        if why is None and impl.slow and skip_slow:
            why = "skipped (--skip-slow)"
        if why is not None:
            cells.append(Cell(w.key, impl.key, impl.label, impl.specsep, skipped=why))
            continue
        slow = impl.slow
        impl.setup(threads)
        try:
            cell = time_cell(impl, w, inputs, ref, 0 if slow else warmup, 1 if slow else repeats)
        except Exception as exc:  # a peer that fails is reported, the others still run
            cell = Cell(w.key, impl.key, impl.label, impl.specsep,
                        skipped=f"failed: {type(exc).__name__}: {exc}")
        finally:
            impl.teardown()
        cells.append(cell)
        if cell.skipped:
            _log(f"  {impl.label:<20} {cell.skipped}", verbose)
        else:
            check = (f"error {cell.error:.1e}" if cell.error is not None
                     else f"spectral convergence {cell.spectral_convergence:.4f}")
            _log(f"  {impl.label:<20} {cell.seconds:8.3f} s  {check}{'' if cell.ok else '  MISMATCH'}",
                 verbose)
    return cells


def summarize(workloads, cells):
    """Per workload: specsep cpu's time, the fastest peer's, and the speed-up (peer / cpu)."""
    rows = []
    for w in workloads:
        mine = [c for c in cells if c.workload == w.key]
        cpu = next((c for c in mine if c.implementation == "specsep-cpu" and c.seconds), None)
        peers = [c for c in mine if not c.specsep and c.seconds]
        fastest = min(peers, key=lambda c: c.seconds) if peers else None
        speedup = fastest.seconds / cpu.seconds if cpu and fastest else None
        rows.append({
            "workload": w.key,
            "specsep_cpu_seconds": cpu.seconds if cpu else None,
            "fastest_peer": fastest.implementation if fastest else None,
            "fastest_peer_label": fastest.label if fastest else None,
            "fastest_peer_seconds": fastest.seconds if fastest else None,
            "speedup": speedup,
            "meets_goal": None if speedup is None else bool(speedup >= 2.0),
        })
    return rows
