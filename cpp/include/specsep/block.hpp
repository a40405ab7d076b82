// Block-cooperative loops, written once for the CPU and the GPU.
//
// A "block" is a group of workers that share scratch memory: on the GPU the threads of a CUDA
// block (tid = threadIdx.x, nthreads = blockDim.x, barrier = __syncthreads()), on the CPU a single
// worker (tid = 0, nthreads = 1, barrier = nothing). Functions that run cooperatively take a
// Block and split their items with block_range().
#pragma once
#include "hd.hpp"

namespace specsep {

// One CPU worker: every item is its own, and a barrier has nothing to wait for.
struct SerialBlock {
  SPECSEP_HD SPECSEP_INLINE int tid() const { return 0; }
  SPECSEP_HD SPECSEP_INLINE int size() const { return 1; }
  SPECSEP_HD SPECSEP_INLINE void sync() const {}
};

}  // namespace specsep
