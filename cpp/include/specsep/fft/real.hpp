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

// X[k] for k = 0..h from Z (length h); roots_n are the roots of the full length n = 2h.
template <typename V, typename T, typename Block>
SPECSEP_HD void real_forward_post(const Block& block, long h, const cplx<V>* SPECSEP_RESTRICT Z,
                                  cplx<V>* SPECSEP_RESTRICT X, Roots<T> roots_n, T factor) {
  for (long k = block.tid(); k <= h; k += block.size()) {
    const cplx<V> zk = Z[k == h ? 0 : k];
    const cplx<V> zc = conj(Z[k == 0 ? 0 : h - k]);
    const cplx<V> e = zk + zc;                            // 2E
    const cplx<V> d = zk - zc;                            // 2iO
    const cplx<V> o = {d.im, -d.re};                      // 2O = -i * 2iO
    const cplx<V> wo = twiddle_mul<true>(o, roots_n[k]);  // w^k * 2O
    X[k] = scale(e + wo, factor * T(0.5));
  }
}

// Z (length h) from X[0..h], ready for the backward half-length FFT.
template <typename V, typename T, typename Block>
SPECSEP_HD void real_backward_pre(const Block& block, long h, const cplx<V>* SPECSEP_RESTRICT X,
                                  cplx<V>* SPECSEP_RESTRICT Z, Roots<T> roots_n) {
  for (long k = block.tid(); k < h; k += block.size()) {
    cplx<V> xk = X[k], xc = conj(X[h - k]);
    if (k == 0) {
      xk.im = V();
      xc.im = V();
    }
    const cplx<V> e = xk + xc;                                   // 2E
    const cplx<V> o = twiddle_mul<false>(xk - xc, roots_n[k]);  // 2O = (X[k] - conj X[h-k]) / w^k
    Z[k] = {e.re - o.im, e.im + o.re};  // 2E + i 2O
  }
}

}  // namespace fft
}  // namespace specsep
