"""Timing: every implementation on every workload, warm-up then the median of repeats, in one
process; each output checked against specsep cpu's.

An implementation on a GPU is timed between two synchronisations of its device (the clock stops when
the work is done, not when it is queued); its inputs are on the device before the clock starts and
its output is copied back for the check after it stops (see :mod:`.devices`).

The runs of one workload are interleaved: a round runs every implementation once, then the next
round starts. On a shared machine a burst of load then falls on all implementations alike instead
of on whichever happened to be running, which keeps the ratios steadier than the times. A workload
given in another library's layout (``Workload.base``) runs in the same rounds as its base workload
where both are chosen, so that its time over the base's time compares runs made side by side.
"""

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
    seconds: float | None = None  # median of the timed runs
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


class _Runner:
    """One implementation bound to one workload: runs it under its settings, checks its first output."""

    def __init__(self, impl, w, inputs, ref, threads, warmup, repeats):
        self.impl, self.w, self.inputs, self.ref, self.threads = impl, w, inputs, ref, threads
        self.warmup, self.repeats = (0, 1) if impl.slow else (warmup, repeats)
        self.cell = Cell(w.key, impl.key, impl.label, impl.specsep, warmup=self.warmup)
        self.run = impl.bind(w, inputs)

    def once(self, timed):
        """One run, the garbage collector off (as in ``timeit``); the first output is checked."""
        device = self.impl.device
        self.impl.setup(self.threads)
        try:
            gc.collect(1)
            gc.disable()
            try:
                device.synchronize()
                start = time.perf_counter()
                out = self.run()
                device.synchronize()
                elapsed = time.perf_counter() - start
            finally:
                gc.enable()
            if timed:
                self.cell.times.append(elapsed)
            if self.cell.ok is None:
                self._check(device.fetch(out))
        finally:
            self.impl.teardown()

    def _check(self, out):
        w, cell = self.w, self.cell
        result = wl.check(w, out, self.ref, self.inputs, interior=w.kind in self.impl.interior)
        cell.error, cell.ok = result["error"], result["ok"]
        cell.spectral_convergence = result.get("spectral_convergence")
        cell.interior = w.kind in self.impl.interior and cell.error is not None


def run(workloads, implementations, *, threads, warmup, repeats, skip_slow=False, verbose=True):
    """Every implementation on every workload; returns the cells, workload by workload.

    Slow implementations (the NumPy reference) run once without warm-up, or not at all with
    ``skip_slow``. A failing implementation is reported in its cell and does not stop the run.
    """
    cells = []
    try:
        for group in _groups(workloads):
            # Full collections are slow with torch and numba loaded; collect once per group and
            # freeze what survives, so that the collections between runs scan only new objects.
            gc.collect()
            gc.freeze()
            cells += _run_group(group, implementations, threads, warmup, repeats, skip_slow, verbose)
    finally:
        gc.unfreeze()
    return sorted(cells, key=lambda c: [w.key for w in workloads].index(c.workload))


def _groups(workloads):
    """The workloads in groups timed together: each with the chosen workloads whose ``base`` it is."""
    keys = {w.key for w in workloads}
    groups = {}
    for w in workloads:
        groups.setdefault(w.base if w.base in keys else w.key, []).append(w)
    return list(groups.values())


def _run_group(group, implementations, threads, warmup, repeats, skip_slow, verbose):
    """The cells of a group of workloads: their inputs and references, warm-up rounds, then timed
    rounds, each round running every implementation on every workload of the group once."""
    cells, runners = [], []
    for w in group:
        start = time.perf_counter()
        inputs = wl.make_inputs(w)
        ref = wl.reference(w, inputs)
        _log(f"{w.key} {w.describe()} (inputs in {time.perf_counter() - start:.1f} s)", verbose)
        for impl in implementations:
            why = impl.available() or impl.skip_reason(w)
            if why is None and impl.slow and skip_slow:
                why = "skipped (--skip-slow)"
            if why is None:
                runners.append(_Runner(impl, w, inputs, ref, threads, warmup, repeats))
                cells.append(runners[-1].cell)
            else:
                cells.append(Cell(w.key, impl.key, impl.label, impl.specsep, skipped=why))

    rounds = [(i, False) for i in range(warmup)] + [(i, True) for i in range(repeats)]
    for i, timed in rounds:
        for runner in runners:
            if runner.cell.skipped or i >= (runner.repeats if timed else runner.warmup):
                continue
            try:
                runner.once(timed)
            except Exception as exc:  # a peer that fails is reported, the others still run
                runner.cell.skipped = f"failed: {type(exc).__name__}: {exc}"
                runner.cell.times.clear()
    for cell in cells:
        if cell.times:
            cell.seconds = statistics.median(cell.times)
        if cell.skipped:
            _log(f"  {cell.workload:<4} {cell.label:<20} {cell.skipped}", verbose)
        elif cell.seconds is not None:
            check = (f"error {cell.error:.1e}" if cell.error is not None
                     else f"spectral convergence {cell.spectral_convergence:.4f}")
            _log(f"  {cell.workload:<4} {cell.label:<20} {cell.seconds:8.3f} s  {check}{'' if cell.ok else '  MISMATCH'}",
                 verbose)
    return cells


def summarize(workloads, cells, subject="specsep-cpu", goal=2.0):
    """Per workload: the time of specsep's ``subject`` backend, the fastest peer's, and the speed-up
    (peer / subject), against ``goal`` (None: no goal); for a workload given in another library's
    layout, also ``subject``'s time over its time on the ``base`` workload (its own layout), where
    both ran."""
    rows = []
    seconds = {c.workload: c.seconds for c in cells if c.implementation == subject and c.seconds}
    for w in workloads:
        mine = [c for c in cells if c.workload == w.key]
        cpu = next((c for c in mine if c.implementation == subject and c.seconds), None)
        peers = [c for c in mine if not c.specsep and c.seconds]
        fastest = min(peers, key=lambda c: c.seconds) if peers else None
        speedup = fastest.seconds / cpu.seconds if cpu and fastest else None
        rows.append({
            "workload": w.key,
            f"{subject.replace('-', '_')}_seconds": cpu.seconds if cpu else None,
            "fastest_peer": fastest.implementation if fastest else None,
            "fastest_peer_label": fastest.label if fastest else None,
            "fastest_peer_seconds": fastest.seconds if fastest else None,
            "speedup": speedup,
            "meets_goal": None if speedup is None or goal is None else bool(speedup >= goal),
        })
        if w.base:
            own = seconds.get(w.base)
            rows[-1]["vs_own_layout"] = cpu.seconds / own if cpu and own else None
    return rows
