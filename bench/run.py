"""Benchmark specsep's backends against librosa, scipy, NumPy + scipy.fft and torch.

    python bench/run.py [--quick] [--workloads W1,W3] [--repeats N] [--json PATH] [--plot PATH]
    python bench/run.py --gpu [...]   # specsep cuda against torch on CUDA and cupyx.scipy.signal

The harness lives in the package (``specsep.tools.bench``, also run as ``specsep bench``); this script
runs it. From a checkout whose ``python/specsep`` holds built kernels (an in-place build), that
copy is used; otherwise the installed specsep.
"""

import sys
from pathlib import Path

_SOURCE = Path(__file__).resolve().parents[1] / "python"
if any((_SOURCE / "specsep").glob("_cpu*.so")) or any((_SOURCE / "specsep").glob("_cpu*.pyd")):
    sys.path.insert(0, str(_SOURCE))

from specsep.tools.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
