"""What a benchmark run reports: the machine, markdown tables, JSON and a bar chart."""

from __future__ import annotations

import datetime
import json
import os
import platform
from dataclasses import asdict
from pathlib import Path

from ..commands import outputs


def _version(distribution):
    """The installed version, without importing the package (torch and librosa import slowly)."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine(threads) -> dict:
    """The machine and the software versions of a run."""
    import specsep

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": _memory_gib(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "threads": threads,
        "versions": {
            "python": platform.python_version(),
            "specsep": specsep.__version__,
            "specsep_kernels": specsep.cpu_kernels(),
            "numpy": _version("numpy"),
            "scipy": _version("scipy"),
            "librosa": _version("librosa"),
            "torch": _version("torch"),
        },
    }


def machine_line(m) -> str:
    v = m["versions"]
    soft = ", ".join(f"{name} {v[name]}" for name in ("python", "numpy", "scipy", "librosa", "torch") if v[name])
    load = "" if m["load_average"] is None else f"; load average {m['load_average'][0]:g} at start"
    return (f"{m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['memory_gib']} GiB, "
            f"{m['platform']}; {soft}; specsep {v['specsep']} ({v['specsep_kernels']}); "
            f"{m['threads']} thread{'s' * (m['threads'] != 1)}{load}")


def _seconds(s):
    if s >= 0.01:
        return f"{s:.3f}"
    return f"{s:.4f}" if s >= 0.001 else f"{s:.3g}"  # three significant digits under a millisecond (GPU)


def _rate(r):
    return f"{r:,.0f}x" if r >= 10 else f"{r:.1f}x"


def tables(workloads, cells, summary, settings) -> str:
    """The markdown report: times, speed-ups, and the agreement of every output."""
    return "\n".join([times_table(workloads, cells, settings), "", speedup_table(workloads, summary), "",
                      agreement_table(workloads, cells)])


def _header(workloads):
    return ("| implementation | " + " | ".join(f"{w.key} {w.title}" for w in workloads) + " |",
            "|---|" + "---:|" * len(workloads))


def _implementations(cells):
    return list(dict.fromkeys((c.implementation, c.label) for c in cells))


def times_table(workloads, cells, settings) -> str:
    """Seconds and audio seconds per second of every implementation on every workload."""
    by = {(c.workload, c.implementation): c for c in cells}
    lines = [
        f"Seconds, median of {settings['repeats']} runs after {settings['warmup']} warm-up, the implementations "
        f"taking turns "
        f"(audio seconds processed per second in parentheses):",
        "",
        *_header(workloads),
    ]
    once = False
    for key, label in _implementations(cells):
        row = []
        for w in workloads:
            c = by.get((w.key, key))
            if c is None or c.seconds is None:
                row.append("n/a")
                continue
            mark = "†" if len(c.times) == 1 and settings["repeats"] > 1 else ""
            once |= bool(mark)
            row.append(f"{_seconds(c.seconds)}{mark} ({_rate(c.audio_rate(w))})"
                       + ("" if c.ok else " MISMATCH"))
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    if once:
        lines += ["", "† one run without warm-up (slow implementation)."]
    skipped = sorted({f"{c.label}: {c.skipped}" for c in cells if c.skipped})
    if skipped:
        lines += ["", "Not run: " + "; ".join(skipped) + "."]
    return "\n".join(lines)


def speedup_table(workloads, summary) -> str:
    """specsep cpu against the fastest peer, per workload, with the goal."""
    lines = ["specsep cpu against the fastest peer (specsep's backends are not peers; goal: >= 2x):", "",
             "| workload | specsep cpu, s | fastest peer | its seconds | speed-up | goal |", "|---|---:|---|---:|---:|---|"]
    titles = {w.key: f"{w.key} {w.title}" for w in workloads}
    for row in summary:
        if row["speedup"] is None:
            lines.append(f"| {titles[row['workload']]} | n/a | n/a | n/a | n/a | n/a |")
            continue
        lines.append(
            f"| {titles[row['workload']]} | {_seconds(row['specsep_cpu_seconds'])} | {row['fastest_peer_label']} | "
            f"{_seconds(row['fastest_peer_seconds'])} | {row['speedup']:.2f}x | "
            f"{'met' if row['meets_goal'] else 'missed'} |")
    layouts = [row for row in summary if row.get("vs_own_layout") is not None]
    if layouts:
        lines += ["", "Spectrograms in another library's layout, specsep cpu's time over its time on the same "
                      "values in its own layout: " + "; ".join(
                          f"{titles[row['workload']]}: {row['vs_own_layout']:.2f}x" for row in layouts) + "."]
    return "\n".join(lines)


def agreement_table(workloads, cells) -> str:
    """Every output against specsep cpu's: relative error, or Griffin-Lim's spectral convergence."""
    by = {(c.workload, c.implementation): c for c in cells}
    lines = ["Agreement with specsep cpu: relative L2 error of the output (Griffin-Lim: the final spectral "
             "convergence || |STFT(y)| - S || / ||S||, every implementation from the same initial phases):", "",
             *_header(workloads)]
    for key, label in _implementations(cells):
        row = []
        for w in workloads:
            c = by.get((w.key, key))
            if c is None or c.ok is None:
                row.append("n/a")
            elif c.spectral_convergence is not None:
                row.append(f"SC {c.spectral_convergence:.4f}" + ("" if c.ok else " MISMATCH"))
            else:
                row.append(f"{c.error:.1e}" + ("‡" if c.interior else "") + ("" if c.ok else " MISMATCH"))
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    if any(c.interior and c.error is not None for c in cells):
        lines += ["", "‡ without the first and last n_fft samples, where the implementation's framing "
                  "convention differs at the signal ends (see specsep/tools/bench/peers.py)."]
    return "\n".join(lines)


def workload_lines(workloads) -> str:
    return "\n".join(f"- {w.key} {w.describe()} ({w.audio_seconds:g} s of audio)" for w in workloads)


def to_json(workloads, cells, summary, machine_info, settings) -> dict:
    return {
        "machine": machine_info,
        "settings": settings,
        "workloads": [dict(asdict(w), audio_seconds=w.audio_seconds, description=w.describe()) for w in workloads],
        "results": [
            dict(asdict(c), audio_seconds_per_second=c.audio_rate(next(w for w in workloads if w.key == c.workload)))
            for c in cells
        ],
        "summary": summary,
    }


def write_json(path, data):
    """``data`` as indented JSON, written whole (through a temporary file)."""
    outputs.write_text(Path(path), json.dumps(data, indent=2) + "\n")


def plot(path, workloads, cells, title):
    """Horizontal bars of seconds per implementation, one panel per workload (log scale)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [w for w in workloads if any(c.workload == w.key and c.seconds for c in cells)]
    fig = Figure(figsize=(8.0, 0.5 + 1.9 * max(1, len(shown))), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(1, len(shown)), 1, squeeze=False)[:, 0]
    for ax, w in zip(axes, shown):
        mine = [c for c in cells if c.workload == w.key and c.seconds]
        labels = [c.label for c in mine][::-1]
        values = [c.seconds for c in mine][::-1]
        colors = ["tab:orange" if c.specsep else "tab:blue" for c in mine][::-1]
        bars = ax.barh(labels, values, color=colors)
        ax.set_xscale("log")
        ax.bar_label(bars, labels=[_seconds(v) for v in values], padding=3, fontsize=8)
        ax.set_xlim(min(values) / 1.5, max(values) * 4)
        ax.set_title(f"{w.key} {w.title}", fontsize=10, loc="left")
        ax.tick_params(labelsize=8)
    axes[-1].set_xlabel("seconds (median, log scale; lower is better)")
    fig.suptitle(title, fontsize=9)
    with outputs.replacing(Path(path)) as temporary:
        fig.savefig(temporary, dpi=100, format="png")
