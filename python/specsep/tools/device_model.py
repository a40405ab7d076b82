"""Predicted times of the benchmark workloads per device class, and of ``specsep oracle``'s
end-to-end throughput with host transfers: the device model of :mod:`.roofline` fed with the
emulator's access profile. Predictions, not measurements.

specsep's side: each workload runs on the ``cuda-emu`` backend at one signal of
``PROFILE_FRAMES`` frames (``PROFILE_ITERATIONS`` iterations for Griffin-Lim) through the access
profiler; every kernel's sectors, lines, wavefronts and blocks are scaled to the workload's frames
and iterations, its DRAM bytes are the roofline's (shared among the kernels by their compulsory
sectors), its registers ptxas's (docs/kernel-resources.md, sm_90). A kernel takes the largest of its
DRAM, L2, L1/shared and occupancy terms (roofline.kernel_terms); the workload the larger of the
kernels' sum and its floating-point term, plus its launches and (W5) the mask built from array
operations, as roofline accounts it. torch's and torchaudio's side: the roofline's bytes, flops
and launches (cuFFT at its memory bound), on the same device.

    python -m specsep.tools.device_model      # the markdown tables (about a minute: emulation)
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

from specsep import cuda_source, emu_profile

from . import roofline
from .bench import peers, predictions, workloads

# Frames of the profiled signal: enough that the iSTFT's segments (_backends/cuda.py: SEGMENT_HOPS
# hops per block, each re-inverting the n_fft / hop - 1 frames it shares with the previous one)
# repeat as in a long signal; at 24 frames the last, partial segment hid a third of that overlap.
PROFILE_FRAMES = 96
PROFILE_ITERATIONS = 2
ORACLE_SOURCES = 4  # W5's: a track's mixture and four stems in, four estimates out
FALLBACK_REGISTERS = 64  # per thread, where the ptxas table is not at hand (an installed wheel)


def ptxas_table(arch: str = "90") -> dict[str, tuple[int, int]]:
    """``kernel -> (registers, static shared bytes)`` from docs/kernel-resources.md of a source
    checkout (empty when there is none)."""
    doc = cuda_source.source_dirs()[0].parents[1] / "docs" / "kernel-resources.md"
    if not Path(doc).is_file():
        return {}
    rows = re.findall(rf"\| `([^`]+)` \| sm_{arch} \| (\d+) \| [^|]+ \| (\d+) \|", doc.read_text())
    return {name: (int(registers), int(static)) for name, registers, static in rows}


def profile(w: workloads.Workload) -> tuple[list, dict]:
    """``(launch reports, scale)``: workload ``w`` at one signal of PROFILE_FRAMES frames on
    cuda-emu, profiled; ``scale`` multiplies per-frame counts (``frames``) and per-iteration
    launches (``iterations``) up to ``w``'s size."""
    small = replace(w, batch=(1,) * len(w.batch), seconds=(PROFILE_FRAMES - 1) * w.hop / w.sr,
                    n_iter=min(w.n_iter, PROFILE_ITERATIONS))
    run = peers.Specsep("cuda-emu").bind(small, workloads.make_inputs(small))
    with emu_profile.recording() as launches:
        run()
    frames = math.prod(w.batch) * w.n_frames / (math.prod(small.batch) * small.n_frames)
    iterations = w.n_iter / small.n_iter if w.n_iter else 1.0
    return launches, {"frames": frames * iterations, "iterations": iterations}


def kernel_counts(w: workloads.Workload) -> list[roofline.KernelCounts]:
    """specsep's kernels in workload ``w``, scaled from the profile."""
    launches, scale = profile(w)
    ptxas = ptxas_table()
    ours, _ = predictions.costs(w)
    groups = {}
    for report in launches:
        groups.setdefault(report["kernel"], []).append(report)
    totals = emu_profile.by_kernel(launches)
    compulsory = sum(t.unique_sectors_load + t.unique_sectors_store for t in totals.values())
    counts = []
    for name, reports in groups.items():
        t = totals[name]
        registers, static = ptxas.get(name, (FALLBACK_REGISTERS, 0))
        first = reports[0]
        f = scale["frames"]
        counts.append(roofline.KernelCounts(
            name=name, blocks=f * sum(math.prod(r["grid"]) for r in reports), threads=math.prod(first["block"]),
            shared=first["shared_mem"] + static, registers=registers,
            l2_sectors=f * (t.block_load_sectors + t.global_store.units),
            lines=f * (t.global_load.lines + t.global_store.lines),
            wavefronts=f * (t.shared_load.units + t.shared_store.units),
            load_requests=f * t.global_load.requests, load_bytes=f * t.global_load.bytes,
            dram_bytes=ours.bytes * (t.unique_sectors_load + t.unique_sectors_store) / max(compulsory, 1),
            launches=len(reports) * scale["iterations"]))
    return counts


def predict(w: workloads.Workload, device: roofline.Device, counts=None) -> dict:
    """Seconds of specsep's and torch's paths for ``w`` on ``device``, with specsep's terms."""
    counts = kernel_counts(w) if counts is None else counts
    ours, torch = predictions.costs(w)
    kernels = sum(max(v for k, v in roofline.kernel_terms(c, device).items() if k != "resident") for c in counts)
    flops = ours.flops / (device.fp64 if ours.fp64 else device.fp32)
    terms = {name: sum(roofline.kernel_terms(c, device)[name] for c in counts)
             for name in ("dram", "l2", "l1", "occupancy")}
    terms["fp"] = flops
    extra = 0.0
    if w.kind == "separate":  # the ideal ratio mask in array operations, as the roofline counts it
        mask = predictions._ratio_mask(math.prod(w.batch) * w.n_frames * (w.n_fft // 2 + 1), w.n_sources)
        extra = roofline.cost_seconds(mask, device)
    launches = sum(c.launches for c in counts)
    seconds = max(kernels, flops) + launches * roofline.LAUNCH_OVERHEAD + extra
    return {"specsep": seconds, "torch": roofline.cost_seconds(torch, device), "terms": terms,
            "bound": max(terms, key=terms.get), "launches": launches}


def oracle_throughput(w5_seconds: float, w: workloads.Workload, link: str) -> dict:
    """``specsep oracle`` on workload W5's tracks over host link ``link``: each track's mixture and
    sources go to the device, its estimates come back (float32). Audio seconds per second without
    overlap (copy in, compute, copy out in turn) and with it (two streams: the copies of the next
    and previous batches under the compute of this one, both directions at once)."""
    tracks = math.prod(w.batch[:-1])
    track_bytes = w.batch[-1] * w.samples * 4
    inbound = roofline.transfer_seconds(tracks * (1 + ORACLE_SOURCES) * track_bytes, link)
    outbound = roofline.transfer_seconds(tracks * ORACLE_SOURCES * track_bytes, link)
    audio = tracks * w.seconds
    return {"in": inbound, "out": outbound, "serial": audio / (inbound + w5_seconds + outbound),
            "overlapped": audio / max(inbound, w5_seconds, outbound)}


def _ms(seconds):
    ms = seconds * 1e3
    return f"{ms:,.2f}" if ms >= 0.1 else f"{ms:.3f}"


# The workloads the model predicts. W2L/W2T/W5L (other libraries' layouts: a device-side copy first)
# and W6 (a prime n_fft: shared-memory or global kernels by the device's shared memory) route per
# device, which one profile on the emulated device does not decide.
MODELLED = ("W1", "W2", "W3", "W4", "W5")


def markdown() -> str:
    chosen = workloads.select(list(MODELLED))
    counts = {w.key: kernel_counts(w) for w in chosen}
    lines = ["Predicted times per device class (the device model of specsep/tools/roofline.py fed with the "
             "emulator's access profile; predictions, not measurements). specsep: the largest of each kernel's "
             "DRAM, L2, L1/shared and occupancy terms, summed, against the FP32 term, plus launches; torch and "
             "torchaudio: their bytes, flops and launches as the roofline counts them (cuFFT at its memory "
             "bound). Milliseconds; the speed-up is torch / specsep; `bound` names specsep's largest term.", "",
             "| workload | " + " | ".join(roofline.DEVICES) + " |",
             "|---|" + "---:|" * len(roofline.DEVICES)]
    for w in chosen:
        cells = []
        for device in roofline.DEVICES.values():
            p = predict(w, device, counts[w.key])
            cells.append(f"{_ms(p['specsep'])} vs {_ms(p['torch'])} ({p['torch'] / p['specsep']:.1f}x, {p['bound']})")
        lines.append(f"| {w.key} {w.title} | " + " | ".join(cells) + " |")
    w5 = next(w for w in chosen if w.key == "W5")
    lines += ["", f"`specsep oracle` end to end (W5's {math.prod(w5.batch[:-1])} stereo tracks of {w5.seconds:g} s, "
              f"{ORACLE_SOURCES} sources, float32 over the host link at {roofline.LINK_EFFICIENCY:.0%} of its rate; "
              "predicted seconds of audio per second):", "",
              "| device | link | compute ms | copy in / out ms | serial | overlapped |",
              "|---|---|---:|---:|---:|---:|"]
    rows = [(name, device.link) for name, device in roofline.DEVICES.items()]
    rows += [("H100 SXM", "PCIe 4 x16"), ("H200", "NVLink-C2C")]
    for name, link in rows:
        compute = predict(w5, roofline.DEVICES[name], counts["W5"])["specsep"]
        t = oracle_throughput(compute, w5, link)
        label = f"{name} (GH200)" if link == "NVLink-C2C" else name
        lines.append(f"| {label} | {link} | {_ms(compute)} | {_ms(t['in'])} / {_ms(t['out'])} | "
                     f"{t['serial']:,.0f} | {t['overlapped']:,.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
