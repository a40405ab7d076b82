// The transform of one STFT frame, forward (real samples -> n/2+1 bins) and backward
// (bins -> real samples), for any n: even n through the half-length complex FFT of fft/real.hpp,
// odd n as a full-length complex FFT.
//
// Each direction comes in layers: *_packed works on scratch that the caller has filled in the
// packed layout below (a driver may fill it with its own fast loads), and frame_forward fills it
// from a functor (load(j), the windowed sample j) first. frame_forward_bins hands each bin to a
// functor as it is made, and frame_backward_bins reads the bins where they are (a pointer, or
// anything indexable: the CUDA iSTFT reads them from global memory through its mask).
//   forward packed input, buffer a:  even n: a[j] = {x[2j], x[2j+1]}, j < n/2;  odd n: a[j] = {x[j], 0}
//   backward packed input, buffer b: b[k] = X[k], k <= n/2
#pragma once
#include "block.hpp"
#include "fft/bluestein.hpp"
#include "fft/real.hpp"

namespace specsep {

// lengths: which lengths the code using it is compiled for (fft::Lengths): smooth code needs
// fft::is_smooth(factors), and then never takes Bluestein's branch (blue.m == 0).
template <typename T, fft::Lengths lengths = fft::Lengths::any>
struct FrameFFT {
  index_t n;                 // frame length (n_fft)
  fft::Factors factors;   // of n / 2 for even n, of n for odd n
  const cplx<T>* roots;   // exp(+2 pi i x / n), x < n, then the twiddles of the passes of `factors`
  fft::Bluestein<T> blue;  // blue.m > 0: the complex transform goes through Bluestein's

  SPECSEP_HD SPECSEP_INLINE bool even() const { return n % 2 == 0; }
  // The passes' twiddle tables (fft/passes.hpp), behind the root table.
  SPECSEP_HD SPECSEP_INLINE const cplx<T>* twiddles() const { return roots + n; }
  // Complex values each of the two scratch buffers holds: the transform's length (even n: n/2, and
  // the backward pass keeps bins 0..n/2 there), or Bluestein's convolution length. A Block whose
  // work buffers are padded (fft/layout.hpp) needs fft::Layout<Block>::room(scratch()) each.
  SPECSEP_HD SPECSEP_INLINE index_t scratch() const {
    const index_t own = even() ? n / 2 + 1 : n;
    return blue.m > own ? blue.m : own;
  }
};

// The complex transform of the frame (length n/2 for even n, n for odd n): the plan's passes, or
// Bluestein's convolution. Returns the buffer holding the result (a or b). stride: of the root
// table, 2 for even n and 1 for odd n, a constant where the caller knows which.
template <bool fwd, typename V, typename T, fft::Lengths L, typename Block>
SPECSEP_HD cplx<V>* frame_transform(const Block& block, const FrameFFT<T, L>& f, cplx<V>* a, cplx<V>* b,
                                    index_t stride) {
  if (L == fft::Lengths::any && f.blue.m > 0) return fft::bluestein<fwd>(block, f.factors.n, f.blue, a, b);
  return fft::transform<fwd, L>(block, f.factors, fft::Roots<T>{f.roots, stride}, f.twiddles(), a, b);
}

// emit(k, factor * DFT(x)[k]) for k = 0..n/2 (in no particular order), from the packed input in a.
// a, b: scratch of f.scratch() values.
template <typename V, typename T, fft::Lengths L, typename Block, typename Emit>
SPECSEP_HD void frame_forward_bins(const Block& block, const FrameFFT<T, L>& f, cplx<V>* a, cplx<V>* b,
                                   const Emit& emit, T factor) {
  const index_t n = f.n;
  if (f.even()) {
    const cplx<V>* Z = frame_transform<true>(block, f, a, b, 2);
    fft::real_forward_post(block, n / 2, Z, emit, fft::Roots<T>{f.roots, 1}, factor);
  } else {
    const cplx<V>* Z = frame_transform<true>(block, f, a, b, 1);
    for (index_t k = block.tid(); k <= n / 2; k += block.size()) emit(k, scale(Z[k], factor));
  }
  block.sync();
}

// out[k] = factor * DFT(x)[k], k = 0..n/2, from the packed input in a.
template <typename V, typename T, fft::Lengths L, typename Block>
SPECSEP_HD void frame_forward_packed(const Block& block, const FrameFFT<T, L>& f, cplx<V>* a, cplx<V>* b,
                                     cplx<V>* out, T factor) {
  frame_forward_bins(block, f, a, b, [out](index_t k, cplx<V> x) { out[k] = x; }, factor);
}

// The packed input of the forward transform, into a, from load(j), the windowed sample j.
template <typename V, typename T, fft::Lengths L, typename Block, typename Load>
SPECSEP_HD void frame_pack(const Block& block, const FrameFFT<T, L>& f, const Load& load, cplx<V>* a) {
  if (f.even()) {
    // a[j] = {x[2j], x[2j+1]} is x itself in memory: consecutive workers load consecutive samples
    // (coalesced on a GPU), where pairs would have every load and store at stride 2.
    static_assert(sizeof(cplx<V>) == 2 * sizeof(V), "a complex is its two parts, unpadded");
    V* samples = &a[0].re;
    for (index_t j = block.tid(); j < f.n; j += block.size()) samples[j] = load(j);
  } else {
    for (index_t j = block.tid(); j < f.n; j += block.size()) a[j] = {load(j), V()};
  }
  block.sync();
}

template <typename V, typename T, fft::Lengths L, typename Block, typename Load>
SPECSEP_HD void frame_forward(const Block& block, const FrameFFT<T, L>& f, const Load& load, cplx<V>* a,
                              cplx<V>* b, cplx<V>* out, T factor) {
  frame_pack(block, f, load, a);
  frame_forward_packed(block, f, a, b, out, factor);
}

// store(j, n * IDFT(X)[j]) for j < n, from bins X[k] = bins[k], k <= n/2 (a pointer, or anything
// indexable; the rest Hermitian; the imaginary parts of X[0] and, for even n, X[n/2] are ignored).
// a, b: scratch of f.scratch() values; bins may be b.
template <typename V, typename T, fft::Lengths L, typename Block, typename Bins, typename Store>
SPECSEP_HD void frame_backward_bins(const Block& block, const FrameFFT<T, L>& f, const Bins& bins, cplx<V>* a,
                                    cplx<V>* b, const Store& store) {
  const index_t n = f.n;
  if (f.even()) {
    const index_t h = n / 2;
    fft::real_backward_pre(block, h, bins, a, fft::Roots<T>{f.roots, 1});
    block.sync();
    const cplx<V>* z = frame_transform<false>(block, f, a, b, 2);
    // Sample 2j is z[j].re, 2j+1 is z[j].im: z read as n reals, one sample per worker in turn.
    const V* samples = &z[0].re;
    for (index_t j = block.tid(); j < n; j += block.size()) store(j, samples[j]);
  } else {
    for (index_t k = block.tid(); k <= n / 2; k += block.size()) {
      cplx<V> x = bins[k];
      if (k == 0) x.im = V();
      a[k] = x;
      if (k > 0) a[n - k] = conj(x);
    }
    block.sync();
    const cplx<V>* z = frame_transform<false>(block, f, a, b, 1);
    for (index_t j = block.tid(); j < n; j += block.size()) store(j, z[j].re);
  }
  block.sync();
}

// The same from bins packed in b.
template <typename V, typename T, fft::Lengths L, typename Block, typename Store>
SPECSEP_HD void frame_backward_packed(const Block& block, const FrameFFT<T, L>& f, cplx<V>* a, cplx<V>* b,
                                      const Store& store) {
  frame_backward_bins(block, f, static_cast<const cplx<V>*>(b), a, b, store);
}

}  // namespace specsep
