"""Peak memory of stft, istft, griffin_lim and misi on the cpu backend, for a 30-minute stereo track
and a batch of 64 x 10 s (float32, 44.1 kHz, n_fft 2048, hop 512).

Each case runs in a fresh ``python -c`` (so that nothing earlier in the test session is resident):
it imports specsep, allocates and fills the input without temporaries, reads ``ru_maxrss`` (the
baseline), makes one call and reads ``ru_maxrss`` again. The difference, the memory the call added
on top of its input, must stay within ``FACTOR[function] * (input bytes + output bytes)``.

Bytes per spectrogram bin (float32 input; n_fft 2048 and hop 512 give ~2 bins per sample), from the
code and confirmed by the measurements noted beside each factor:

- stft adds its output (complex64, 8 B/bin) and nothing else: 8 / (2 + 8) = 0.80 of input + output.
- istft adds its output (4 B/sample) and nothing else: 4 / (16 + 4) = 0.20.
- griffin_lim adds ~27 B/bin on 4 B/bin of input and ~2 B/bin of output, measured when it iterated
  in float64 (it now iterates in the input's float32, Note [phase retrieval precision] in api.py,
  with half that state and a float32 copy of each group's turns: the factors are upper bounds) from
  the initial angles' random turns
  (float64, 8 B, from api._initial_angles, read in place through their strides; init="zeros" is one
  broadcast value), and runs the batch in groups of items whose C++ state (magnitudes and angles in
  lanes, 24 B per bin, and the signals) stays about a last-level cache in size, one item where an
  item is larger (Note [phase retrieval in groups of items]): the state of the whole batch is never
  held at once. 64 x 10 s: 1.8; 30-minute stereo (one item per group, 3.6 GiB of state each): 4.5.
- misi (J = 2 sources) holds ~22 B per source bin on 64 x 10 s, the same scheme plus the mixture's
  STFT for the "mixture" initial phases (complex64, then kept by the output buffer cache: below)
  and its broadcast over the sources, per group: 3.2.
- The cpu backend keeps freed output buffers for reuse (SPECSEP_BUFFER_CACHE_MB, default 1024 MiB);
  a buffer freed inside a call (misi's mixture STFT) stays resident, which the factors include.

Memory does not depend on the iteration count (all buffers are allocated before the first
iteration; griffin_lim on 64 x 10 s measured 4099 MiB at n_iter 0, 1 and 2, within 0.01 %), so the
phase retrieval cases run one iteration. A case runs only where the machine has the memory
(MemAvailable at least 1.25 times BYTES_PER_BIN x bins) and is skipped, with the estimate in the
reason, elsewhere: on 24 GB, 30-minute stereo Griffin-Lim (~10 GB) runs and two-source MISI
(~20 GB) is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import specsep

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("cpu" not in specsep.available_backends(), reason="cpu backend not built"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB and /proc/meminfo: Linux"),
]

SR, N_FFT, HOP = 44100, 2048, 512
CASES = {  # (batch, seconds)
    "30-minute-stereo": (2, 30 * 60),
    "64x10s": (64, 10),
}
# Allowed (peak - baseline) / (input + output); measured values in the module docstring and here.
FACTOR = {
    "stft": 1.0,          # measured 0.80 (both cases): the output only
    "istft": 0.4,         # measured 0.20 (both cases): the output only
    "griffin_lim": 6.0,   # measured 1.8 (64 x 10 s), 4.5 (30-minute stereo)
    "misi": 4.5,          # measured 3.2 (64 x 10 s, J = 2)
}
# Bytes per bin the phase retrieval holds at most (measured 27 for griffin_lim on 30-minute stereo;
# misi's 22 on 64 x 10 s, kept at its earlier 34 for 30-minute tracks, which no machine here has
# had the memory to measure), to decide whether this machine can run a case at all.
BYTES_PER_BIN = {"griffin_lim": 30, "misi": 34}
SOURCES = 2

CHILD = r"""
import gc, json, resource, sys
import numpy as np
import specsep

fn, batch, seconds, sr, n_fft, hop, sources, chunk_frames = json.loads(sys.argv[1])
n = int(seconds * sr)
F, T = n_fft // 2 + 1, 1 + n // hop
block = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)

def filled(shape, dtype=np.float32, magnitudes=False):
    # every page touched, values from a random block, no temporaries of the array's size
    a = np.empty(shape, dtype)
    flat = a.reshape(-1).view(np.float32)
    for i in range(0, flat.size, block.size):
        chunk = flat[i:i + block.size]
        chunk[...] = np.abs(block[:chunk.size]) if magnitudes else block[:chunk.size]
    return a

kw = dict(hop_length=hop)
if fn == "stft":
    args = (filled((batch, n)),)
    kw["n_fft"] = n_fft
elif fn == "istft":
    args = (filled((batch, T, F), np.complex64).swapaxes(-1, -2),)  # the layout stft returns
    kw["length"] = n
elif fn == "griffin_lim":
    args = (filled((batch, F, T), magnitudes=True),)
    kw.update(n_iter=1, length=n)
elif fn == "separate":
    args = (filled((batch, n)), filled((batch, sources, F, T), magnitudes=True))
    kw.update(n_fft=n_fft, chunk_frames=chunk_frames)
else:
    args = (filled((batch, n)), filled((batch, sources, F, T), magnitudes=True))
    kw["n_iter"] = 1
gc.collect()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out = getattr(specsep, fn)(*args, **kw, backend="cpu")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(dict(input=sum(a.nbytes for a in args), output=out.nbytes, base=base, peak=peak,
                      bins=F * T * batch * (sources if fn in ("misi", "separate") else 1))))
"""


def _available_memory():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def _measure(fn, batch, seconds, chunk_frames=None):
    env = dict(os.environ)
    package_root = str(Path(specsep.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    argument = json.dumps([fn, batch, seconds, SR, N_FFT, HOP, SOURCES, chunk_frames])
    done = subprocess.run([sys.executable, "-c", CHILD, argument], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("fn", list(FACTOR))
def test_peak_memory_within_factor_of_input_and_output(fn, case):
    batch, seconds = CASES[case]
    if fn in BYTES_PER_BIN:
        bins = batch * (SOURCES if fn == "misi" else 1) * (N_FFT // 2 + 1) * (1 + int(seconds * SR) // HOP)
        need = bins * BYTES_PER_BIN[fn]
        if 1.25 * need > _available_memory():
            pytest.skip(f"{fn} on {case} needs ~{need / 2**30:.0f} GiB (measured ~{BYTES_PER_BIN[fn]} B per "
                        f"bin x {bins / 1e6:.0f} M bins) plus a 25% margin, {1.25 * need / 2**30:.0f} GiB in all; "
                        f"MemAvailable is {_available_memory() / 2**30:.0f} GiB")
    result = _measure(fn, batch, seconds)
    extra = result["peak"] - result["base"]
    data = result["input"] + result["output"]
    factor = extra / data
    print(f"{fn} {case}: +{extra / 2**20:.0f} MiB over input {result['input'] / 2**20:.0f} MiB + output "
          f"{result['output'] / 2**20:.0f} MiB: factor {factor:.2f} ({extra / result['bins']:.1f} B per bin)")
    assert factor <= FACTOR[fn], (
        f"{fn} on {case} added {extra / 2**20:.0f} MiB = {factor:.2f} x (input + output), "
        f"more than the stated {FACTOR[fn]}")


def test_chunked_separate_adds_only_its_output():
    """``separate(..., chunk_frames=1024)`` of a 30-minute stereo track into two sources: the call
    adds its output and one block's temporaries (the mixture's STFT of 1024 frames per channel,
    ~8 MiB, plus the backend's buffers for one block), never the whole mixture STFT (2.4 GiB)."""
    batch, seconds = CASES["30-minute-stereo"]
    result = _measure("separate", batch, seconds, chunk_frames=1024)
    extra = result["peak"] - result["base"]
    temporaries = extra - result["output"]
    print(f"separate, chunk_frames=1024: +{extra / 2**20:.0f} MiB, output {result['output'] / 2**20:.0f} MiB, "
          f"temporaries {temporaries / 2**20:.0f} MiB")
    assert temporaries <= 128 * 2**20, f"chunked separate held {temporaries / 2**20:.0f} MiB besides its output"
