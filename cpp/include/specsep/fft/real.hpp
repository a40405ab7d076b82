// Real-input transforms through a half-length complex FFT (even n), and their inverses.
//
// Forward: z[j] = x[2j] + i x[2j+1] has Z = E + i O with E, O the DFTs (length h = n/2) of the
// even and odd samples, so X[k] = E[k] + w^k O[k] with
//     E[k] = (Z[k] + conj Z[h-k]) / 2,   O[k] = (Z[k] - conj Z[h-k]) / 2i,   w = exp(-2 pi i / n).
// Backward (unnormalised, times n): from X[0..h], 2E[k] = X[k] + conj X[h-k] and
// 2O[k] = (X[k] - conj X[h-k]) conj(w^k); the inverse half-length FFT of 2E + 2iO is
// n * (x[2j] + i x[2j+1]). The imaginary parts of X[0] and X[h] are ignored, as by every C2R FFT.
//
// Odd n has no half-length trick: the frame is transformed as a full complex sequence.
#pragma once
#include "fft.hpp"

namespace specsep {
namespace fft {

// Both passes visit the bins in pairs (k, h - k), k <= h / 2: each pair's two outputs read the
// same two inputs, which are loaded once.

// X[k] for the partner inputs zk = Z[k], zc = conj Z[h-k], with w^k = conj(roots_n[k]).
template <typename V, typename T>
SPECSEP_HD SPECSEP_INLINE cplx<V> real_forward_bin(cplx<V> zk, cplx<V> zc, cplx<T> root, T half_factor) {
  const cplx<V> e = zk + zc;                       // 2E
  const cplx<V> d = zk - zc;                       // 2iO
  const cplx<V> o = {d.im, -d.re};                 // 2O = -i * 2iO
  const cplx<V> wo = twiddle_mul<true>(o, root);  // w^k * 2O
  return scale(e + wo, half_factor);
}

// emit(k, X[k]) for k = 0..h from Z (length h); roots_n are the roots of the full length n = 2h.
template <typename V, typename T, typename Block, typename Emit>
SPECSEP_HD void real_forward_post(const Block& block, index_t h, const cplx<V>* SPECSEP_RESTRICT Z, const Emit& emit,
                                  Roots<T> roots_n, T factor) {
  const T half = factor * T(0.5);
  for (index_t k = block.tid(); k <= h / 2; k += block.size()) {
    if (k == 0) {  // X[0] and X[h] both come from Z[0]
      const cplx<V> z = Z[0];
      emit(0, real_forward_bin(z, conj(z), roots_n[0], half));
      emit(h, real_forward_bin(z, conj(z), roots_n[h], half));
      continue;
    }
    const cplx<V> zk = Z[k], zp = Z[h - k];
    emit(k, real_forward_bin(zk, conj(zp), roots_n[k], half));
    if (h - k != k) emit(h - k, real_forward_bin(zp, conj(zk), roots_n[h - k], half));
  }
}

// Z[k] = 2E[k] + i 2O[k] from xk = X[k], xc = conj X[h-k].
template <typename V, typename T>
SPECSEP_HD SPECSEP_INLINE cplx<V> real_backward_bin(cplx<V> xk, cplx<V> xc, cplx<T> root) {
  const cplx<V> e = xk + xc;                            // 2E
  const cplx<V> o = twiddle_mul<false>(xk - xc, root);  // 2O = (X[k] - conj X[h-k]) / w^k
  return {e.re - o.im, e.im + o.re};
}

// Z (length h) from X[0..h] (a pointer, or anything whose X[k] is bin k), ready for the backward
// half-length FFT.
template <typename V, typename T, typename Block, typename Bins>
SPECSEP_HD void real_backward_pre(const Block& block, index_t h, const Bins& X, cplx<V>* SPECSEP_RESTRICT Z,
                                  Roots<T> roots_n) {
  for (index_t k = block.tid(); k <= h / 2; k += block.size()) {
    if (k == 0) {  // only the real parts of X[0] and X[h] count
      const cplx<V> x0 = X[0], xh = X[h];
      Z[0] = real_backward_bin(cplx<V>{x0.re, V()}, cplx<V>{xh.re, V()}, roots_n[0]);
      continue;
    }
    const cplx<V> xk = X[k], xp = X[h - k];
    Z[k] = real_backward_bin(xk, conj(xp), roots_n[k]);
    if (h - k != k) Z[h - k] = real_backward_bin(xp, conj(xk), roots_n[h - k]);
  }
}

}  // namespace fft
}  // namespace specsep
