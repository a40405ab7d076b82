// The transform of one STFT frame, forward (real samples -> n/2+1 bins) and backward
// (bins -> real samples), for any n: even n through the half-length complex FFT of fft/real.hpp,
// odd n as a full-length complex FFT. Samples come in and go out through functors, so that the
// same code frames, windows, masks and overlap-adds for every backend.
#pragma once
#include "block.hpp"
#include "fft/real.hpp"

namespace specsep {

template <typename T>
struct FrameFFT {
  long n;                 // frame length (n_fft)
  fft::Factors factors;   // of n / 2 for even n, of n for odd n
  const cplx<T>* roots;   // exp(+2 pi i x / n), x < n

  SPECSEP_HD SPECSEP_INLINE bool even() const { return n % 2 == 0; }
  // Scratch needed per buffer (two buffers a, b of this many complex values).
  SPECSEP_HD SPECSEP_INLINE long scratch() const { return even() ? n / 2 + 1 : n; }
};

// out[k] = factor * sum_j load(j) exp(-2 pi i j k / n), k = 0..n/2. a, b: scratch.
template <typename V, typename T, typename Block, typename Load>
SPECSEP_HD void frame_forward(const Block& block, const FrameFFT<T>& f, const Load& load,
                              cplx<V>* a, cplx<V>* b, cplx<V>* out, T factor) {
  const long n = f.n;
  if (f.even()) {
    const long h = n / 2;
    for (long j = block.tid(); j < h; j += block.size()) a[j] = {load(2 * j), load(2 * j + 1)};
    block.sync();
    const cplx<V>* Z = fft::transform<true>(block, f.factors, fft::Roots<T>{f.roots, 2}, a, b);
    fft::real_forward_post(block, h, Z, out, fft::Roots<T>{f.roots, 1}, factor);
  } else {
    for (long j = block.tid(); j < n; j += block.size()) a[j] = {load(j), V()};
    block.sync();
    const cplx<V>* Z = fft::transform<true>(block, f.factors, fft::Roots<T>{f.roots, 1}, a, b);
    for (long k = block.tid(); k <= n / 2; k += block.size()) out[k] = scale(Z[k], factor);
  }
  block.sync();
}

// store(j, sum_k X_k exp(+2 pi i j k / n)) for j < n, with X_k = load(k) for k = 0..n/2 and the
// Hermitian rest (the inverse real DFT times n). a, b: scratch.
template <typename V, typename T, typename Block, typename Load, typename Store>
SPECSEP_HD void frame_backward(const Block& block, const FrameFFT<T>& f, const Load& load,
                               cplx<V>* a, cplx<V>* b, const Store& store) {
  const long n = f.n;
  if (f.even()) {
    const long h = n / 2;
    for (long k = block.tid(); k <= h; k += block.size()) b[k] = load(k);
    block.sync();
    fft::real_backward_pre(block, h, b, a, fft::Roots<T>{f.roots, 1});
    block.sync();
    const cplx<V>* z = fft::transform<false>(block, f.factors, fft::Roots<T>{f.roots, 2}, a, b);
    for (long j = block.tid(); j < h; j += block.size()) {
      store(2 * j, z[j].re);
      store(2 * j + 1, z[j].im);
    }
  } else {
    for (long k = block.tid(); k <= n / 2; k += block.size()) {
      cplx<V> x = load(k);
      if (k == 0) x.im = V();
      a[k] = x;
      if (k > 0) a[n - k] = conj(x);
    }
    block.sync();
    const cplx<V>* z = fft::transform<false>(block, f.factors, fft::Roots<T>{f.roots, 1}, a, b);
    for (long j = block.tid(); j < n; j += block.size()) store(j, z[j].re);
  }
  block.sync();
}

}  // namespace specsep
