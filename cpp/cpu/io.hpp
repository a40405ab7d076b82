// What the drivers read and write per group of L frames (lane l = frame t + l). Sinks take the
// spectra of frames t .. t + count - 1, whole or bin by bin (per_bin); sources pack bins
// 0 .. n_bins - 1 of those frames into lanes, or hold them in lanes already (lane_aligned), or,
// where their items lie one element apart (by_items), pack frame t of groups of L items, one
// spectrum per group (fill_items). Lanes past `count` repeat the last frame and are never written
// anywhere.
#pragma once
#include <cmath>
#include <memory>
#include <type_traits>

#include "plan.hpp"
#include "simd.hpp"
#include "specsep/phase.hpp"

namespace specsep {

// Bins [0, n_bins) of L spectra into lanes: spectrum l starts at row[l], its bins `step` elements
// apart. Rows of unit bin step go through register transposes; spectra one element apart
// (`unit_lanes`: consecutive frames of a time-major view, or consecutive items of librosa's layout)
// are one vector load per bin; anything else is gathered element by element.
template <typename T>
void gather_complex_lanes(const cplx<T>* const* row, std::ptrdiff_t step, bool unit_lanes, index_t n_bins,
                          cplx<typename Lanes<T>::type>* dst) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  index_t k0 = 0;
  if (step == 1) {
    V re[L], im[L];
    for (; k0 + L <= n_bins; k0 += L) {
      for (int l = 0; l < L; ++l)
        deinterleave(load_unaligned<V>(row[l] + k0), load_unaligned<V>(row[l] + k0 + L / 2), re[l], im[l]);
      transpose(re);
      transpose(im);
      for (int k = 0; k < L; ++k) dst[k0 + k] = {re[k], im[k]};
    }
  } else if (unit_lanes) {
    for (; k0 < n_bins; ++k0) {
      const cplx<T>* lanes = row[0] + k0 * step;
      deinterleave(load_unaligned<V>(lanes), load_unaligned<V>(lanes + L / 2), dst[k0].re, dst[k0].im);
    }
  }
  for (; k0 < n_bins; ++k0)
    for (int l = 0; l < L; ++l) {
      const cplx<T> x = row[l][k0 * step];
      dst[k0].re[l] = x.re;
      dst[k0].im[l] = x.im;
    }
}

// The same for real spectra (magnitudes, masks).
template <typename T>
void gather_real_lanes(const T* const* row, std::ptrdiff_t step, bool unit_lanes, index_t n_bins,
                       typename Lanes<T>::type* dst) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  index_t k0 = 0;
  if (step == 1) {
    V r[L];
    for (; k0 + L <= n_bins; k0 += L) {
      for (int l = 0; l < L; ++l) r[l] = load_unaligned<V>(row[l] + k0);
      transpose(r);
      for (int k = 0; k < L; ++k) dst[k0 + k] = r[k];
    }
  } else if (unit_lanes) {
    for (; k0 < n_bins; ++k0) dst[k0] = load_unaligned<V>(row[0] + k0 * step);
  }
  for (; k0 < n_bins; ++k0)
    for (int l = 0; l < L; ++l) dst[k0][l] = row[l][k0 * step];
}

// The real type of a view's elements: T for T and cplx<T>.
template <typename E>
struct RealOf {
  using type = E;
};
template <typename T>
struct RealOf<cplx<T>> {
  using type = T;
};
template <typename E>
using real_of_t = typename RealOf<E>::type;

// Two ways to fill L lanes from a view, bins [0, n_bins): frames t .. t + count - 1 of item b
// (frame lanes, the drivers' own), or frame t of items b .. b + count - 1 (item lanes, for layouts
// whose item axis is the unit-stride one). Lanes past count repeat the last spectrum.
template <typename E>
struct LaneRows {
  const E* row[Lanes<real_of_t<E>>::count];
  bool unit_lanes;
};

template <typename E>
LaneRows<E> lanes_of_frames(const View3<const E>& X, index_t b, index_t t, int count) {
  constexpr int L = Lanes<real_of_t<E>>::count;
  LaneRows<E> r;
  for (int l = 0; l < L; ++l) r.row[l] = &X(b, t + (l < count ? l : count - 1), 0);
  r.unit_lanes = count == L && X.s1 == 1;
  return r;
}

template <typename E>
LaneRows<E> lanes_of_items(const View3<const E>& X, index_t b, index_t t, int count) {
  constexpr int L = Lanes<real_of_t<E>>::count;
  LaneRows<E> r;
  for (int l = 0; l < L; ++l) r.row[l] = &X(b + (l < count ? l : count - 1), t, 0);
  r.unit_lanes = count == L && X.unit_items(b, count);
  return r;
}

template <typename T>
void gather(const LaneRows<cplx<T>>& r, std::ptrdiff_t step, index_t n_bins, cplx<typename Lanes<T>::type>* dst) {
  gather_complex_lanes(r.row, step, r.unit_lanes, n_bins, dst);
}

template <typename T>
void gather(const LaneRows<T>& r, std::ptrdiff_t step, index_t n_bins, typename Lanes<T>::type* dst) {
  gather_real_lanes(r.row, step, r.unit_lanes, n_bins, dst);
}

// Frame lanes of a complex or real view, as most sources read them.
template <typename E, typename D>
void gather_frames(const View3<const E>& X, index_t b, index_t t, int count, index_t n_bins, D* dst) {
  gather(lanes_of_frames(X, b, t, count), X.s2, n_bins, dst);
}

// Spectra of `count` frames (lanes) as rows: row(l)[f] for f < n_bins.
template <typename T, typename Row>
void scatter_complex(const cplx<typename Lanes<T>::type>* spectrum, int count, index_t n_bins, const Row& row) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  index_t f0 = 0;
  V re[L], im[L], pair[2];
  for (; f0 + L <= n_bins; f0 += L) {
    for (int i = 0; i < L; ++i) {
      re[i] = spectrum[f0 + i].re;
      im[i] = spectrum[f0 + i].im;
    }
    transpose(re);
    transpose(im);
    for (int l = 0; l < count; ++l) {
      interleave(re[l], im[l], pair);
      cplx<T>* out = row(l) + f0;
      store_unaligned(out, pair[0]);
      store_unaligned(out + L / 2, pair[1]);
    }
  }
  for (; f0 < n_bins; ++f0)
    for (int l = 0; l < count; ++l) row(l)[f0] = {spectrum[f0].re[l], spectrum[f0].im[l]};
}

// Per-thread lane buffers a sink or source may use, n_bins entries each.
template <typename T>
struct LaneWorkspace {
  typename Lanes<T>::type* real;
  cplx<typename Lanes<T>::type>* complex;
};

template <typename T>
struct SpectrumWriter {  // out(b, t, f), contiguous (batch, frames, freqs)
  static constexpr bool per_bin = false;
  cplx<T>* out;
  index_t n_frames, n_freqs;
  void operator()(index_t b, index_t t, int count, const cplx<typename Lanes<T>::type>* spectrum,
                  const LaneWorkspace<T>&) const {
    scatter_complex<T>(spectrum, count, n_freqs, [&](int l) { return out + (b * n_frames + t + l) * n_freqs; });
  }
};

// Whether a source reads items b .. b + count - 1 of X as lanes (frame t of each) rather than
// frames as lanes: whole groups of L items, all one element apart, where neither frames nor bins
// are (librosa's layout). Each lane's arithmetic is the same either way: the same bits.
template <typename E>
bool reads_items(const View3<const E>& X, index_t b, int count) {
  return count > 0 && count % Lanes<real_of_t<E>>::count == 0 && X.s1 != 1 && X.s2 != 1 && X.unit_items(b, count);
}

// Frame t of the items b .. b + groups * L - 1 (reads_items: per bin, one contiguous run) into
// the lane spectra dst[g] of each group of L, in one pass over the frame's bins in memory order:
// one strided pass per group would read each cache line of the run `groups` times.
template <typename T>
void gather_item_groups(const View3<const cplx<T>>& X, index_t b, index_t t, int groups, index_t n_bins,
                        cplx<typename Lanes<T>::type>* const* dst) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  const cplx<T>* bin = &X(b, t, 0);
  for (index_t k = 0; k < n_bins; ++k, bin += X.s2)
    for (int g = 0; g < groups; ++g)
      deinterleave(load_unaligned<V>(bin + g * L), load_unaligned<V>(bin + g * L + L / 2), dst[g][k].re, dst[g][k].im);
}

// dst[g][k] times the real lanes of M at the same items and frame, in the same pass order.
template <typename T>
void scale_item_groups(const View3<const T>& M, index_t b, index_t t, int groups, index_t n_bins,
                       cplx<typename Lanes<T>::type>* const* dst) {
  using V = typename Lanes<T>::type;
  constexpr int L = Lanes<T>::count;
  const T* bin = &M(b, t, 0);
  for (index_t k = 0; k < n_bins; ++k, bin += M.s2)
    for (int g = 0; g < groups; ++g) dst[g][k] = scale(dst[g][k], load_unaligned<V>(bin + g * L));
}

template <typename T>
struct SpectrumReader {  // X(b, t, f), any strides
  static constexpr bool lane_aligned = false;
  View3<const cplx<T>> X;
  bool by_items(index_t b, int count) const { return reads_items(X, b, count); }
  void fill(index_t b, index_t t, int count, index_t n_bins, cplx<typename Lanes<T>::type>* dst,
            const LaneWorkspace<T>&) const {
    gather_frames(X, b, t, count, n_bins, dst);
  }
  void fill_items(index_t b, index_t t, int groups, index_t n_bins, cplx<typename Lanes<T>::type>* const* dst) const {
    gather_item_groups(X, b, t, groups, n_bins, dst);
  }
};

template <typename T>
struct MaskedMixture {  // mixture(i, t, f) * mask(i, t, f): the mixture view repeats an item per source
  static constexpr bool lane_aligned = false;
  View3<const cplx<T>> mixture;
  View3<const T> mask;
  bool by_items(index_t i, int count) const { return reads_items(mask, i, count); }
  void fill(index_t i, index_t t, int count, index_t n_bins, cplx<typename Lanes<T>::type>* dst,
            const LaneWorkspace<T>& ws) const {
    gather_frames(mixture, i, t, count, n_bins, dst);
    gather_frames(mask, i, t, count, n_bins, ws.real);
    for (index_t k = 0; k < n_bins; ++k) dst[k] = scale(dst[k], ws.real[k]);
  }
  void fill_items(index_t i, index_t t, int groups, index_t n_bins, cplx<typename Lanes<T>::type>* const* dst) const {
    constexpr int L = Lanes<T>::count;
    for (int g = 0; g < groups; ++g) gather(lanes_of_items(mixture, i + g * L, t, L), mixture.s2, n_bins, dst[g]);
    scale_item_groups(mask, i, t, groups, n_bins, dst);
  }
};

// Phase retrieval state in the drivers' own lane layout: group g of signal i holds frames
// g * L .. g * L + L - 1 as n_freqs lane vectors of magnitudes and of angles, so the iSTFT's source
// and the STFT's update read and write them without transposes (the drivers visit frames in groups
// aligned to L: every source here is `lane_aligned`). The lanes past the last frame hold copies of
// it, as the drivers compute them. Filled by load_state.hpp.
template <typename T>
class PhaseState {
 public:
  using V = typename Lanes<T>::type;
  static constexpr int L = Lanes<T>::count;
  PhaseState(index_t signals, index_t n_frames, index_t n_freqs)
      : n_frames(n_frames), n_freqs(n_freqs), groups((n_frames + L - 1) / L),
        magnitudes_(new V[static_cast<size_t>(signals * groups * n_freqs)]),
        angles_(new cplx<V>[static_cast<size_t>(signals * groups * n_freqs)]) {}
  V* magnitudes(index_t i, index_t t) const { return magnitudes_.get() + offset(i, t); }
  cplx<V>* angles(index_t i, index_t t) const { return angles_.get() + offset(i, t); }
  const index_t n_frames, n_freqs, groups;

 private:
  index_t offset(index_t i, index_t t) const { return (i * groups + t / L) * n_freqs; }
  std::unique_ptr<V[]> magnitudes_;
  std::unique_ptr<cplx<V>[]> angles_;
};

template <typename T>
struct MagnitudeTimesAngles {  // magnitude(i, t, f) * angles(i, t, f), read in place
  using V = typename Lanes<T>::type;
  static constexpr bool lane_aligned = true;
  struct Bins {
    const V* magnitudes;
    const cplx<V>* angles;
    cplx<V> operator[](index_t f) const { return scale(angles[f], magnitudes[f]); }
  };
  const PhaseState<T>& state;
  Bins bins(index_t i, index_t t) const { return {state.magnitudes(i, t), state.angles(i, t)}; }
};

// The new angles c / |c| of the fast Griffin-Lim update (specsep/phase.hpp), from the STFT c of
// x_k - alpha * x_(k-1) (Note [momentum by linearity] there), bin by bin as the transform makes
// them. Items not `active` keep theirs.
template <typename T>
struct PhaseUpdate {
  using V = typename Lanes<T>::type;
  static constexpr bool per_bin = true;
  const PhaseState<T>& state;
  const char* active;  // per item (signal i belongs to item i / sources)
  index_t sources;
  T alpha;
  T epsilon;  // of the data's precision (Note [vanishing bins])
  // The squared norm that sets the noise floor (Note [vanishing bins]): the sum of energy(j), per
  // lane sum_n (w_n x_n)^2 of the frames of signal j, over the signals of item i / sources (MISI
  // corrects every source by the mixture error, so each carries noise at the item's scale).
  template <typename Energy>
  V frame_energy(index_t i, const Energy& energy) const {
    V sum = V();
    for (index_t j = i - i % sources; j < i - i % sources + sources; ++j) sum += energy(j);
    return sum;
  }
  auto bins(index_t i, index_t t, V l2) const {
    cplx<V>* angles = active[i / sources] ? state.angles(i, t) : nullptr;
    const V floor = noise_floor(l2, alpha, epsilon);
    return [angles, floor](index_t f, cplx<V> c) {
      if (angles) angles[f] = unit_phase<T>(c, floor);
    };
  }
};

// Each frame's squared magnitude error sum_f (|rebuilt| - magnitude)^2, for the spectral convergence.
template <typename T>
struct MagnitudeError {
  static constexpr bool per_bin = false;
  const PhaseState<T>& state;
  double* frame_error;  // (signal, frames)
  void operator()(index_t i, index_t t, int count, const cplx<typename Lanes<T>::type>* rebuilt,
                  const LaneWorkspace<T>&) const {
    using V = typename Lanes<T>::type;
    const V* magnitude = state.magnitudes(i, t);
    V error = V();
    for (index_t f = 0; f < state.n_freqs; ++f) {
      const V d = modulus(rebuilt[f]) - magnitude[f];
      error += d * d;
    }
    for (int l = 0; l < count; ++l) frame_error[i * state.n_frames + t + l] = double(error[l]);
  }
};

}  // namespace specsep
