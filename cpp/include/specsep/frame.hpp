// The transform of one STFT frame, forward (real samples -> n/2+1 bins) and backward
// (bins -> real samples), for any n: even n through the half-length complex FFT of fft/real.hpp,
// odd n as a full-length complex FFT.
//
// Each direction comes in two layers: *_packed works on scratch that the caller has filled in the
// packed layout below (a driver may fill it with its own fast loads), and the plain function
// fills it from a functor (load(j) for samples, load(k) for bins) first.
//   forward packed input, buffer a:  even n: a[j] = {x[2j], x[2j+1]}, j < n/2;  odd n: a[j] = {x[j], 0}
//   backward packed input, buffer b: b[k] = X[k], k <= n/2
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
};

// out[k] = factor * DFT(x)[k], k = 0..n/2, from the packed input in a. a, b: scratch of n values.
template <typename V, typename T, typename Block>
SPECSEP_HD void frame_forward_packed(const Block& block, const FrameFFT<T>& f, cplx<V>* a, cplx<V>* b,
                                     cplx<V>* out, T factor) {
  const long n = f.n;
  if (f.even()) {
    const cplx<V>* Z = fft::transform<true>(block, f.factors, fft::Roots<T>{f.roots, 2}, a, b);
    fft::real_forward_post(block, n / 2, Z, out, fft::Roots<T>{f.roots, 1}, factor);
  } else {
    const cplx<V>* Z = fft::transform<true>(block, f.factors, fft::Roots<T>{f.roots, 1}, a, b);
    for (long k = block.tid(); k <= n / 2; k += block.size()) out[k] = scale(Z[k], factor);
  }
  block.sync();
}

template <typename V, typename T, typename Block, typename Load>
SPECSEP_HD void frame_forward(const Block& block, const FrameFFT<T>& f, const Load& load, cplx<V>* a,
                              cplx<V>* b, cplx<V>* out, T factor) {
  if (f.even()) {
    for (long j = block.tid(); j < f.n / 2; j += block.size()) a[j] = {load(2 * j), load(2 * j + 1)};
  } else {
    for (long j = block.tid(); j < f.n; j += block.size()) a[j] = {load(j), V()};
  }
  block.sync();
  frame_forward_packed(block, f, a, b, out, factor);
}

// store(j, n * IDFT(X)[j]) for j < n, from bins X[0..n/2] packed in b (the rest Hermitian; the
// imaginary parts of X[0] and, for even n, X[n/2] are ignored). a, b: scratch of n values.
template <typename V, typename T, typename Block, typename Store>
SPECSEP_HD void frame_backward_packed(const Block& block, const FrameFFT<T>& f, cplx<V>* a, cplx<V>* b,
                                      const Store& store) {
  const long n = f.n;
  if (f.even()) {
    const long h = n / 2;
    fft::real_backward_pre(block, h, b, a, fft::Roots<T>{f.roots, 1});
    block.sync();
    const cplx<V>* z = fft::transform<false>(block, f.factors, fft::Roots<T>{f.roots, 2}, a, b);
    for (long j = block.tid(); j < h; j += block.size()) {
      store(2 * j, z[j].re);
      store(2 * j + 1, z[j].im);
    }
  } else {
    for (long k = block.tid(); k <= n / 2; k += block.size()) {
      cplx<V> x = b[k];
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

template <typename V, typename T, typename Block, typename Load, typename Store>
SPECSEP_HD void frame_backward(const Block& block, const FrameFFT<T>& f, const Load& load, cplx<V>* a,
                               cplx<V>* b, const Store& store) {
  for (long k = block.tid(); k <= f.n / 2; k += block.size()) b[k] = load(k);
  block.sync();
  frame_backward_packed(block, f, a, b, store);
}

}  // namespace specsep
