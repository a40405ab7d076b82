// The CPU drivers: framing + frame FFT over lanes of frames, and the gather overlap-add, split
// over the thread pool. What is read and written per frame comes from the sinks and sources of
// io.hpp, so that the STFT, the masked iSTFT and the phase-retrieval updates share one loop.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "buffer_cache.hpp"
#include "plan.hpp"
#include "io.hpp"
#include "simd.hpp"
#include "specsep/framing.hpp"
#include "specsep/ola.hpp"
#include "specsep/phase.hpp"
#include "thread_pool.hpp"

namespace specsep {

constexpr index_t kFramesPerTask = 32;  // a multiple of every lane count
constexpr index_t kHopsPerChunk = 64;   // iSTFT output chunk; boundary frames are computed twice
constexpr int kGroupsPerUnit = 4;       // lane groups of consecutive items one iSTFT task takes

// Per-thread scratch of lane vectors: two FFT buffers, a spectrum and a group of time frames.
// Registered in buffer_cache.hpp: counted by scratch_bytes() and freed by clear_scratch(); a task
// holds its thread's scratch through a Lease, so that clear_scratch() never frees buffers in use.
template <typename T>
class Scratch : public ScratchMemory {
 public:
  using V = typename Lanes<T>::type;
  class Lease {
   public:
    explicit Lease(Scratch& s) : lock_(s.in_use), s_(&s) {}
    Scratch& operator*() const { return *s_; }
    Scratch* operator->() const { return s_; }

   private:
    std::unique_lock<std::mutex> lock_;
    Scratch* s_;
  };
  ~Scratch() override { unregister(); }
  // fft_scratch: the frame FFT's buffer length (FrameFFT::scratch(), Bluestein's can exceed n_fft).
  static Lease local(index_t n_fft, index_t fft_scratch) {
    thread_local Scratch s;
    Lease lease(s);
    s.reserve(n_fft, fft_scratch);
    return lease;
  }
  cplx<V>* a() { return a_.get(); }
  cplx<V>* b() { return b_.get(); }
  cplx<V>* spectrum() { return spectrum_.get(); }
  V* frames() { return frames_.get(); }
  LaneWorkspace<T> workspace() { return {lanes_.get(), lanes_complex_.get()}; }
  T* rows() { return rows_.get(); }  // Lanes<T>::count frames of n_fft samples, row-major
  T* span(size_t n) { return grown(span_, span_capacity_, n); }  // n samples of a strided signal (run_stft)
  // n lane bins: the spectra of a group of items read as lanes (run_istft)
  cplx<V>* item_spectra(size_t n) { return grown(item_spectra_, item_spectra_capacity_, n); }

 private:
  // Scratch for frames up to this long is kept between calls; a larger one is given back at the
  // next call with frames four times shorter (one n_fft = 2^20 call must not hold ~270 MB per
  // thread for good).
  static constexpr size_t kKept = size_t(1) << 16;
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  template <typename E>
  using Buffer = std::unique_ptr<E[], Free>;
  template <typename E>
  static Buffer<E> allocate(size_t count, size_t& bytes) {
    const size_t size = ((count * sizeof(E) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, size);
    if (!p) throw std::bad_alloc();
    bytes += size;
    return Buffer<E>(static_cast<E*>(p));
  }
  // A buffer of at least n elements, grown on demand (the rarer ones, kept out of reserve()).
  template <typename E>
  E* grown(Buffer<E>& buffer, size_t& capacity, size_t n) {
    if (n > capacity) {
      buffer.reset();
      bytes_ -= capacity * sizeof(E);
      capacity = 0;  // until the allocation below succeeds
      size_t bytes = 0;
      buffer = allocate<E>(n, bytes);
      capacity = bytes / sizeof(E);
      bytes_ += bytes;
    }
    return buffer.get();
  }
  void reserve(index_t n_fft, index_t fft_scratch) {
    const size_t n = static_cast<size_t>(n_fft), work = std::max(n + 1, static_cast<size_t>(fft_scratch));
    if (n <= capacity_ && work <= work_capacity_ && (capacity_ <= kKept || n * 4 > capacity_)) return;
    release();
    size_t bytes = 0;
    a_ = allocate<cplx<V>>(work, bytes);
    b_ = allocate<cplx<V>>(work, bytes);
    spectrum_ = allocate<cplx<V>>(n / 2 + 1, bytes);
    frames_ = allocate<V>(n, bytes);
    rows_ = allocate<T>(n * static_cast<size_t>(Lanes<T>::count), bytes);
    lanes_ = allocate<V>(n / 2 + 1, bytes);
    lanes_complex_ = allocate<cplx<V>>(n / 2 + 1, bytes);
    capacity_ = n;
    work_capacity_ = work;
    bytes_ = bytes;
  }
  void release() override {
    a_.reset(), b_.reset(), spectrum_.reset(), lanes_complex_.reset();
    frames_.reset(), lanes_.reset(), rows_.reset(), span_.reset(), item_spectra_.reset();
    capacity_ = work_capacity_ = span_capacity_ = item_spectra_capacity_ = 0;
    bytes_ = 0;
  }
  Buffer<cplx<V>> a_, b_, spectrum_, lanes_complex_, item_spectra_;
  Buffer<V> frames_, lanes_;
  Buffer<T> rows_, span_;
  size_t capacity_ = 0, work_capacity_ = 0, span_capacity_ = 0, item_spectra_capacity_ = 0;
};

// The samples the STFT frames: a signal as it is in memory, or the extrapolation x - alpha * y of
// two signals formed as the frames are loaded (fast Griffin-Lim, Note [momentum by linearity] in
// specsep/phase.hpp).
// Both give sample i as signal[i] and samples i .. i + L - 1 as signal.lanes(i).
template <typename T>
struct Samples {
  const T* x;
  Samples row(std::ptrdiff_t offset) const { return {x + offset}; }
  T operator[](index_t i) const { return x[i]; }
  typename Lanes<T>::type lanes(index_t i) const { return load_unaligned<typename Lanes<T>::type>(x + i); }
};

template <typename T>
struct Extrapolated {
  const T *x, *y;
  T alpha;
  Extrapolated row(std::ptrdiff_t offset) const { return {x + offset, y + offset, alpha}; }
  T operator[](index_t i) const { return extrapolated(x[i], y[i], alpha); }
  typename Lanes<T>::type lanes(index_t i) const {
    using V = typename Lanes<T>::type;
    return extrapolated(load_unaligned<V>(x + i), load_unaligned<V>(y + i), alpha);
  }
  Samples<T> current() const { return {x}; }  // x_k, whose frames set the noise floor
};

// Per lane, sum_j (window[j] x[origin[l] + j])^2 (padding as the STFT frames it): the squared
// norm of the frame (Note [vanishing bins] in specsep/phase.hpp).
template <typename T>
typename Lanes<T>::type frame_energy(const CpuPlan<T>& plan, Samples<T> x, const index_t* origin, index_t n_samples,
                                     bool inside) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  const T* window = plan.window.data();
  const index_t n = plan.n_fft;
  V energy = V();
  for (int l = 0; l < L; ++l) {
    T sum = T(0);
    index_t j = 0;
    if (inside) {
      V acc = V();
      for (; j + L <= n; j += L) {
        const V v = x.lanes(origin[l] + j) * load_unaligned<V>(window + j);
        acc += v * v;
      }
      for (int k = 0; k < L; ++k) sum += acc[k];
    }
    for (; j < n; ++j) {
      const index_t i = inside ? origin[l] + j : source_index(origin[l] + j, n_samples, plan.pad_mode);
      const T v = i < 0 ? T(0) : window[j] * x[i];
      sum += v * v;
    }
    energy[l] = sum;
  }
  return energy;
}

// Windowed samples of L frames that lie inside the signal (frame l starts at origin[l]), in the
// packed layout of frame_forward_packed: contiguous loads, then register transposes.
template <typename T, typename Signal>
void pack_frames(const CpuPlan<T>& plan, const Signal& signal, const index_t* origin, cplx<typename Lanes<T>::type>* a) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  const T* window = plan.window.data();
  const index_t n = plan.n_fft;
  const bool even = n % 2 == 0;
  V r[L];
  index_t j0 = 0;
  for (; j0 + L <= n; j0 += L) {
    for (int l = 0; l < L; ++l) r[l] = signal.lanes(origin[l] + j0);
    transpose(r);
    for (int j = 0; j < L; ++j) r[j] *= window[j0 + j];
    if (even) {
      for (int j = 0; j < L; j += 2) a[(j0 + j) / 2] = {r[j], r[j + 1]};
    } else {
      for (int j = 0; j < L; ++j) a[j0 + j] = {r[j], V()};
    }
  }
  for (; j0 < n; ++j0) {  // the last n % L samples
    V v;
    for (int l = 0; l < L; ++l) v[l] = signal[origin[l] + j0] * window[j0];
    if (even) {
      if (j0 % 2 == 0) a[j0 / 2].re = v; else a[j0 / 2].im = v;
    } else {
      a[j0] = {v, V()};
    }
  }
}

// Signals of any layout: item b's sample i at data[items[b] + i * step] (module.cpp's item table).
// Where step is not 1, run_stft gathers the samples each task frames into its scratch first
// (kFramesPerTask frames' worth, cache-sized): never a copy of the whole signal.
template <typename T>
struct StridedSignals {
  const T* data;
  const std::ptrdiff_t* items;
  std::ptrdiff_t step;
};

// Samples [lo, hi) of a signal gathered into a buffer, read as a signal: sample i at span[i - lo].
template <typename T>
struct SpanSamples {
  const T* span;
  index_t lo;
  T operator[](index_t i) const { return span[i - lo]; }
  typename Lanes<T>::type lanes(index_t i) const { return load_unaligned<typename Lanes<T>::type>(span + (i - lo)); }
};

// The range [lo, hi) of samples that frames [t0, t1) read, the padding's reads included.
template <typename T>
std::pair<index_t, index_t> samples_read(const CpuPlan<T>& plan, index_t t0, index_t t1, index_t n_samples) {
  const index_t p0 = t0 * plan.hop - plan.pad, p1 = (t1 - 1) * plan.hop - plan.pad + plan.n_fft;
  index_t lo = std::clamp(p0, index_t(0), n_samples), hi = std::clamp(p1, lo, n_samples);
  auto include = [&](index_t p) {
    const index_t i = source_index(p, n_samples, plan.pad_mode);
    if (i >= 0) lo = std::min(lo, i), hi = std::max(hi, i + 1);
  };
  for (index_t p = p0; p < std::min(p1, index_t(0)); ++p) include(p);
  for (index_t p = std::max(p0, n_samples); p < p1; ++p) include(p);
  return {lo, hi};
}

// STFT of the signals x[b * x_stride + (0 .. n_samples)], b < batch (x: Samples or Extrapolated),
// or of StridedSignals (x_stride unused). The spectra of frames t .. t + count - 1 (one per lane)
// of item b go to sink(b, t, count, spectrum) whole, or, where Sink::per_bin, bin by bin as the
// transform makes them, to sink.bins(b, t, l2)(k, X_k), l2 the norm of the frames
// (sink.frame_energy over frame_energy).
template <typename T, typename Signal, typename Sink>
void run_stft(const CpuPlan<T>& plan, const Signal& x, index_t batch, std::ptrdiff_t x_stride, index_t n_samples,
              index_t n_frames, const Sink& sink) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  const T* window = plan.window.data();
  // Frames [t_begin, t_end) of item b, read from `signal` (the item's samples, indexed as in x).
  auto frame_task = [&](const auto& signal, index_t b, index_t t_begin, index_t t_end, Scratch<T>& s) {
    for (index_t t = t_begin; t < t_end; t += L) {
      const int count = static_cast<int>(std::min<index_t>(L, t_end - t));
      index_t origin[L];
      bool inside = true;  // every lane's frame lies inside the signal: no padding maths
      for (int l = 0; l < L; ++l) {
        origin[l] = (t + std::min(l, count - 1)) * plan.hop - plan.pad;
        inside = inside && origin[l] >= 0 && origin[l] + plan.n_fft <= n_samples;
      }
      if (inside) {
        pack_frames(plan, signal, origin, s.a());
      } else {
        auto load = [&](index_t j) {
          V v = V();
          for (int l = 0; l < L; ++l) {
            const index_t i = source_index(origin[l] + j, n_samples, plan.pad_mode);
            v[l] = i < 0 ? T(0) : signal[i];
          }
          return v * splat<V>(window[j]);
        };
        frame_pack(SerialBlock{}, plan.fft.view(), load, s.a());
      }
      if constexpr (Sink::per_bin) {
        const V energy = sink.frame_energy(b, [&](index_t other) {
          return frame_energy(plan, x.row(other * x_stride).current(), origin, n_samples, inside);
        });
        const V l2 = sqrt(energy) * splat<V>(plan.forward_scale);
        frame_forward_bins(SerialBlock{}, plan.fft.view(), s.a(), s.b(), sink.bins(b, t, l2), plan.forward_scale);
      } else {
        frame_forward_packed(SerialBlock{}, plan.fft.view(), s.a(), s.b(), s.spectrum(), plan.forward_scale);
        sink(b, t, count, static_cast<const cplx<V>*>(s.spectrum()), s.workspace());
      }
    }
  };
  const index_t blocks = (n_frames + kFramesPerTask - 1) / kFramesPerTask;
  // Signals whose samples interleave (step > 1: x.T of a (samples, channels) array) share cache
  // lines: their tasks go item by item within a block of frames, so that the lines one task
  // gathers are still cached when the next items' tasks read them.
  bool interleaved = false;
  if constexpr (std::is_same_v<Signal, StridedSignals<T>>) interleaved = x.step != 1;
  parallel_for(batch * blocks, [&](std::ptrdiff_t task) {
    const index_t b = static_cast<index_t>(interleaved ? task % batch : task / blocks);
    const index_t t_begin = static_cast<index_t>(interleaved ? task / batch : task % blocks) * kFramesPerTask;
    const index_t t_end = std::min(n_frames, t_begin + kFramesPerTask);
    const auto lease = Scratch<T>::local(plan.n_fft, plan.fft.view().scratch());
    if constexpr (std::is_same_v<Signal, StridedSignals<T>>) {
      const T* item = x.data + x.items[b];
      if (x.step == 1) return frame_task(Samples<T>{item}, b, t_begin, t_end, *lease);
      const auto [lo, hi] = samples_read(plan, t_begin, t_end, n_samples);
      T* span = lease->span(static_cast<size_t>(std::max<index_t>(hi - lo, 1)));
      for (index_t i = lo; i < hi; ++i) span[i - lo] = item[i * x.step];
      frame_task(SpanSamples<T>{span, lo}, b, t_begin, t_end, *lease);
    } else {
      frame_task(x.row(b * x_stride), b, t_begin, t_end, *lease);
    }
  });
}

// frames[j] (lane l = frame l) as rows: rows[l * n + j], through register transposes.
template <typename V, typename T>
void unpack_frames(index_t n, const V* frames, T* rows) {
  constexpr int L = sizeof(V) / sizeof(T);
  V r[L];
  index_t j0 = 0;
  for (; j0 + L <= n; j0 += L) {
    for (int i = 0; i < L; ++i) r[i] = frames[j0 + i];
    transpose(r);
    for (int l = 0; l < L; ++l) store_unaligned(rows + l * n + j0, r[l]);
  }
  for (; j0 < n; ++j0)
    for (int l = 0; l < L; ++l) rows[l * n + j0] = frames[j0][l];
}

// Where item b's output samples go: out + b * stride, or, where the items are visited in another
// order than the result's (module.cpp's item tables), out + order[b] * stride.
template <typename T>
struct OutputRows {
  T* out;
  std::ptrdiff_t stride;
  const index_t* order = nullptr;
  T* operator()(index_t b) const { return out + (order ? order[b] : b) * stride; }
};

// Inverse STFT by gather overlap-add (Note [gather OLA] in specsep/ola.hpp): rows(b)[s - start] for
// s in [start, start + length) of the un-trimmed signal of item b. A task computes one output chunk
// of one item, its lanes L frames: their spectra packed by source.fill(b, t, count, n_bins, dst),
// or, where Source::lane_aligned (the source holds them in lanes, t a multiple of the lane count),
// read in place as source.bins(b, t)[k]. Where source.by_items(b, g * L) (the spectra of items
// b .. b + g * L - 1 lie one element apart: librosa's layout), a task takes those g groups of L
// items instead, its lanes frame t of each, packed by source.fill_items in one pass over the
// frame's bins. Every sample adds its frames in increasing t either way: the same bits.
template <typename T, typename Source>
void run_istft(const CpuPlan<T>& plan, index_t batch, index_t n_frames, index_t start, index_t length,
               const OutputRows<T>& rows, const Source& source) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  const index_t n_full = plan.n_fft + plan.hop * (n_frames - 1);
  const index_t chunk = plan.hop * kHopsPerChunk;
  const index_t chunks = (length + chunk - 1) / chunk;
  // The tasks' items: (first item, lane groups) per unit of work: one item (0 groups, frame lanes),
  // or up to kGroupsPerUnit groups of L consecutive items read as lanes, so that one task reads
  // whole cache lines of librosa's layout (a group of float32 items is 64 bytes).
  std::vector<std::pair<index_t, int>> units;
  for (index_t b = 0; b < batch;) {
    int groups = 0;
    if constexpr (!Source::lane_aligned)
      while (groups < kGroupsPerUnit && batch - b - groups * L >= L && source.by_items(b, (groups + 1) * L)) ++groups;
    units.emplace_back(b, groups);
    b += groups ? groups * L : 1;
  }
  const index_t n_units = static_cast<index_t>(units.size());
  const T* synthesis = plan.synthesis.data();
  // Samples [s0, covered) of the rows y[l], l < count, plus the frames of rows[l * n_fft ..].
  auto overlap_add = [&](T* const* y, int count, const T* frame_rows, index_t origin_of_lane0, index_t origin_step,
                         index_t s0, index_t covered) {
    for (int l = 0; l < count; ++l) {  // increasing t: the same order for any split of the work
      const index_t origin = origin_of_lane0 + l * origin_step;
      const index_t j0 = std::max(s0 - origin, index_t(0)), j1 = std::min(covered - origin, plan.n_fft);
      const T* row = frame_rows + l * plan.n_fft;
      T* target = y[l] + (origin + j0 - s0);
      for (index_t j = j0; j < j1; ++j) target[j - j0] += synthesis[j] * row[j];
    }
  };
  auto divide = [&](T* const* y, int count, index_t s0, index_t covered, T* SPECSEP_RESTRICT divisor) {
    for (index_t e0 = s0; e0 < covered; e0 += plan.n_fft) {
      const index_t e1 = std::min(e0 + plan.n_fft, covered);
      plan.envelope_divisor(n_frames, e0, e1, divisor);
      for (int l = 0; l < count; ++l) {
        T* SPECSEP_RESTRICT part = y[l] + (e0 - s0);
        for (index_t i = 0; i < e1 - e0; ++i) part[i] /= divisor[i];
      }
    }
  };
  parallel_for(n_units * chunks, [&](std::ptrdiff_t task) {
    // Units fastest: the items of neighbouring units share cache lines in librosa's layout.
    const auto [b0, groups] = units[static_cast<size_t>(task % n_units)];
    const int items = groups ? groups * L : 1;
    const index_t s0 = start + static_cast<index_t>(task / n_units) * chunk;  // samples [s0, s1)
    const index_t s1 = std::min(s0 + chunk, start + length);
    T* y[kGroupsPerUnit * L];
    for (int l = 0; l < items; ++l) {
      y[l] = rows(b0 + l) + (s0 - start);
      std::fill(y[l], y[l] + (s1 - s0), T(0));
    }
    const index_t covered = std::min(s1, n_full);  // samples past the last frame stay zero
    if (s0 >= covered) return;
    const auto lease = Scratch<T>::local(plan.n_fft, plan.fft.view().scratch());
    Scratch<T>& s = *lease;
    V* frames = s.frames();
    T* frame_rows = s.rows();
    const auto store = [&](index_t j, V v) { frames[j] = v; };
    const index_t t_last = ola_last_frame(covered - 1, plan.hop, n_frames);
    const index_t t_first = ola_first_frame(s0, plan.n_fft, plan.hop);
    if constexpr (!Source::lane_aligned) {
      if (groups) {
        cplx<V>* spectra[kGroupsPerUnit];
        cplx<V>* block = s.item_spectra(static_cast<size_t>(groups * plan.n_freqs()));
        for (int g = 0; g < groups; ++g) spectra[g] = block + g * plan.n_freqs();
        for (index_t t = t_first; t <= t_last; ++t) {
          source.fill_items(b0, t, groups, plan.n_freqs(), spectra);
          for (int g = 0; g < groups; ++g) {
            frame_backward_bins(SerialBlock{}, plan.fft.view(), static_cast<const cplx<V>*>(spectra[g]), s.a(), s.b(),
                                store);
            unpack_frames(plan.n_fft, frames, frame_rows);
            overlap_add(y + g * L, L, frame_rows, t * plan.hop, 0, s0, covered);
          }
        }
        divide(y, items, s0, covered, frame_rows);  // the frames are overlap-added: reuse their buffer
        return;
      }
    }
    const index_t b = b0;
    const index_t t_begin = Source::lane_aligned ? t_first - t_first % L : t_first;  // earlier frames add nothing
    for (index_t t = t_begin; t <= t_last; t += L) {
      const int count = static_cast<int>(std::min<index_t>(L, t_last + 1 - t));
      if constexpr (Source::lane_aligned) {
        frame_backward_bins(SerialBlock{}, plan.fft.view(), source.bins(b, t), s.a(), s.b(), store);
      } else {
        source.fill(b, t, count, plan.n_freqs(), s.b(), s.workspace());
        frame_backward_packed(SerialBlock{}, plan.fft.view(), s.a(), s.b(), store);
      }
      unpack_frames(plan.n_fft, frames, frame_rows);
      T* target[L];
      std::fill(target, target + L, y[0]);
      overlap_add(target, count, frame_rows, t * plan.hop, plan.hop, s0, covered);
    }
    divide(y, 1, s0, covered, frame_rows);
  });
}

template <typename T, typename Source>
void run_istft(const CpuPlan<T>& plan, index_t batch, index_t n_frames, index_t start, index_t length, T* out,
               std::ptrdiff_t out_stride, const Source& source) {
  run_istft(plan, batch, n_frames, start, length, OutputRows<T>{out, out_stride}, source);
}

}  // namespace specsep
