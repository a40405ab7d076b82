// POD complex number, layout-equal to NumPy's complex64/complex128 ({re, im}), usable on host and
// device. The value type V may be a scalar or a SIMD vector of several frames (lanes); the
// twiddle type T is always a scalar.
#pragma once
#include "hd.hpp"

#if !defined(__CUDACC_RTC__) && !defined(__CUDACC__)
#include <cstddef>
#include <utility>
#endif

namespace specsep {

// splat<V>(x): the scalar x in every lane of V (x itself when V is a scalar). For GCC vectors it is
// spelled out as an initializer list: an implicit `vector * scalar` broadcasts through the stack
// when V is wider than the target's registers (32-byte lanes on SSE2 or NEON), a store-forwarding
// stall on every use, which made the baseline build 10-25x slower than the AVX2 one.
#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
template <typename V, typename T>
SPECSEP_HD SPECSEP_INLINE V splat(T x) {
  return x;
}
#else
template <typename V, typename T, std::size_t... lane>
inline V splat_lanes(T x, std::index_sequence<lane...>) {
  return V{(static_cast<void>(lane), x)...};
}
template <typename V, typename T>
inline V splat(T x) {
  if constexpr (sizeof(V) == sizeof(T)) {
    return static_cast<V>(x);
  } else {
    return splat_lanes<V>(x, std::make_index_sequence<sizeof(V) / sizeof(T)>{});
  }
}
#endif

// On the device (nvcc, NVRTC, and the emulator's units: registry.hpp defines
// SPECSEP_EMU_DEVICE_LAYOUT) a complex is aligned to its size, so that a whole value moves in one
// 8- or 16-byte access (ld.v2) instead of two scalar ones, each 2-way bank conflicted in shared
// memory; launches check the arrays' alignment. On the host V may be a SIMD vector of several
// frames and keeps V's alignment (NumPy only guarantees the scalar's).
#if defined(__CUDACC__) || defined(SPECSEP_EMU_DEVICE_LAYOUT)
#define SPECSEP_CPLX_ALIGN alignas(2 * sizeof(V))
#else
#define SPECSEP_CPLX_ALIGN
#endif
template <typename V>
struct SPECSEP_CPLX_ALIGN cplx {
  V re, im;
};
#undef SPECSEP_CPLX_ALIGN

template <typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> operator+(cplx<V> a, cplx<V> b) { return {a.re + b.re, a.im + b.im}; }
template <typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> operator-(cplx<V> a, cplx<V> b) { return {a.re - b.re, a.im - b.im}; }
template <typename V, typename S>
SPECSEP_HD SPECSEP_INLINE cplx<V> scale(cplx<V> a, S s) {
  const V v = splat<V>(s);
  return {a.re * v, a.im * v};
}
template <typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> conj(cplx<V> a) { return {a.re, -a.im}; }

// a * w for fwd == false, a * conj(w) for fwd == true: the twiddle tables hold exp(+2 pi i x / n)
// and the forward transform uses their conjugates.
template <bool fwd, typename V, typename T>
SPECSEP_HD SPECSEP_INLINE cplx<V> twiddle_mul(cplx<V> a, cplx<T> w) {
  const V re = splat<V>(w.re), im = splat<V>(w.im);
  if (fwd) return {a.re * re + a.im * im, a.im * re - a.re * im};
  return {a.re * re - a.im * im, a.im * re + a.re * im};
}

// a * (-i) for fwd, a * (+i) otherwise: the quarter-turn of radix-4 butterflies.
template <bool fwd, typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> quarter_turn(cplx<V> a) {
  if (fwd) return {a.im, -a.re};
  return {-a.im, a.re};
}

}  // namespace specsep
