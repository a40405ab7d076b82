"""Print the CUDA roofline on paper: bytes, flops and predicted H100 time per workload, specsep's
fused kernels beside torch's unfused path (specsep/tools/roofline.py has the accounting).

    python bench/roofline.py
"""

from specsep.tools.roofline import markdown

if __name__ == "__main__":
    print(markdown(), end="")
