// Device-side helpers shared by the kernels: the CUDA thread block as a specsep Block, the frame
// FFT descriptor read from kernel arguments, and fixed-order block reductions.
#pragma once
#include "specsep/frame.hpp"
#include "specsep/framing.hpp"
#include "specsep/ola.hpp"
#include "specsep/phase.hpp"

namespace specsep {
namespace cuda {

// The threads of a CUDA block as a specsep Block (block.hpp): items split by threadIdx.x,
// barriers are __syncthreads(); FFT work buffers padded against bank conflicts (fft/layout.hpp),
// in shared memory and in the *_global kernels' scratch alike.
struct CudaBlock {
  static constexpr bool banked = true;
  __device__ __forceinline__ int tid() const { return threadIdx.x; }
  __device__ __forceinline__ int size() const { return blockDim.x; }
  __device__ __forceinline__ void sync() const { __syncthreads(); }
};

// The frame FFT of length n from the factor list {count, p_1, ..., p_count, m, [count_m, q_1, ...]}
// and the root table exp(+2 pi i x / n) followed by the passes' twiddle tables that the host built
// (python/specsep/_cuda/fft_plan.py); m > 0: Bluestein's transform, whose chirp, filter and twiddle
// tables of m follow. Built by
// thread 0 in shared memory; every thread reads it after the barrier. Every frame-FFT kernel takes
// L = fft::Lengths::smooth by default and is instantiated for L = any too: the host launches the
// smooth one only for lists whose factors are all 2, 3, 4, 5, 8 or 16 (cuda_source.name_expression).
template <typename T, fft::Lengths L>
__device__ void load_frame_fft(FrameFFT<T, L>& f, index_t n, const int* factors, const cplx<T>* roots) {
  if (threadIdx.x == 0) {
    f.n = n;
    f.roots = roots;
    f.factors.n = n % 2 == 0 ? n / 2 : n;
    f.factors.count = factors[0];
    for (int s = 0; s < factors[0]; ++s) f.factors.factors[s] = factors[1 + s];
    const int* blue = factors + 1 + factors[0];
    f.blue.m = blue[0];
    if (f.blue.m > 0) {
      f.blue.factors.n = f.blue.m;
      f.blue.factors.count = blue[1];
      for (int s = 0; s < blue[1]; ++s) f.blue.factors.factors[s] = blue[2 + s];
      f.blue.chirp = f.twiddles() + fft::twiddle_count(f.factors);
      f.blue.filter = f.blue.chirp + f.factors.n;
      f.blue.twiddles = f.blue.filter + f.blue.m;
    }
  }
  __syncthreads();
}

// Scratch per FFT buffer, in complex values: FrameFFT::scratch() and the padded layout's room
// (python/specsep/_cuda/fft_plan.py: work_values).
template <typename T, fft::Lengths L>
__device__ __forceinline__ index_t fft_scratch(const FrameFFT<T, L>& f) { return fft::Padded::room(f.scratch()); }

// This block's `per_block` values of a global scratch array (the *_global kernels, for work
// buffers too big for shared memory): one slice per block of the grid, so blocks never share one.
template <typename V>
__device__ __forceinline__ V* block_scratch(V* scratch, long long per_block) {
  return scratch + (static_cast<long long>(blockIdx.y) * gridDim.x + blockIdx.x) * per_block;
}

// Sum of `value` over the block, in a fixed tree order (the same bits every run). `buffer` holds
// blockDim.x doubles; blockDim.x must be a power of two. The result is valid in thread 0.
__device__ double block_sum(double value, double* buffer) {
  buffer[threadIdx.x] = value;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) buffer[threadIdx.x] += buffer[threadIdx.x + half];
    __syncthreads();
  }
  return buffer[0];
}

}  // namespace cuda
}  // namespace specsep
