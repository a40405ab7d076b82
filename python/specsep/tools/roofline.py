"""The roofline on paper and the device model.

The roofline: bytes moved and flops done by each CUDA kernel, from the launch parameters, and the
time they predict on an H100, beside the same accounting for torch's unfused path. Byte counts are
DRAM traffic, assuming a frame's overlapping reads of its neighbours' samples hit in L2 (they do:
consecutive blocks read overlapping windows) and nothing else is reused.

The device model (:data:`DEVICES`, :func:`kernel_terms`): a kernel's time on a device class is the
largest of its DRAM, L2, L1/shared, occupancy (memory latency) and floating-point terms, from the
emulator's access profile (specsep.emu_profile: sectors, 128-byte lines, bank wavefronts) and the
ptxas register figures; :data:`LINKS` adds host transfers. ``python -m specsep.tools.device_model``
prints the tables. Everything here is a prediction until measured on a GPU
(``python bench/run.py --gpu`` measures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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


# ---- the device model ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    """One device class: peak rates and the per-SM limits that decide occupancy."""

    name: str
    sms: int
    clock: float             # Hz, boost
    dram: float              # bytes/s
    l2: float                # bytes/s, L2 -> SMs (microbenchmark-level figure)
    l2_bytes: int
    fp32: float              # flop/s (an FMA is 2)
    fp64: float
    shared_per_sm: int       # bytes of shared memory per SM (the carve-out maximum)
    shared_per_block: int    # bytes a block may opt in to
    threads_per_sm: int
    blocks_per_sm: int
    link: str                # the usual host link (a key of LINKS)
    registers_per_sm: int = 65536
    l1_bytes_per_clock: int = 128   # per SM: 32 banks x 4 bytes, one wavefront or one 128-byte line a clock
    dram_latency: float = 600e-9    # seconds, a loaded DRAM access (microbenchmarks: 450-700 ns)


# Sources: NVIDIA's datasheets and architecture whitepapers (H100: "NVIDIA H100 Tensor Core GPU
# Architecture" and the H100 datasheet; H200: H200 datasheet; A100: "NVIDIA A100 Tensor Core GPU
# Architecture"; L4: L4 datasheet; RTX 4090: "NVIDIA Ada GPU Architecture"; T4: "NVIDIA Turing GPU
# Architecture" and the T4 datasheet) and the CUDA C++ Programming Guide's table of compute
# capabilities (per-SM shared memory, threads, blocks, registers). FP32/FP64 are non-tensor peak
# rates at boost clock. L2 bandwidths are approximate microbenchmark figures (Chips and Cheese;
# Jia et al., "Dissecting the NVIDIA Volta/Turing/Ampere GPU architecture"); they seldom bind.
DEVICES = {
    "H100 SXM": Device("H100 SXM", sms=132, clock=1.98e9, dram=3.35e12, l2=7.0e12, l2_bytes=50 << 20,
                       fp32=67e12, fp64=34e12, shared_per_sm=228 << 10, shared_per_block=227 << 10,
                       threads_per_sm=2048, blocks_per_sm=32, link="PCIe 5 x16"),
    "H200": Device("H200", sms=132, clock=1.98e9, dram=4.8e12, l2=7.0e12, l2_bytes=50 << 20,
                   fp32=67e12, fp64=34e12, shared_per_sm=228 << 10, shared_per_block=227 << 10,
                   threads_per_sm=2048, blocks_per_sm=32, link="PCIe 5 x16"),
    "A100": Device("A100", sms=108, clock=1.41e9, dram=2.039e12, l2=4.8e12, l2_bytes=40 << 20,
                   fp32=19.5e12, fp64=9.7e12, shared_per_sm=164 << 10, shared_per_block=163 << 10,
                   threads_per_sm=2048, blocks_per_sm=32, link="PCIe 4 x16"),
    "L4": Device("L4", sms=58, clock=2.04e9, dram=300e9, l2=2.0e12, l2_bytes=48 << 20,
                 fp32=30.3e12, fp64=30.3e12 / 64, shared_per_sm=100 << 10, shared_per_block=99 << 10,
                 threads_per_sm=1536, blocks_per_sm=24, link="PCIe 4 x16"),
    "RTX 4090": Device("RTX 4090", sms=128, clock=2.52e9, dram=1.008e12, l2=5.0e12, l2_bytes=72 << 20,
                       fp32=82.6e12, fp64=82.6e12 / 64, shared_per_sm=100 << 10, shared_per_block=99 << 10,
                       threads_per_sm=1536, blocks_per_sm=24, link="PCIe 4 x16"),
    "T4": Device("T4", sms=40, clock=1.59e9, dram=320e9, l2=1.3e12, l2_bytes=4 << 20,
                 fp32=8.1e12, fp64=8.1e12 / 32, shared_per_sm=64 << 10, shared_per_block=64 << 10,
                 threads_per_sm=1024, blocks_per_sm=16, link="PCIe 3 x16"),
}

# Host links, bytes/s per direction: the theoretical rate (PCI-SIG: 8, 16, 32 GT/s per lane with
# 128b/130b coding, x16; NVLink-C2C: 900 GB/s both directions, GH200 datasheet) and the share of it
# a pinned-memory copy reaches (LINK_EFFICIENCY, typical of cudaMemcpyAsync measurements).
LINKS = {"PCIe 3 x16": 15.75e9, "PCIe 4 x16": 31.5e9, "PCIe 5 x16": 63.0e9, "NVLink-C2C": 450e9}
LINK_EFFICIENCY = 0.8
# Independent global loads a warp keeps in flight (a thread's loads before its first barrier are
# independent): the occupancy term's memory-level parallelism per warp, at most this many requests.
MAX_LOADS_IN_FLIGHT = 8
# The CUDA occupancy calculator's granularities: registers per warp in units of 256, shared memory
# per block in units of 128 bytes plus 1 KiB the system reserves per block (compute capability 8.0+).
REGISTER_UNIT = 256
SHARED_UNIT = 128
SHARED_RESERVED = 1024


@dataclass(frozen=True)
class KernelCounts:
    """What a kernel does, summed over its launches in a workload (the emulator's profile, scaled):
    ``blocks`` and ``threads`` per block, ``shared`` bytes per block (static + dynamic),
    ``registers`` per thread (ptxas), ``l2_sectors`` (the sectors each block loads once, its L1
    misses, and every stored sector: L1 writes through), global ``lines``, load ``requests`` and
    ``load_bytes``, shared ``wavefronts``, and the ``dram_bytes`` it moves."""

    name: str
    blocks: float
    threads: int
    shared: int
    registers: int
    l2_sectors: float
    lines: float
    wavefronts: float
    load_requests: float
    load_bytes: float
    dram_bytes: float
    launches: float = 1
    extra: dict = field(default_factory=dict)


def blocks_per_sm(device: Device, threads: int, registers: int, shared: int) -> int:
    """Resident blocks per SM: the least of the block, thread, register and shared-memory limits."""
    warps = -(-threads // 32)
    per_warp = -(-max(registers, 1) * 32 // REGISTER_UNIT) * REGISTER_UNIT
    by_registers = device.registers_per_sm // (per_warp * warps)
    by_shared = device.shared_per_sm // (-(-shared // SHARED_UNIT) * SHARED_UNIT + SHARED_RESERVED) if shared else 10**9
    return max(0, min(device.blocks_per_sm, device.threads_per_sm // threads, by_registers, by_shared))


def kernel_terms(k: KernelCounts, device: Device) -> dict:
    """Seconds per term of kernel ``k`` on ``device``: ``dram``, ``l2``, ``l1`` (shared wavefronts
    and global lines through the busiest SM's L1 at one a clock), ``occupancy``
    (DRAM bytes over the bandwidth the resident warps can keep in flight: Little's law with
    ``dram_latency``), and ``resident`` (blocks per SM, for the report). FP is a workload term."""
    resident = blocks_per_sm(device, k.threads, k.registers, k.shared)
    if resident == 0:
        raise ValueError(f"{k.name}: a block of {k.threads} threads, {k.registers} registers and {k.shared} bytes "
                         f"of shared memory does not fit an SM of {device.name}")
    per_sm = math.ceil(k.blocks / device.sms)  # blocks the busiest SM runs
    busy_sms = min(device.sms, math.ceil(k.blocks))
    # the L1 data path serves one wavefront or one 128-byte line a clock, shared by resident blocks
    l1_cycles = (k.wavefronts + k.lines) / max(k.blocks, 1) * per_sm
    warp_count = -(-k.threads // 32)
    warps = min(resident, per_sm) * warp_count
    loads_per_warp = k.load_requests / max(k.blocks * warp_count, 1)
    bytes_per_request = k.load_bytes / max(k.load_requests, 1)
    in_flight = busy_sms * warps * min(MAX_LOADS_IN_FLIGHT, max(loads_per_warp, 1)) * bytes_per_request
    reachable = min(device.dram, in_flight / device.dram_latency)
    return {"dram": k.dram_bytes / device.dram, "l2": 32 * k.l2_sectors / device.l2,
            "l1": l1_cycles / device.clock, "occupancy": k.dram_bytes / reachable, "resident": resident}


def kernel_seconds(k: KernelCounts, device: Device) -> float:
    """The largest of the kernel's terms plus its launches."""
    terms = kernel_terms(k, device)
    return max(terms[t] for t in ("dram", "l2", "l1", "occupancy")) + k.launches * LAUNCH_OVERHEAD


def cost_seconds(cost: Cost, device: Device) -> float:
    """A path accounted on paper (bytes, flops, launches; torch's, cuFFT at its memory bound) on
    ``device``: the larger of its DRAM and floating-point terms, plus its launches."""
    peak = device.fp64 if cost.fp64 else device.fp32
    return max(cost.bytes / device.dram, cost.flops / peak) + cost.launches * LAUNCH_OVERHEAD


def transfer_seconds(nbytes: float, link: str) -> float:
    """Seconds to copy ``nbytes`` one way over host link ``link`` (pinned memory)."""
    return nbytes / (LINKS[link] * LINK_EFFICIENCY)
