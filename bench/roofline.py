"""Print the CUDA roofline on paper: bytes, flops and predicted H100 time per workload, specsep's
fused kernels beside torch's unfused path (specsep/_cuda/roofline.py has the accounting).

    python bench/roofline.py
"""

from specsep._cuda.roofline import markdown

if __name__ == "__main__":
    print(markdown(), end="")
