// The maths of phase retrieval, written once for every backend (the CPU driver cpp/cpu/phase.hpp,
// the CUDA kernels and so the emulator; python/specsep/_reference/phase.py writes it plainly):
// the fast Griffin-Lim update, the spectral convergence and per-item stopping rule, and MISI's
// distribution of the mixture error over the sources.
//
// The phase update of fast Griffin-Lim (Perraudin et al. 2013), as librosa and torchaudio write it:
// c = rebuilt - alpha * rebuilt_prev with alpha = momentum / (1 + momentum), new angle c / |c|.
// Every backend forms c as the STFT of x_k - alpha * x_(k-1) (Note [momentum by linearity]).
// V is a scalar or a vector of lanes (then a lane-wise sqrt overload must be declared first).
//
// Note [momentum by linearity]: c = STFT(x_k) - alpha * STFT(x_(k-1)) from the signals x of
// iterations k and k - 1 (librosa keeps the previous rebuilt spectrum). The STFT is linear (its
// centre padding too), so c = STFT(x_k - alpha * x_(k-1)): one transform of the combined signal,
// formed as the frames are loaded, and the state is the previous signal (about 2 B per bin at hop
// = n_fft / 4 in float64) instead of a previous spectrum (16 B per bin, read and written every
// iteration: the iteration is bound by memory traffic). The two forms differ by rounding of the
// order of the transforms' own. The rebuilt spectrum STFT(x_k) itself is computed only for the
// spectral convergence.
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

// x_k - alpha * x_(k-1) at a sample or lanes of samples (Note [momentum by linearity]).
template <typename V, typename T>
SPECSEP_HD SPECSEP_INLINE V extrapolated(V current, V previous, T alpha) {
  return current - splat<V>(alpha) * previous;
}

// The spectral convergence || |rebuilt| - S || / ||S|| of an item from its summed squared
// magnitude error and ||S|| (0 where S is all zeros).
SPECSEP_HD SPECSEP_INLINE double spectral_convergence(double error, double norm) {
  return sqrt(error) / (norm > tiny_normal<double>() ? norm : tiny_normal<double>());
}

// Per-item stopping on tol (tol >= 0; < 0: none): an item stops after the iteration whose relative
// improvement of the spectral convergence over the previous one (< 0: none, the first iteration
// never stops an item) falls under tol. It keeps that iteration's update.
SPECSEP_HD SPECSEP_INLINE bool keeps_iterating(double previous, double sc, double tol) {
  if (tol < 0 || previous < 0) return true;
  const double scale = previous > tiny_normal<double>() ? previous : tiny_normal<double>();
  return (previous - sc) / scale >= tol;  // false for NaN
}

// MISI at sample s of one item's sources (rows of `length` samples): source j takes weights[j] of
// the mixture error, so that the sources sum to the mixture.
template <typename T>
SPECSEP_HD SPECSEP_INLINE void distribute_error(T* item, index_t length, index_t s, T mixture, const T* weights,
                                                index_t sources) {
  T sum = T(0);
  for (index_t j = 0; j < sources; ++j) sum += item[j * length + s];
  const T error = mixture - sum;
  for (index_t j = 0; j < sources; ++j) item[j * length + s] += weights[j] * error;
}

}  // namespace specsep
