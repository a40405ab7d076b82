// Phase retrieval's state loaded into its lane layout (PhaseState, io.hpp): the target magnitudes,
// float32 or float64, as T; the initial angles, given as unit-modulus angles or as turns u meaning
// exp(2 pi i u). init="random" hands the uniform draws u over instead of their angles: NumPy's
// complex exp on one thread took as long as a third of W4's iterations.
#pragma once
#include "drivers.hpp"
#include "io.hpp"
#include "thread_pool.hpp"

namespace specsep {

// exp(2 pi i u) lane-wise, for u in [0, 1). The quarter turn q = round(4u) is split off exactly
// (u - q/4 needs no rounding), which leaves |x| <= pi/4 for Taylor polynomials of sin and cos
// accurate to about an ulp; q then picks the quadrant.
template <typename T>
cplx<typename Lanes<T>::type> unit_turns(typename Lanes<T>::type u) {
  using V = typename Lanes<T>::type;
  using I = typename Lanes<T>::index;
  const I q = __builtin_convertvector(u * splat<V>(T(4)) + splat<V>(T(0.5)), I);
  const V x = (u - __builtin_convertvector(q, V) * splat<V>(T(0.25))) * splat<V>(T(6.283185307179586476925));
  const V x2 = x * x;
  V s = splat<V>(T(-1.0 / 1307674368000.0)), c = splat<V>(T(1.0 / 20922789888000.0));
  for (T k : {T(6227020800.0), T(-39916800.0), T(362880.0), T(-5040.0), T(120.0), T(-6.0), T(1.0)})
    s = s * x2 + splat<V>(T(1) / k);
  for (T k : {T(-87178291200.0), T(479001600.0), T(-3628800.0), T(40320.0), T(-720.0), T(24.0), T(-2.0), T(1.0)})
    c = c * x2 + splat<V>(T(1) / k);
  s = s * x;
  const I one = q & 1, zero = one - one;
  const V re = one != zero ? s : c, im = one != zero ? c : s;
  return {((q + 1) & 2) != zero ? -re : re, (q & 2) != zero ? -im : im};
}

template <typename T>
struct GivenAngles {  // angles(i, t, f), unit modulus
  View3<const cplx<T>> angles;
  void load(index_t i, index_t t, int count, index_t n_bins, cplx<typename Lanes<T>::type>* dst, const LaneWorkspace<T>&) const {
    gather_frames(angles, i, t, count, n_bins, dst);
  }
};

template <typename T>
struct AnglesOfTurns {  // exp(2 pi i turns(i, t, f))
  View3<const T> turns;
  void load(index_t i, index_t t, int count, index_t n_bins, cplx<typename Lanes<T>::type>* dst,
            const LaneWorkspace<T>& ws) const {
    gather_frames(turns, i, t, count, n_bins, ws.real);
    for (index_t k = 0; k < n_bins; ++k) dst[k] = unit_turns<T>(ws.real[k]);
  }
};

// The lanes of frames t .. t + L - 1 of signal i, bins [0, n_freqs), for every group of every signal,
// split over the pool. load(i, t, count, lanes) fills one group (lanes past count: frame t + count - 1).
template <typename T, typename Load>
void for_each_group(index_t signals, const PhaseState<T>& state, const Load& load) {
  constexpr int L = Lanes<T>::count;
  parallel_for(signals * state.groups, [&](std::ptrdiff_t task) {
    const index_t i = static_cast<index_t>(task / state.groups), t = static_cast<index_t>(task % state.groups) * L;
    load(i, t, static_cast<int>(std::min<index_t>(L, state.n_frames - t)));
  });
}

template <typename T, typename Init>
void load_initial_angles(const CpuPlan<T>& plan, const PhaseState<T>& state, index_t signals, const Init& init) {
  for_each_group(signals, state, [&](index_t i, index_t t, int count) {
    init.load(i, t, count, state.n_freqs, state.angles(i, t), Scratch<T>::local(plan.n_fft, plan.fft.view().scratch())->workspace());
  });
}

// magnitude(i, t, f) of S in float32 or float64 (E), as T.
template <typename T, typename E>
void load_magnitudes(const PhaseState<T>& state, index_t signals, View3<const E> magnitude) {
  constexpr int L = Lanes<T>::count;
  for_each_group(signals, state, [&](index_t i, index_t t, int count) {
    typename Lanes<T>::type* lanes = state.magnitudes(i, t);
    for (index_t f = 0; f < state.n_freqs; ++f)
      for (int l = 0; l < L; ++l) lanes[f][l] = T(magnitude(i, t + std::min(l, count - 1), f));
  });
}

}  // namespace specsep
