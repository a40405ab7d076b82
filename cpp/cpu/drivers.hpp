// The CPU drivers: framing + frame FFT over lanes of frames, and the gather overlap-add, split
// over the thread pool. What is read and written per frame comes from the sinks and sources of
// io.hpp, so that the STFT, the masked iSTFT and the phase-retrieval updates share one loop.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>

#include "plan.hpp"
#include "simd.hpp"
#include "specsep/framing.hpp"
#include "specsep/ola.hpp"
#include "thread_pool.hpp"

namespace specsep {

constexpr long kFramesPerTask = 32;  // a multiple of every lane count
constexpr long kHopsPerChunk = 64;   // iSTFT output chunk; boundary frames are computed twice

// Per-thread scratch of lane vectors: two FFT buffers, a spectrum and a group of time frames.
template <typename T>
class Scratch {
 public:
  using V = typename Lanes<T>::type;
  static Scratch& local(long n_fft) {
    thread_local Scratch s;
    s.reserve(n_fft);
    return s;
  }
  cplx<V>* a() { return a_.get(); }
  cplx<V>* b() { return b_.get(); }
  cplx<V>* spectrum() { return spectrum_.get(); }
  V* frames() { return frames_.get(); }

 private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  template <typename E>
  using Buffer = std::unique_ptr<E[], Free>;
  template <typename E>
  static Buffer<E> allocate(size_t count) {
    void* p = std::aligned_alloc(64, ((count * sizeof(E) + 63) / 64) * 64);
    if (!p) throw std::bad_alloc();
    return Buffer<E>(static_cast<E*>(p));
  }
  void reserve(long n_fft) {
    const size_t n = static_cast<size_t>(n_fft);
    if (n <= capacity_) return;
    a_ = allocate<cplx<V>>(n + 1);
    b_ = allocate<cplx<V>>(n + 1);
    spectrum_ = allocate<cplx<V>>(n / 2 + 1);
    frames_ = allocate<V>(n);
    capacity_ = n;
  }
  Buffer<cplx<V>> a_, b_, spectrum_;
  Buffer<V> frames_;
  size_t capacity_ = 0;
};

// STFT of the signals x[b * x_stride + (0 .. n_samples)], b < batch; sink(b, t, count, spectrum)
// receives frames t .. t + count - 1 (one per lane) of item b.
template <typename T, typename Sink>
void run_stft(const CpuPlan<T>& plan, const T* x, long batch, std::ptrdiff_t x_stride, long n_samples,
              long n_frames, const Sink& sink) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  const long blocks = (n_frames + kFramesPerTask - 1) / kFramesPerTask;
  parallel_for(batch * blocks, [&](std::ptrdiff_t task) {
    const long b = static_cast<long>(task / blocks);
    const long t_end = std::min(n_frames, static_cast<long>(task % blocks + 1) * kFramesPerTask);
    const T* signal = x + b * x_stride;
    const T* window = plan.window.data();
    Scratch<T>& s = Scratch<T>::local(plan.n_fft);
    for (long t = static_cast<long>(task % blocks) * kFramesPerTask; t < t_end; t += L) {
      const int count = static_cast<int>(std::min<long>(L, t_end - t));
      long origin[L];
      bool inside = true;  // every lane's frame lies inside the signal: no padding maths
      for (int l = 0; l < L; ++l) {
        origin[l] = (t + std::min(l, count - 1)) * plan.hop - plan.pad;
        inside = inside && origin[l] >= 0 && origin[l] + plan.n_fft <= n_samples;
      }
      auto load = [&](long j) {
        V v;
        for (int l = 0; l < L; ++l) {
          if (inside) {
            v[l] = signal[origin[l] + j];
          } else {
            const long i = source_index(origin[l] + j, n_samples, plan.pad_mode);
            v[l] = i < 0 ? T(0) : signal[i];
          }
        }
        return v * window[j];
      };
      frame_forward(SerialBlock{}, plan.fft.view(), load, s.a(), s.b(), s.spectrum(), plan.forward_scale);
      sink(b, t, count, static_cast<const cplx<V>*>(s.spectrum()));
    }
  });
}

// Inverse STFT by gather overlap-add (Note [gather OLA] in specsep/ola.hpp): out[b * out_stride +
// (s - start)] for s in [start, start + length) of the un-trimmed signal, from the spectra that
// source(b, t, count, k) returns for frames t .. t + count - 1.
template <typename T, typename Source>
void run_istft(const CpuPlan<T>& plan, long batch, long n_frames, long start, long length, T* out,
               std::ptrdiff_t out_stride, const Source& source) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  const long n_full = plan.n_fft + plan.hop * (n_frames - 1);
  const long chunk = plan.hop * kHopsPerChunk;
  const long chunks = (length + chunk - 1) / chunk;
  const T tiny = std::numeric_limits<T>::min();
  parallel_for(batch * chunks, [&](std::ptrdiff_t task) {
    const long b = static_cast<long>(task / chunks);
    const long s0 = start + static_cast<long>(task % chunks) * chunk;  // samples [s0, s1)
    const long s1 = std::min(s0 + chunk, start + length);
    T* y = out + b * out_stride + (s0 - start);
    std::fill(y, y + (s1 - s0), T(0));
    const long covered = std::min(s1, n_full);  // samples past the last frame stay zero
    if (s0 >= covered) return;
    Scratch<T>& s = Scratch<T>::local(plan.n_fft);
    V* frames = s.frames();
    const T* synthesis = plan.synthesis.data();
    const long t_last = ola_last_frame(covered - 1, plan.hop, n_frames);
    for (long t = ola_first_frame(s0, plan.n_fft, plan.hop); t <= t_last; t += L) {
      const int count = static_cast<int>(std::min<long>(L, t_last + 1 - t));
      frame_backward(SerialBlock{}, plan.fft.view(), [&](long k) { return source.template operator()<V>(b, t, count, k); }, s.a(), s.b(),
                     [&](long j, V v) { frames[j] = v; });
      for (int l = 0; l < count; ++l) {  // increasing t: the same order for any split of the work
        const long origin = (t + l) * plan.hop;
        const long j0 = std::max(s0 - origin, 0L), j1 = std::min(covered - origin, plan.n_fft);
        for (long j = j0; j < j1; ++j) y[origin + j - s0] += synthesis[j] * frames[j][l];
      }
    }
    for (long i = s0; i < covered; ++i) {
      const T envelope = window_sum_square_at(plan.window.data(), plan.n_fft, plan.hop, n_frames, i);
      if (envelope > tiny) y[i - s0] /= envelope;
    }
  });
}

}  // namespace specsep
