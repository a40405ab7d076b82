"""Predicted H100 times of the benchmark workloads: the roofline on paper of
``specsep/tools/roofline.py`` (bytes moved, flops, launches of specsep's kernels and of torch's
unfused path) applied to each workload's own sizes, so that a ``--quick`` run is predicted at its
quick sizes. No GPU is needed.

W1, W2 and W4 are roofline's STFT, iSTFT and Griffin-Lim accounting; W3 (STFT + iSTFT) is the sum
of the first two. W5 (oracle separation) adds up: the STFT of the sources, the ideal ratio mask in
array-library operations (specsep has no mask kernel on the device: both sides build it from
elementwise passes and a sum over sources), the STFT of the mixture, then for specsep the iSTFT of
every source with the mask read inside the kernel (``separate``), for torch a masked product and
``torch.istft``.
"""

from __future__ import annotations

import math

from .. import roofline

MASK_LAUNCHES = 4  # |X|^2, the sum over sources, the division, the silent-bin select


def _total(name, costs, fp64=False) -> roofline.Cost:
    return roofline.Cost(name, sum(c.bytes for c in costs), sum(c.flops for c in costs),
                         sum(c.launches for c in costs), fp64)


def _ratio_mask(bins, sources) -> roofline.Cost:
    """The ideal ratio mask on powers from complex64 spectra, ``bins`` per source: |X|^2 (read 8 B,
    write 4), the sum over sources (read 4, write 4 / J), the division (read 4 + 4 / J, write 4),
    the select of silent bins (read 4 + 4 / J, write 4)."""
    per_bin = 8 + 4 + 4 + 4 / sources + 4 + 4 / sources + 4 + 4 + 4 / sources + 4
    return roofline.Cost("ideal ratio mask", bins * sources * per_bin, bins * sources * 5, MASK_LAUNCHES)


def _separate_costs(signals, sources, samples, n_fft, hop):
    frames = 1 + samples // hop
    bins = signals * frames * (n_fft // 2 + 1)  # per source
    ours_sources, torch_sources = roofline.stft_costs(signals * sources, samples, n_fft, hop)
    ours_mix, torch_mix = roofline.stft_costs(signals, samples, n_fft, hop)
    ours_inverse, torch_inverse = roofline.istft_costs(signals * sources, samples, n_fft, hop)
    mask = _ratio_mask(bins, sources)
    mask_read = roofline.Cost("mask read in the iSTFT kernel", bins * sources * 4, bins * sources * 6, 0)
    product = roofline.Cost("masked product", bins * sources * (8 + 4 + 8), bins * sources * 2, 1)
    ours = _total("specsep STFTs, mask, fused masked iSTFT (separate)",
                  [ours_sources, mask, ours_mix, ours_inverse, mask_read])
    torch = _total("torch.stft, mask in torch ops, product, torch.istft",
                   [torch_sources, mask, torch_mix, product, torch_inverse])
    return ours, torch


def costs(w) -> tuple[roofline.Cost, roofline.Cost]:
    """``(specsep, torch)`` roofline costs of workload ``w`` on a GPU."""
    signals = math.prod(w.batch)
    args = (signals, w.samples, w.n_fft, w.hop)
    if w.kind == "stft":
        return roofline.stft_costs(*args)
    if w.kind == "istft":
        return roofline.istft_costs(*args)
    if w.kind == "roundtrip":
        forward, inverse = roofline.stft_costs(*args), roofline.istft_costs(*args)
        return (_total("specsep fused STFT + fused iSTFT", [forward[0], inverse[0]]),
                _total("torch.stft + torch.istft", [forward[1], inverse[1]]))
    if w.kind == "griffinlim":
        return roofline.griffin_lim_costs(*args, w.n_iter)
    if w.kind == "separate":
        return _separate_costs(signals, w.n_sources, w.samples, w.n_fft, w.hop)
    raise ValueError(f"unknown workload kind {w.kind!r}")


def rows(workloads) -> list[dict]:
    """Per workload: both costs and the predicted seconds (JSON-ready)."""
    out = []
    for w in workloads:
        ours, torch = costs(w)
        out.append({"workload": w.key, **{
            side: {"path": cost.name, "bytes": cost.bytes, "flops": cost.flops, "launches": cost.launches,
                   "fp64": cost.fp64, "seconds": cost.seconds()}
            for side, cost in (("specsep", ours), ("torch", torch))}})
    return out


def _ms(seconds):
    ms = seconds * 1e3
    return f"{ms:,.2f}" if ms >= 0.1 else f"{ms:.3f}"


def table(workloads) -> str:
    """The markdown table of predictions for ``workloads``."""
    lines = [
        f"Predicted H100 times (the roofline on paper, specsep/tools/roofline.py: "
        f"{roofline.H100_BANDWIDTH / 1e12:g} TB/s, {roofline.H100_FP32 / 1e12:g} TFLOP/s fp32, "
        f"{roofline.H100_FP64 / 1e12:g} fp64, {roofline.LAUNCH_OVERHEAD * 1e6:g} us per launch; "
        f"predictions, not measurements):",
        "",
        "| workload | specsep cuda: MB moved | launches | predicted ms | torch on CUDA: MB moved | launches | "
        "predicted ms | predicted speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in workloads:
        ours, torch = costs(w)
        lines.append(f"| {w.key} {w.title} | {ours.bytes / 1e6:,.1f} | {ours.launches} | {_ms(ours.seconds())} | "
                     f"{torch.bytes / 1e6:,.1f} | {torch.launches} | {_ms(torch.seconds())} | "
                     f"{torch.seconds() / ours.seconds():.1f}x |")
    return "\n".join(lines)
