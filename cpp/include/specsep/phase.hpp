// The phase update of fast Griffin-Lim (Perraudin et al. 2013), as librosa and torchaudio write it:
// c = rebuilt - alpha * rebuilt_prev with alpha = momentum / (1 + momentum), new angle c / |c|.
// V is a scalar or a vector of lanes (then a lane-wise sqrt overload must be declared first).
//
// Note [vanishing bins]: where c vanishes in exact arithmetic (a frame that is constant, or
// symmetric, over a tiny n_fft; the DC or Nyquist bin of such frames) every backend computes
// rounding noise instead: 1e-17 here, 0 there, of any sign, so c / |c| points anywhere and the
// backends part by O(1) in that bin. The rounding noise of a bin is a few ulps of the frame's
// norm l2 = sqrt(sum_j (w_j x_j)^2) (the rms of its bins, by Parseval) for the rebuilt and the
// previous spectrum each, so c counts as zero where |c| <= noise_floor(l2, alpha, eps) =
// 64 eps (1 + alpha) l2, x the signal the STFT transforms, eps that of the data's precision
// (float32 magnitudes and initial phases carry float32 rounding into a float64 iteration), and a
// zero c takes the angle 1. Bins above the floor keep c / |c|: 64 ulps below the rms of their
// frame, their phase was already uncertain. python/specsep/_reference/phase.py computes the same.
#pragma once
#include "complex.hpp"

namespace specsep {

// The smallest normal number: keeps c / |c| finite where c is exactly zero.
template <typename T> SPECSEP_HD SPECSEP_INLINE T tiny_normal();
template <> SPECSEP_HD SPECSEP_INLINE float tiny_normal<float>() { return 1.17549435082228750797e-38f; }
template <> SPECSEP_HD SPECSEP_INLINE double tiny_normal<double>() { return 2.22507385850720138309e-308; }

template <typename T> SPECSEP_HD SPECSEP_INLINE T epsilon();
template <> SPECSEP_HD SPECSEP_INLINE float epsilon<float>() { return 1.1920928955078125e-07f; }
template <> SPECSEP_HD SPECSEP_INLINE double epsilon<double>() { return 2.220446049250313080847e-16; }

// Where |c| is at most this, c is rounding noise (Note [vanishing bins]); l2: the frame's norm
// sqrt(sum_j (w_j x_j)^2) times the transform's scale; eps: the data's machine epsilon.
template <typename T, typename V>
SPECSEP_HD SPECSEP_INLINE V noise_floor(V l2, T alpha, T eps) {
  return splat<V>(T(64) * eps * (T(1) + alpha)) * l2;
}

template <typename V>
SPECSEP_HD SPECSEP_INLINE V modulus(cplx<V> c) {
  return sqrt(c.re * c.re + c.im * c.im);
}

// c / |c|, and 1 where |c| <= floor; T is the scalar type of V's lanes.
template <typename T, typename V>
SPECSEP_HD SPECSEP_INLINE cplx<V> unit_phase(cplx<V> c, V floor) {
  const V m = modulus(c);
  const V inv = splat<V>(T(1)) / (m + splat<V>(tiny_normal<T>()));
  const auto above = m > floor;  // lane-wise for GCC vectors
  return {above ? c.re * inv : splat<V>(T(1)), above ? c.im * inv : splat<V>(T(0))};
}

template <typename V, typename T>
SPECSEP_HD SPECSEP_INLINE cplx<V> accelerated_phase(cplx<V> rebuilt, cplx<V> previous, T alpha, V floor) {
  const V a = splat<V>(alpha);
  return unit_phase<T>(cplx<V>{rebuilt.re - a * previous.re, rebuilt.im - a * previous.im}, floor);
}

}  // namespace specsep
