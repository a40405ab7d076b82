// Block-cooperative loops, written once for the CPU and the GPU.
//
// A "block" is a group of workers that share scratch memory: on the GPU the threads of a CUDA
// block (tid = threadIdx.x, nthreads = blockDim.x, barrier = __syncthreads()), on the CPU a single
// worker (tid = 0, nthreads = 1, barrier = nothing). Functions that run cooperatively take a
// Block and split their items with block_range(). `banked`: whether its scratch is memory with
// banks (GPU shared memory), whose FFT work buffers take the padded layout of fft/layout.hpp.
#pragma once
#include "hd.hpp"

namespace specsep {

// One CPU worker: every item is its own, and a barrier has nothing to wait for.
struct SerialBlock {
  static constexpr bool banked = false;  // work buffers in the plain layout (fft/layout.hpp)
  SPECSEP_HD SPECSEP_INLINE int tid() const { return 0; }
  SPECSEP_HD SPECSEP_INLINE int size() const { return 1; }
  SPECSEP_HD SPECSEP_INLINE void sync() const {}
};

// body(k, i) for every k < outer, i < inner, split over the block's workers.
template <typename Block, typename Body>
SPECSEP_HD SPECSEP_INLINE void for_each_pair(const Block& block, index_t outer, index_t inner, const Body& body) {
  for (index_t item = block.tid(); item < outer * inner; item += block.size()) {
    const index_t k = item / inner;
    body(k, item - k * inner);
  }
}

// A single worker walks the pairs in order, without a division per item.
template <typename Body>
SPECSEP_HD SPECSEP_INLINE void for_each_pair(const SerialBlock&, index_t outer, index_t inner, const Body& body) {
  for (index_t k = 0; k < outer; ++k)
    for (index_t i = 0; i < inner; ++i) body(k, i);
}

}  // namespace specsep
