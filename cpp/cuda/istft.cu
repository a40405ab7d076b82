// Inverse STFT kernel by gather overlap-add (Note [gather OLA] in specsep/ola.hpp). One block
// per output segment: grid (segments, signals). The block inverts, one after another in
// increasing t, every frame that covers its segment, and each thread adds its samples of the
// frame into a segment accumulator in shared memory: no atomics, no communication between
// blocks, and the same summation order on every run. Frames covering two segments are inverted
// by both blocks: (n_fft / hop - 1) extra frames per `segment / hop` frames.
//
// The spectrum of signal i is X(i / sources, t, f) * M(i, t, f): a masked mixture (separate),
// magnitudes times angles (Griffin-Lim, MISI), or the plain iSTFT with M a single 1 (strides 0).
//
// Work buffers: 2 * fft_scratch(f) complex values and `segment` reals, in dynamic shared memory
// (istft) or, where that does not fit, in a global scratch array (istft_global: `per_block`
// complex values per block).
#include "common.cuh"

namespace specsep {
namespace cuda {

// A functor's values as a sequence: bins[k] = load(k).
template <typename Load>
struct Indexed {
  const Load& load;
  __device__ __forceinline__ auto operator[](index_t k) const { return load(k); }
};

template <typename T, fft::Lengths L>
__device__ __forceinline__ void istft_segment(const FrameFFT<T, L>& f, const cplx<T>* X, long long xs0, long long xs1,
                                              long long xs2, const T* M, long long ms0, long long ms1, long long ms2,
                                              int sources, const T* window, const T* synthesis, int n_fft, int hop,
                                              long long n_frames, long long start, long long length, int segment,
                                              T* out, cplx<T>* work) {
  const index_t scratch = fft_scratch(f);
  T* acc = reinterpret_cast<T*>(work + 2 * scratch);
  const index_t signal = blockIdx.y;
  const index_t s0 = start + static_cast<index_t>(blockIdx.x) * segment;  // samples [s0, s1)
  const index_t s1 = s0 + segment < start + length ? s0 + segment : start + length;
  const index_t n_full = n_fft + hop * (n_frames - 1);
  const index_t covered = s1 < n_full ? s1 : n_full;  // samples past the last frame stay zero
  // No barrier after the zeroing: frame_backward_bins's first block.sync() (after its loads, before
  // any store) orders it before every accumulation, and where no frame covers the segment each
  // thread reads back only the entries it zeroed itself (tests/test_emu_barriers.py).
  for (index_t s = threadIdx.x; s < s1 - s0; s += blockDim.x) acc[s] = T(0);
  const cplx<T>* spectrum = X + (signal / sources) * xs0;
  const T* mask = M + signal * ms0;
  // A mask constant over the frames and bins (the plain iSTFT's single 1) is read once: read per
  // bin it took a warp request, and an L1 line, for every two bins.
  const bool uniform = ms1 == 0 && ms2 == 0;
  const T m0 = mask[0];
  if (s0 < covered) {
    const index_t t_last = ola_last_frame(covered - 1, hop, n_frames);
    for (index_t t = ola_first_frame(s0, n_fft, hop); t <= t_last; ++t) {
      const index_t origin = t * hop;
      auto load = [&](index_t k) {
        const cplx<T> x = spectrum[t * xs1 + k * xs2];
        return scale(x, uniform ? m0 : mask[t * ms1 + k * ms2]);
      };
      auto store = [&](index_t j, T v) {
        const index_t s = origin + j;
        if (s >= s0 && s < covered) acc[s - s0] += synthesis[j] * v;
      };
      // The bins go from global memory straight into the real-FFT pre-pass, which reads each once
      // (pairs k, h - k): staging them in shared memory first cost a store and a load of every bin.
      frame_backward_bins(CudaBlock{}, f, Indexed<decltype(load)>{load}, work, work + scratch, store);
    }
  }
  T* y = out + signal * length + (s0 - start);
  for (index_t s = s0 + threadIdx.x; s < s1; s += blockDim.x) {
    const T envelope = s < covered ? window_sum_square_at(window, n_fft, hop, n_frames, s) : T(0);
    y[s - s0] = acc[s - s0] / envelope_divisor(envelope);
  }
}

template <typename T, fft::Lengths L = fft::Lengths::smooth>
__global__ void istft(const cplx<T>* X, long long xs0, long long xs1, long long xs2, const T* M, long long ms0,
                      long long ms1, long long ms2, int sources, const T* window, const T* synthesis,
                      const cplx<T>* roots, const int* factors, int n_fft, int hop, long long n_frames,
                      long long start, long long length, int segment, T* out) {
  __shared__ FrameFFT<T, L> f;
  load_frame_fft(f, n_fft, factors, roots);
  SPECSEP_DYN_SHARED(cplx<T>, smem);
  istft_segment(f, X, xs0, xs1, xs2, M, ms0, ms1, ms2, sources, window, synthesis, n_fft, hop, n_frames, start, length,
                segment, out, smem);
}

template <typename T, fft::Lengths L = fft::Lengths::smooth>
__global__ void istft_global(const cplx<T>* X, long long xs0, long long xs1, long long xs2, const T* M,
                             long long ms0, long long ms1, long long ms2, int sources, const T* window,
                             const T* synthesis, const cplx<T>* roots, const int* factors, int n_fft, int hop,
                             long long n_frames, long long start, long long length, int segment, T* out,
                             cplx<T>* scratch, long long per_block) {
  __shared__ FrameFFT<T, L> f;
  load_frame_fft(f, n_fft, factors, roots);
  istft_segment(f, X, xs0, xs1, xs2, M, ms0, ms1, ms2, sources, window, synthesis, n_fft, hop, n_frames, start, length,
                segment, out, block_scratch(scratch, per_block));
}

}  // namespace cuda
}  // namespace specsep
