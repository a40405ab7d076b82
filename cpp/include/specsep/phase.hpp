// The phase update of fast Griffin-Lim (Perraudin et al. 2013), as librosa and torchaudio write it:
// c = rebuilt - alpha * rebuilt_prev with alpha = momentum / (1 + momentum), new angle c / |c|.
#pragma once
#include "complex.hpp"

namespace specsep {

template <typename T>
SPECSEP_HD SPECSEP_INLINE T modulus(cplx<T> c) {
  return sqrt(c.re * c.re + c.im * c.im);
}

// The smallest normal number: guards c / |c| when c is exactly zero (the result is then 0).
template <typename T> SPECSEP_HD SPECSEP_INLINE T tiny_normal();
template <> SPECSEP_HD SPECSEP_INLINE float tiny_normal<float>() { return 1.17549435082228750797e-38f; }
template <> SPECSEP_HD SPECSEP_INLINE double tiny_normal<double>() { return 2.22507385850720138309e-308; }

template <typename T>
SPECSEP_HD SPECSEP_INLINE cplx<T> accelerated_phase(cplx<T> rebuilt, cplx<T> previous, T alpha) {
  const cplx<T> c = {rebuilt.re - alpha * previous.re, rebuilt.im - alpha * previous.im};
  const T inv = T(1) / (modulus(c) + tiny_normal<T>());
  return {c.re * inv, c.im * inv};
}

}  // namespace specsep
