"""Per-kernel totals of the emulator's access-profile reports (the maths of specsep.emu_profile,
here so that the launcher's exit summary uses it without importing the public module)."""

from __future__ import annotations

from dataclasses import dataclass, field

LEVELS = ("global_load", "global_store", "shared_load", "shared_store")
WIDTHS = (1, 2, 4, 8, 16)


@dataclass
class Traffic:
    """Counts of one level and direction: warp ``requests``, ``bytes`` asked for, ``units`` moved
    (global: 32-byte sectors; shared: wavefronts), ``ideal_units``, ``lines`` (global: 128-byte lines,
    the L1's passes) and requests ``by_width``."""

    requests: int = 0
    bytes: int = 0
    units: int = 0
    ideal_units: int = 0
    lines: int = 0
    by_width: dict = field(default_factory=lambda: dict.fromkeys(WIDTHS, 0))

    def add(self, counts):
        self.requests += counts["requests"]
        self.bytes += counts["bytes"]
        self.units += counts["units"]
        self.ideal_units += counts["ideal_units"]
        self.lines += counts["lines"]
        for width, n in counts["by_width"].items():
            self.by_width[int(width)] += n

    @property
    def units_per_request(self) -> float:
        """Sectors (global) or wavefronts (shared) per warp request; 0 without requests."""
        return self.units / self.requests if self.requests else 0.0

    @property
    def excess(self) -> float:
        """Units moved over the ideal for the same bytes (1.0 = ideal; 0 without requests)."""
        return self.units / self.ideal_units if self.ideal_units else 0.0


@dataclass
class KernelTotals:
    """The counts of every launch of one kernel: a :class:`Traffic` per level and direction, the
    compulsory global sectors (``unique_sectors_load``/``_store``), the sectors each block loads
    summed over blocks (``block_load_sectors``: L1 misses with no reuse between blocks),
    ``launches``, and ``global_by_arg``: the global traffic per kernel argument position,
    ``{position: {"load": Traffic, "store": Traffic}}`` (which argument carries the sectors)."""

    launches: int = 0
    global_load: Traffic = field(default_factory=Traffic)
    global_store: Traffic = field(default_factory=Traffic)
    shared_load: Traffic = field(default_factory=Traffic)
    shared_store: Traffic = field(default_factory=Traffic)
    unique_sectors_load: int = 0
    unique_sectors_store: int = 0
    block_load_sectors: int = 0
    global_by_arg: dict = field(default_factory=dict)

    def add(self, report):
        self.launches += 1
        for level in LEVELS:
            getattr(self, level).add(report[level])
        for position, directions in report["global_by_arg"].items():
            mine = self.global_by_arg.setdefault(position, {"load": Traffic(), "store": Traffic()})
            for direction, counts in directions.items():
                mine[direction].add(counts)
        self.unique_sectors_load += report["unique_sectors_load"]
        self.unique_sectors_store += report["unique_sectors_store"]
        self.block_load_sectors += report["block_load_sectors"]

    def as_dict(self) -> dict:
        out = {"launches": self.launches, "unique_sectors_load": self.unique_sectors_load,
               "unique_sectors_store": self.unique_sectors_store, "block_load_sectors": self.block_load_sectors}
        for level in LEVELS:
            out[level] = _traffic_dict(getattr(self, level))
        out["global_by_arg"] = {position: {direction: _traffic_dict(t) for direction, t in directions.items()}
                                for position, directions in self.global_by_arg.items()}
        return out


def _traffic_dict(t: Traffic) -> dict:
    return {"requests": t.requests, "bytes": t.bytes, "units": t.units, "ideal_units": t.ideal_units,
            "lines": t.lines, "by_width": dict(t.by_width)}


def by_kernel(launches) -> dict[str, KernelTotals]:
    """Per kernel (name expression), the totals of the launch reports ``launches``."""
    totals = {}
    for report in launches:
        totals.setdefault(report["kernel"], KernelTotals()).add(report)
    return totals
