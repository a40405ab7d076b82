// Forward STFT kernels. A block runs `frames_per_block` consecutive frames of one signal, one after
// another: grid (ceil(frames / frames_per_block), signals). Its loads of the window, the root and
// twiddle tables and the frames' shared samples repeat from frame to frame and are served by the
// SM's L1 (docs/gpu.md, device model). For each frame the block frames the signal (centre padding
// in the index maths), windows, transforms in shared memory and writes the frame's bins,
// frame-major, with consecutive threads on consecutive bins: the same arithmetic whatever the
// frames per block.
//
// Frames in turn reuse the work buffers without a barrier of their own: stft's last reads (the
// bins, in frame_forward_bins) end at its closing barrier; stft_phase_update's (its spectrum, and
// block_sum's partial[0]) are of buffers the next frame writes only after frame_pack's barrier,
// and frame_pack writes the FFT buffer, which the previous frame's reads left behind barriers
// (tests/test_emu_race.py runs 4 frames per block under ThreadSanitizer).
//
// Work buffers: stft 2 * fft_scratch(f) complex values; stft_phase_update that plus n/2 + 1
// complex values and blockDim.x doubles. In dynamic shared memory, or for an FFT too big for it
// in a global scratch array (the *_global kernels: `per_block` complex values per block).
#include "common.cuh"

namespace specsep {
namespace cuda {

// This block's frames [first, last) of n_frames, frames_per_block of them (fewer in the last block).
struct BlockFrames {
  index_t first, last;
};
__device__ __forceinline__ BlockFrames block_frames(long long n_frames, int frames_per_block) {
  const index_t first = index_t(blockIdx.x) * frames_per_block;
  return {first, first + frames_per_block < n_frames ? first + frames_per_block : index_t(n_frames)};
}

template <typename T>
__device__ __forceinline__ T framed_sample(const T* signal, long long n_samples, const T* window, index_t origin,
                                           index_t j, int pad_mode) {
  const index_t i = source_index(origin + j, n_samples, pad_mode);
  return i < 0 ? T(0) : window[j] * signal[i];
}

// out[signal, t, f] = scale * sum_j window[j] x_pad[t * hop + j] exp(-2 pi i j f / n_fft).
template <typename T, fft::Lengths L>
__device__ __forceinline__ void stft_frame(const FrameFFT<T, L>& f, const T* x, long long x_stride,
                                           long long n_samples, const T* window, int n_fft, int hop, int pad,
                                           int pad_mode, T scale, long long n_frames, index_t t, cplx<T>* out,
                                           cplx<T>* work) {
  const index_t scratch = fft_scratch(f);
  const index_t signal = blockIdx.y;
  const T* samples = x + signal * x_stride;
  const index_t origin = t * hop - pad;
  frame_forward(CudaBlock{}, f,
                [&](index_t j) { return framed_sample(samples, n_samples, window, origin, j, pad_mode); },
                work, work + scratch, out + (signal * n_frames + t) * (n_fft / 2 + 1), scale);
}

template <typename T, fft::Lengths L = fft::Lengths::smooth>
__global__ void stft(const T* x, long long x_stride, long long n_samples, const T* window, const cplx<T>* roots,
                     const int* factors, int n_fft, int hop, int pad, int pad_mode, T scale, long long n_frames,
                     int frames_per_block, cplx<T>* out) {
  __shared__ FrameFFT<T, L> f;
  load_frame_fft(f, n_fft, factors, roots);
  SPECSEP_DYN_SHARED(cplx<T>, smem);
  const BlockFrames frames = block_frames(n_frames, frames_per_block);
  for (index_t t = frames.first; t < frames.last; ++t)
    stft_frame(f, x, x_stride, n_samples, window, n_fft, hop, pad, pad_mode, scale, n_frames, t, out, smem);
}

template <typename T, fft::Lengths L = fft::Lengths::smooth>
__global__ void stft_global(const T* x, long long x_stride, long long n_samples, const T* window,
                            const cplx<T>* roots, const int* factors, int n_fft, int hop, int pad, int pad_mode,
                            T scale, long long n_frames, int frames_per_block, cplx<T>* out, cplx<T>* scratch,
                            long long per_block) {
  __shared__ FrameFFT<T, L> f;
  load_frame_fft(f, n_fft, factors, roots);
  cplx<T>* work = block_scratch(scratch, per_block);
  const BlockFrames frames = block_frames(n_frames, frames_per_block);
  for (index_t t = frames.first; t < frames.last; ++t)
    stft_frame(f, x, x_stride, n_samples, window, n_fft, hop, pad, pad_mode, scale, n_frames, t, out, work);
}

// The STFTs of one Griffin-Lim / MISI iteration with their epilogues fused: where `track`, the
// rebuilt spectrum STFT(x_k) of y and the frame's squared magnitude error (for the spectral
// convergence); then c = STFT(x_k - alpha * x_(k-1)) of y and y_previous (Note [momentum by
// linearity] in specsep/phase.hpp) and the new angles c / |c| (items not `active` keep theirs;
// `epsilon`: Note [vanishing bins]). Signals are (item * sources + j).
template <typename T, fft::Lengths L>
__device__ __forceinline__ void stft_phase_update_frame(
    const FrameFFT<T, L>& f, const T* y, const T* y_previous, long long length, const T* window, int n_fft, int hop,
    int pad, int pad_mode, long long n_frames, index_t t, const T* magnitude, long long ms0, long long ms1,
    long long ms2, cplx<T>* angles, const int* active, int sources, T alpha, T epsilon, int track,
    double* frame_error, cplx<T>* work) {
  const index_t scratch = fft_scratch(f), F = n_fft / 2 + 1;
  cplx<T>* spectrum = work + 2 * scratch;
  double* partial = reinterpret_cast<double*>(spectrum + F);
  const index_t signal = blockIdx.y;
  const T* current = y + signal * length;
  const T* previous = y_previous + signal * length;
  const index_t origin = t * hop - pad;
  const index_t row = (signal * n_frames + t) * F;
  if (track) {
    frame_forward(CudaBlock{}, f,
                  [&](index_t j) { return framed_sample(current, length, window, origin, j, pad_mode); }, work,
                  work + scratch, spectrum, T(1));
    const T* target = magnitude + signal * ms0 + t * ms1;
    double error = 0.0;
    for (index_t k = threadIdx.x; k < F; k += blockDim.x) {
      const double d = double(modulus(spectrum[k])) - double(target[k * ms2]);
      error += d * d;
    }
    const double total = block_sum(error, partial);
    if (threadIdx.x == 0) frame_error[signal * n_frames + t] = total;
    // No barrier here: the next frame_forward writes the spectrum and block_sum partial[0] only
    // after its own barriers (frame_pack's first), which order this frame's reads before them
    // (tests/test_emu_barriers.py).
  }
  frame_forward(CudaBlock{}, f,
                [&](index_t j) {
                  const index_t i = source_index(origin + j, length, pad_mode);
                  return i < 0 ? T(0) : window[j] * extrapolated(current[i], previous[i], alpha);
                },
                work, work + scratch, spectrum, T(1));
  // The norm that sets the noise floor (Note [vanishing bins] in specsep/phase.hpp): of frame t of
  // x_k of every signal of the item together (MISI spreads the mixture error over them).
  double energy = 0.0;
  for (index_t other = signal - signal % sources; other < signal - signal % sources + sources; ++other)
    for (index_t j = threadIdx.x; j < n_fft; j += blockDim.x) {
      const double v = framed_sample(y + other * length, length, window, origin, j, pad_mode);
      energy += v * v;
    }
  block_sum(energy, partial);
  const T floor = noise_floor(T(sqrt(partial[0])), alpha, epsilon);
  if (!active[signal / sources]) return;
  for (index_t k = threadIdx.x; k < F; k += blockDim.x) angles[row + k] = unit_phase<T>(spectrum[k], floor);
}

template <typename T, fft::Lengths L = fft::Lengths::smooth>
__global__ void stft_phase_update(const T* y, const T* y_previous, long long length, const T* window,
                                  const cplx<T>* roots, const int* factors, int n_fft, int hop, int pad, int pad_mode,
                                  long long n_frames, int frames_per_block, const T* magnitude, long long ms0,
                                  long long ms1, long long ms2, cplx<T>* angles, const int* active, int sources,
                                  T alpha, T epsilon, int track, double* frame_error) {
  __shared__ FrameFFT<T, L> f;
  load_frame_fft(f, n_fft, factors, roots);
  SPECSEP_DYN_SHARED(cplx<T>, smem);
  const BlockFrames frames = block_frames(n_frames, frames_per_block);
  for (index_t t = frames.first; t < frames.last; ++t)
    stft_phase_update_frame(f, y, y_previous, length, window, n_fft, hop, pad, pad_mode, n_frames, t, magnitude, ms0,
                            ms1, ms2, angles, active, sources, alpha, epsilon, track, frame_error, smem);
}

template <typename T, fft::Lengths L = fft::Lengths::smooth>
__global__ void stft_phase_update_global(const T* y, const T* y_previous, long long length, const T* window,
                                         const cplx<T>* roots, const int* factors, int n_fft, int hop, int pad,
                                         int pad_mode, long long n_frames, int frames_per_block,
                                         const T* magnitude, long long ms0, long long ms1, long long ms2,
                                         cplx<T>* angles, const int* active, int sources, T alpha, T epsilon,
                                         int track, double* frame_error, cplx<T>* scratch, long long per_block) {
  __shared__ FrameFFT<T, L> f;
  load_frame_fft(f, n_fft, factors, roots);
  cplx<T>* work = block_scratch(scratch, per_block);
  const BlockFrames frames = block_frames(n_frames, frames_per_block);
  for (index_t t = frames.first; t < frames.last; ++t)
    stft_phase_update_frame(f, y, y_previous, length, window, n_fft, hop, pad, pad_mode, n_frames, t, magnitude, ms0,
                            ms1, ms2, angles, active, sources, alpha, epsilon, track, frame_error, work);
}

}  // namespace cuda
}  // namespace specsep
