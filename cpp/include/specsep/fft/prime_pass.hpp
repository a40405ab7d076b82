// One pass of an odd prime radix p without a butterfly of its own (7, 11, ... below Bluestein's
// range, fft/bluestein_plan.hpp), after FFTPACK's and pocketfft's passg: the inputs are paired,
// s_m = x_m + x_(p-m) and d_m = x_m - x_(p-m), m = 1 .. (p-1)/2, so that with theta = 2 pi j m / p
//     y_j = A_j -+ i B_j,  y_(p-j) = A_j +- i B_j,  A_j = x_0 + sum_m s_m cos(theta), B_j = sum_m d_m sin(theta)
// (upper signs forward). Half the terms of the direct length-p DFT, real coefficients, and the sums
// taken 4 terms at a time: pocketfft's accuracy, where the direct DFT's error grew with p.
#pragma once
#include "passes.hpp"

namespace specsep {
namespace fft {

// Value x of cc is at cc[in(x)], of ch at ch[out(x)], as in pass_small.
template <bool fwd, typename V, typename T, typename Block, typename Layout>
SPECSEP_HD void pass_prime(const Block& block, int p, index_t ido, index_t l1, index_t n_sub,
                           const cplx<V>* SPECSEP_RESTRICT cc, cplx<V>* SPECSEP_RESTRICT ch, Roots<T> roots,
                           const cplx<T>* SPECSEP_RESTRICT tw, Layout in, Layout out) {
  const index_t root_step = n_sub / p;
  const int half = (p - 1) / 2;
  const index_t out_step = out(ido * l1);
  for_each_pair(block, l1, ido, [&](index_t k, index_t i) {
    const cplx<V>* in_k = cc + in(ido * p * k) + i;
    cplx<V>* out_k = ch + out(ido * k) + i;
    const cplx<V> x0 = in_k[0];
    cplx<V> y0 = x0;
    for (int m = 1; m <= half; ++m) y0 = y0 + (in_k[ido * m] + in_k[ido * (p - m)]);
    out_k[0] = y0;
    for (int j = 1; j <= half; ++j) {
      cplx<V> a = x0, b = {V(), V()};
      index_t jm = 0;  // (j * m) mod p, advanced without a division
      for (int m0 = 1; m0 <= half; m0 += 4) {  // groups of 4 terms summed apart, as passg does
        cplx<V> ga = {V(), V()}, gb = {V(), V()};
        for (int m = m0; m < m0 + 4 && m <= half; ++m) {
          jm += j;
          if (jm >= p) jm -= p;
          const cplx<T> w = roots[jm * root_step];  // {cos theta, sin theta}
          const cplx<V> s = in_k[ido * m] + in_k[ido * (p - m)], d = in_k[ido * m] - in_k[ido * (p - m)];
          ga = ga + scale(s, w.re);
          gb = gb + scale(d, w.im);
        }
        a = a + ga;
        b = b + gb;
      }
      const cplx<V> ib = {-b.im, b.re};  // i B
      cplx<V> lo = fwd ? a - ib : a + ib, hi = fwd ? a + ib : a - ib;
      if (i != 0) {
        lo = twiddle_mul<fwd>(lo, tw[(j - 1) * ido + i]);
        hi = twiddle_mul<fwd>(hi, tw[(p - j - 1) * ido + i]);
      }
      out_k[j * out_step] = lo;
      out_k[(p - j) * out_step] = hi;
    }
  });
}

}  // namespace fft
}  // namespace specsep
