"""The roofline on paper: bytes moved and flops done by each CUDA kernel, from the launch
parameters, and the time they predict on an H100, beside the same accounting for torch's unfused
path. These are predictions until measured on a GPU (``python bench/run.py --gpu`` measures).

Byte counts are DRAM traffic, assuming a frame's overlapping reads of its neighbours' samples hit
in L2 (they do: consecutive blocks read overlapping windows) and nothing else is reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

H100_BANDWIDTH = 3.35e12       # bytes/s, HBM3
H100_FP32 = 67e12              # flop/s
H100_FP64 = 34e12
LAUNCH_OVERHEAD = 4e-6         # seconds per kernel launch, typical


@dataclass(frozen=True)
class Cost:
    name: str
    bytes: float
    flops: float
    launches: int
    fp64: bool = False

    def seconds(self) -> float:
        peak = H100_FP64 if self.fp64 else H100_FP32
        return max(self.bytes / H100_BANDWIDTH, self.flops / peak) + self.launches * LAUNCH_OVERHEAD


def _fft_flops(n):
    """Real FFT of n points: about 2.5 n log2 n flops."""
    return 2.5 * n * math.log2(max(n, 2))


def stft_costs(signals, samples, n_fft, hop, real_bytes=4):
    frames = 1 + samples // hop
    bins = n_fft // 2 + 1
    complex_bytes = 2 * real_bytes
    spectrum = signals * frames * bins * complex_bytes
    signal = signals * samples * real_bytes
    framed = signals * frames * n_fft * real_bytes
    flops = signals * frames * (_fft_flops(n_fft) + n_fft)
    ours = Cost("specsep fused STFT", signal + spectrum, flops, 1)
    torch = Cost("torch.stft (pad, unfold, window, cuFFT R2C)",
                 2 * signal          # padded copy
                 + 2 * framed        # window multiply over the unfolded frames (read, write)
                 + framed + spectrum  # cuFFT R2C
                 + 2 * spectrum,     # layout copy to (freq, frames)
                 flops, 4)
    return ours, torch


def istft_costs(signals, samples, n_fft, hop, real_bytes=4):
    frames = 1 + samples // hop
    bins = n_fft // 2 + 1
    spectrum = signals * frames * bins * 2 * real_bytes
    signal = signals * samples * real_bytes
    framed = signals * frames * n_fft * real_bytes
    flops = signals * frames * (_fft_flops(n_fft) + 2 * n_fft)
    ours = Cost("specsep fused iSTFT", spectrum + signal, flops, 1)
    torch = Cost("torch.istft (clone, C2R, window, fold, envelope)",
                 2 * spectrum          # input clone / contiguous
                 + spectrum + framed   # cuFFT C2R
                 + 2 * framed          # window multiply
                 + framed + signal     # fold (overlap-add)
                 + 3 * signal,         # envelope division (signal, envelope, out)
                 flops, 6)
    return ours, torch


def griffin_lim_costs(signals, samples, n_fft, hop, iterations):
    """Per call. specsep iterates in the input's precision, float32 here (Note [phase retrieval
    precision] in specsep/api.py), unmeasured (no history, no tol); torchaudio's algorithm in
    float32 torch ops."""
    frames = 1 + samples // hop
    bins = signals * frames * (n_fft // 2 + 1)
    fft = signals * frames * 2 * _fft_flops(n_fft)
    # istft kernel: angles (8) + S (4) per bin in, x_k (4) per sample out; stft + update: x_k and
    # x_(k-1) (4 + 4) per sample in (Note [momentum by linearity] in specsep/phase.hpp), angles (8)
    # per bin out.
    per_iteration = bins * (8 + 4 + 8) + signals * samples * 12
    ours = Cost("specsep GL (2 fused kernels, float32)", iterations * per_iteration,
                iterations * (fft + 20 * bins), 2 * iterations)
    _, stft = stft_costs(signals, samples, n_fft, hop)
    _, istft = istft_costs(signals, samples, n_fft, hop)
    # angle update: rebuilt - a * prev (2 reads, 1 write), abs (1 read, half write), divide
    # (1.5 reads, 1 write), times S (1.5 reads, 1 write): in complex64 units of 8 bytes
    update = bins * 8 * 11
    torch = Cost("torchaudio GL (torch ops, float32)", iterations * (stft.bytes + istft.bytes + update),
                 iterations * (fft + 10 * bins), iterations * (stft.launches + istft.launches + 8))
    return ours, torch


def workloads():
    """The bench workloads on a GPU: (name, [(ours, torch)])."""
    return [
        ("W1 STFT 16x2x10 s @44.1 kHz, n_fft 2048, hop 512", stft_costs(32, 441000, 2048, 512)),
        ("W2 iSTFT of W1", istft_costs(32, 441000, 2048, 512)),
        ("W4 fast Griffin-Lim 4x10 s @22.05 kHz, n_fft 1024, hop 256, 32 it.",
         griffin_lim_costs(4, 220500, 1024, 256, 32)),
    ]


def markdown() -> str:
    lines = ["| workload | implementation | MB moved | GFLOP | launches | predicted H100 ms |",
             "|---|---|---:|---:|---:|---:|"]
    for name, costs in workloads():
        for cost in costs:
            lines.append(f"| {name} | {cost.name} | {cost.bytes / 1e6:,.0f} | {cost.flops / 1e9:,.1f} | "
                         f"{cost.launches} | {cost.seconds() * 1e3:,.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
