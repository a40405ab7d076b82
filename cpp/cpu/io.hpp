// What the drivers read and write per frame group. Sinks take the spectra of frames
// t .. t + count - 1 (lane l = frame t + l); sources return bin k of those frames as lanes.
// Lanes past `count` repeat the last frame and are never written anywhere.
#pragma once
#include <cmath>

#include "plan.hpp"
#include "simd.hpp"
#include "specsep/phase.hpp"

namespace specsep {

template <typename T>
struct SpectrumWriter {  // out(b, t, f), contiguous (batch, frames, freqs)
  cplx<T>* out;
  long n_frames, n_freqs;
  template <typename V>
  void operator()(long b, long t, int count, const cplx<V>* spectrum) const {
    for (int l = 0; l < count; ++l) {
      cplx<T>* row = out + (b * n_frames + t + l) * n_freqs;
      for (long f = 0; f < n_freqs; ++f) row[f] = {spectrum[f].re[l], spectrum[f].im[l]};
    }
  }
};

template <typename T, typename V>
cplx<V> gather_lanes(int count, long t, const View3<const cplx<T>>& X, long b, long k) {
  cplx<V> out;
  for (int l = 0; l < Lanes<T>::count; ++l) {
    const cplx<T> x = X(b, t + (l < count ? l : count - 1), k);
    out.re[l] = x.re;
    out.im[l] = x.im;
  }
  return out;
}

template <typename T>
struct SpectrumReader {  // X(b, t, f), any strides
  View3<const cplx<T>> X;
  template <typename V>
  cplx<V> operator()(long b, long t, int count, long k) const { return gather_lanes<T, V>(count, t, X, b, k); }
};

template <typename T>
struct MaskedMixture {  // mixture(b / J, t, f) * mask[b / J, b % J, f, t] (strided masks)
  View3<const cplx<T>> mixture;
  const T* mask;
  std::ptrdiff_t mb, mj, mf, mt;
  long sources;
  template <typename V>
  cplx<V> operator()(long i, long t, int count, long k) const {
    const long b = i / sources, j = i - b * sources;
    cplx<V> x = gather_lanes<T, V>(count, t, mixture, b, k);
    for (int l = 0; l < Lanes<T>::count; ++l) {
      const T m = mask[b * mb + j * mj + k * mf + (t + (l < count ? l : count - 1)) * mt];
      x.re[l] *= m;
      x.im[l] *= m;
    }
    return x;
  }
};

// Phase retrieval state: magnitudes (strided), and the contiguous (signal, frames, freqs) angles
// and previous rebuilt spectra.
template <typename T>
struct PhaseState {
  View3<const T> magnitude;
  cplx<T>* angles;
  cplx<T>* previous;
  long n_frames, n_freqs;
  cplx<T>* angle_row(long i, long t) const { return angles + (i * n_frames + t) * n_freqs; }
};

template <typename T>
struct MagnitudeTimesAngles {  // magnitude(i, t, f) * angles(i, t, f)
  const PhaseState<T>& state;
  template <typename V>
  cplx<V> operator()(long i, long t, int count, long k) const {
    cplx<V> x;
    for (int l = 0; l < Lanes<T>::count; ++l) {
      const long tl = t + (l < count ? l : count - 1);
      x.re[l] = state.angle_row(i, tl)[k].re * state.magnitude(i, tl, k);
      x.im[l] = state.angle_row(i, tl)[k].im * state.magnitude(i, tl, k);
    }
    return x;
  }
};

// The fast Griffin-Lim update of every frame (specsep/phase.hpp), and each frame's squared
// magnitude error for the spectral convergence. Items not `active` keep their angles.
template <typename T>
struct PhaseUpdate {
  const PhaseState<T>& state;
  const char* active;  // per item (signal i belongs to item i / sources)
  long sources;
  T alpha;
  double* frame_error;  // (signal, frames)
  template <typename V>
  void operator()(long i, long t, int count, const cplx<V>* rebuilt) const {
    const bool update = active[i / sources] != 0;
    for (int l = 0; l < count; ++l) {
      const long tl = t + l;
      cplx<T>* angle = state.angle_row(i, tl);
      cplx<T>* previous = state.previous + (i * state.n_frames + tl) * state.n_freqs;
      double error = 0.0;
      for (long f = 0; f < state.n_freqs; ++f) {
        const cplx<T> r = {rebuilt[f].re[l], rebuilt[f].im[l]};
        const double d = std::hypot(double(r.re), double(r.im)) - double(state.magnitude(i, tl, f));
        error += d * d;
        const cplx<T> next = accelerated_phase(r, previous[f], alpha);
        previous[f] = r;
        if (update) angle[f] = next;
      }
      frame_error[i * state.n_frames + tl] = error;
    }
  }
};

}  // namespace specsep
