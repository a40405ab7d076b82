// Bluestein's chirp-z transform: the DFT of a length n with a large prime factor as a cyclic
// convolution of length m >= 2n - 1, m 5-smooth, run through the mixed-radix passes (smooth code).
//
// With jk = (j^2 + k^2 - (k - j)^2) / 2 and the chirp c_k = exp(+pi i k^2 / n),
//     forward:  X_k = conj(c_k) sum_j (x_j conj(c_j)) c_(k-j),
//     backward: X_k = c_k sum_j (x_j c_j) conj(c_(k-j)).
// The sum is a convolution with the chirp over k - j in (-n, n): cyclic of length m with the chirp
// wrapped around (h_d = h_(m-d) = c_d, d < n, zero between). Its transform H is even, so the
// backward direction multiplies by conj(H): one table serves both. H comes from the host
// (specsep/fft/bluestein_plan.hpp), divided by m, so the pair of length-m transforms needs no
// scaling. The chirp's angle is reduced exactly (k^2 mod 2n in integers) before its sine and
// cosine, as pocketfft's fftblue does: k^2 / n in floating point loses the angle for large k.
#pragma once
#include "fft.hpp"

namespace specsep {
namespace fft {

template <typename T>
struct Bluestein {
  index_t m;              // convolution length; 0: the plan runs its passes directly
  Factors factors;        // of m
  const cplx<T>* chirp;   // exp(+pi i k^2 / n), k < n
  const cplx<T>* filter;  // H / m, H the length-m DFT of the wrapped chirp
  const cplx<T>* twiddles;  // of the passes of m (fft/passes.hpp)
};

// The unnormalised DFT of a[0 .. n) as fft::transform computes it, through the convolution; a and
// b hold m values each. Returns the buffer holding the result (a or b), after a barrier.
template <bool fwd, typename V, typename T, typename Block>
SPECSEP_HD cplx<V>* bluestein(const Block& block, index_t n, const Bluestein<T>& blue, cplx<V>* a, cplx<V>* b) {
  const index_t m = blue.m;
  for (index_t k = block.tid(); k < m; k += block.size())
    a[k] = k < n ? twiddle_mul<fwd>(a[k], blue.chirp[k]) : cplx<V>{V(), V()};
  block.sync();
  // m is 5-smooth: no prime pass, which alone reads a root table
  cplx<V>* c = transform<true, Lengths::smooth>(block, blue.factors, Roots<T>{}, blue.twiddles, a, b);
  for (index_t k = block.tid(); k < m; k += block.size()) c[k] = twiddle_mul<!fwd>(c[k], blue.filter[k]);
  block.sync();
  c = transform<false, Lengths::smooth>(block, blue.factors, Roots<T>{}, blue.twiddles, c, c == a ? b : a);
  for (index_t k = block.tid(); k < n; k += block.size()) c[k] = twiddle_mul<fwd>(c[k], blue.chirp[k]);
  block.sync();
  return c;
}

}  // namespace fft
}  // namespace specsep
