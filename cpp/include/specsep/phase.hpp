// The phase update of fast Griffin-Lim (Perraudin et al. 2013), as librosa and torchaudio write it:
// c = rebuilt - alpha * rebuilt_prev with alpha = momentum / (1 + momentum), new angle c / |c|.
// V is a scalar or a vector of lanes (then a lane-wise sqrt overload must be declared first).
#pragma once
#include "complex.hpp"

namespace specsep {

// The smallest normal number: guards c / |c| when c is exactly zero (the result is then 0).
template <typename T> SPECSEP_HD SPECSEP_INLINE T tiny_normal();
template <> SPECSEP_HD SPECSEP_INLINE float tiny_normal<float>() { return 1.17549435082228750797e-38f; }
template <> SPECSEP_HD SPECSEP_INLINE double tiny_normal<double>() { return 2.22507385850720138309e-308; }

template <typename V>
SPECSEP_HD SPECSEP_INLINE V modulus(cplx<V> c) {
  return sqrt(c.re * c.re + c.im * c.im);
}

// c / |c|, and 0 where c is exactly zero; T is the scalar type of V's lanes.
template <typename T, typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> unit_phase(cplx<V> c) {
  const V inv = splat<V>(T(1)) / (modulus(c) + splat<V>(tiny_normal<T>()));
  return {c.re * inv, c.im * inv};
}

template <typename V, typename T>
SPECSEP_HD SPECSEP_INLINE cplx<V> accelerated_phase(cplx<V> rebuilt, cplx<V> previous, T alpha) {
  const V a = splat<V>(alpha);
  return unit_phase<T>(cplx<V>{rebuilt.re - a * previous.re, rebuilt.im - a * previous.im});
}

}  // namespace specsep
