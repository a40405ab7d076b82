// The CPU STFT plan: window, frame FFT and the framing / overlap-add drivers over the thread pool.
//
// Arrays are addressed through element strides, so the transposed (..., freq, frames) views that
// the Python API hands out are read and written in place, without copies.
#pragma once
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "fft_plan.hpp"
#include "specsep/framing.hpp"
#include "specsep/ola.hpp"
#include "thread_pool.hpp"

namespace specsep {

// A strided 3-d view (batch, frames, freq) of a spectrogram-shaped array, strides in elements.
template <typename E>
struct View3 {
  E* data;
  std::ptrdiff_t s0, s1, s2;
  E& operator()(std::ptrdiff_t b, std::ptrdiff_t t, std::ptrdiff_t f) const {
    return data[b * s0 + t * s1 + f * s2];
  }
};

template <typename T>
class CpuPlan {
 public:
  CpuPlan(std::vector<T> window, long hop, bool center, int pad_mode, bool normalized)
      : window_(std::move(window)),
        n_fft_(static_cast<long>(window_.size())),
        hop_(hop),
        center_(center),
        pad_mode_(pad_mode),
        forward_scale_(normalized ? T(1) / std::sqrt(T(window_.size())) : T(1)),
        fft_(n_fft_) {
    // The backward frame is scaled by 1/n (inverse DFT) and undoes the forward normalisation.
    const T backward = (normalized ? std::sqrt(T(n_fft_)) : T(1)) / T(n_fft_);
    synthesis_.resize(window_.size());
    for (size_t j = 0; j < window_.size(); ++j) synthesis_[j] = window_[j] * backward;
  }

  long n_fft() const { return n_fft_; }
  long n_freqs() const { return n_fft_ / 2 + 1; }
  long hop() const { return hop_; }
  long pad() const { return center_ ? n_fft_ / 2 : 0; }
  long n_frames(long n_samples) const { return 1 + (n_samples + 2 * pad() - n_fft_) / hop_; }

  // STFT of the signals x[b * x_stride + (0 .. n_samples)], b < batch: per_frame(b, t, spectrum)
  // receives each frame's n_fft/2 + 1 bins (scratch, valid during the call).
  template <typename PerFrame>
  void stft(const T* x, long batch, std::ptrdiff_t x_stride, long n_samples, long n_frames,
            const PerFrame& per_frame) const;

  // Gather overlap-add: out(b, s - start) for s in [start, start + length) of the un-trimmed
  // signal, from the frames whose spectrum rows come from row(b, t, f).
  template <typename Row>
  void istft(long batch, long n_frames, long start, long length, T* out, std::ptrdiff_t out_stride,
             const Row& row) const;

  const FrameFFT<T>& fft() const { return fft_.view(); }

 private:
  std::vector<T> window_, synthesis_;
  long n_fft_, hop_;
  bool center_;
  int pad_mode_;
  T forward_scale_;
  HostFrameFFT<T> fft_;
};

// Per-thread scratch of the frame FFT: two buffers of FrameFFT::scratch() values and a frame.
template <typename T>
struct Scratch {
  std::vector<cplx<T>> a, b, spectrum;
  std::vector<T> frame;
  void reserve(long n_fft) {
    const size_t n = static_cast<size_t>(n_fft);
    if (a.size() < n + 1) {
      a.resize(n + 1);
      b.resize(n + 1);
      spectrum.resize(n / 2 + 1);
      frame.resize(n);
    }
  }
  static Scratch& local(long n_fft) {
    thread_local Scratch s;
    s.reserve(n_fft);
    return s;
  }
};

constexpr long kFramesPerTask = 32;
constexpr long kHopsPerChunk = 64;

template <typename T>
template <typename PerFrame>
void CpuPlan<T>::stft(const T* x, long batch, std::ptrdiff_t x_stride, long n_samples, long n_frames,
                      const PerFrame& per_frame) const {
  const long blocks = (n_frames + kFramesPerTask - 1) / kFramesPerTask;
  parallel_for(batch * blocks, [&](std::ptrdiff_t task) {
    const long b = static_cast<long>(task / blocks);
    const long t0 = static_cast<long>(task % blocks) * kFramesPerTask;
    const long t1 = t0 + kFramesPerTask < n_frames ? t0 + kFramesPerTask : n_frames;
    const T* signal = x + b * x_stride;
    Scratch<T>& s = Scratch<T>::local(n_fft_);
    const SerialBlock block;
    for (long t = t0; t < t1; ++t) {
      const long origin = t * hop_ - pad();
      const bool inside = origin >= 0 && origin + n_fft_ <= n_samples;
      auto load = [&](long j) -> T {
        if (inside) return window_[j] * signal[origin + j];
        const long i = source_index(origin + j, n_samples, pad_mode_);
        return i < 0 ? T(0) : window_[j] * signal[i];
      };
      frame_forward(block, fft(), load, s.a.data(), s.b.data(), s.spectrum.data(), forward_scale_);
      per_frame(b, t, static_cast<const cplx<T>*>(s.spectrum.data()));
    }
  });
}

template <typename T>
template <typename Row>
void CpuPlan<T>::istft(long batch, long n_frames, long start, long length, T* out,
                       std::ptrdiff_t out_stride, const Row& row) const {
  const long n_full = n_fft_ + hop_ * (n_frames - 1);
  const long chunk = hop_ * kHopsPerChunk;
  const long chunks = length == 0 ? 0 : (length + chunk - 1) / chunk;
  const T tiny = std::numeric_limits<T>::min();
  parallel_for(batch * chunks, [&](std::ptrdiff_t task) {
    const long b = static_cast<long>(task / chunks);
    const long c = static_cast<long>(task % chunks);
    const long s0 = start + c * chunk;                       // un-trimmed sample range [s0, s1)
    const long s1 = s0 + chunk < start + length ? s0 + chunk : start + length;
    T* y = out + b * out_stride + (s0 - start);
    for (long s = s0; s < s1; ++s) y[s - s0] = T(0);
    const long covered_end = s1 < n_full ? s1 : n_full;
    if (s0 >= covered_end) return;
    Scratch<T>& sc = Scratch<T>::local(n_fft_);
    const SerialBlock block;
    const long t_first = ola_first_frame(s0, n_fft_, hop_);
    const long t_last = ola_last_frame(covered_end - 1, hop_, n_frames);
    for (long t = t_first; t <= t_last; ++t) {  // increasing t: the gather order of Note [gather OLA]
      auto load = [&](long k) -> cplx<T> { return row(b, t, k); };
      T* frame = sc.frame.data();
      auto store = [&](long j, T v) { frame[j] = v; };
      frame_backward(block, fft(), load, sc.a.data(), sc.b.data(), store);
      const long origin = t * hop_;
      const long j0 = s0 > origin ? s0 - origin : 0;
      const long j1 = covered_end - origin < n_fft_ ? covered_end - origin : n_fft_;
      for (long j = j0; j < j1; ++j) y[origin + j - s0] += synthesis_[j] * frame[j];
    }
    for (long s = s0; s < covered_end; ++s) {
      const T env = window_sum_square_at(window_.data(), n_fft_, hop_, n_frames, s);
      if (env > tiny) y[s - s0] /= env;
    }
  });
}

}  // namespace specsep
