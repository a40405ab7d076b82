// POD complex number, layout-equal to NumPy's complex64/complex128 ({re, im}), usable on host and
// device. The value type V may be a scalar or a SIMD vector of several frames (lanes); the
// twiddle type T is always a scalar.
#pragma once
#include "hd.hpp"

namespace specsep {

template <typename V>
struct cplx {
  V re, im;
};

template <typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> operator+(cplx<V> a, cplx<V> b) { return {a.re + b.re, a.im + b.im}; }
template <typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> operator-(cplx<V> a, cplx<V> b) { return {a.re - b.re, a.im - b.im}; }
template <typename V, typename S>
SPECSEP_HD SPECSEP_INLINE cplx<V> scale(cplx<V> a, S s) { return {a.re * s, a.im * s}; }
template <typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> conj(cplx<V> a) { return {a.re, -a.im}; }

// a * w for fwd == false, a * conj(w) for fwd == true: the twiddle tables hold exp(+2 pi i x / n)
// and the forward transform uses their conjugates.
template <bool fwd, typename V, typename T>
SPECSEP_HD SPECSEP_INLINE cplx<V> twiddle_mul(cplx<V> a, cplx<T> w) {
  if (fwd) return {a.re * w.re + a.im * w.im, a.im * w.re - a.re * w.im};
  return {a.re * w.re - a.im * w.im, a.im * w.re + a.re * w.im};
}

// a * (-i) for fwd, a * (+i) otherwise: the quarter-turn of radix-4 butterflies.
template <bool fwd, typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> quarter_turn(cplx<V> a) {
  if (fwd) return {a.im, -a.re};
  return {-a.im, a.re};
}

}  // namespace specsep
