// Ideal ratio masks M_j = w_j / sum_k w_k, w_j = |S_j|^p, over the source axis of S (the
// definition: specsep/_reference/masks.py). Elementwise work is memory-bound, so it runs in S's
// memory order whatever the layout: rows along the innermost axis other than the sources', each
// row's J weights written to M and summed in a small buffer, then divided there while cached.
// NumPy's slice-by-slice sum over sources runs ~3x slower where the batch axes are innermost
// (librosa's layout: rows of a few elements per ufunc loop); here a row of any length costs the
// same per element.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "plan.hpp"
#include "thread_pool.hpp"

namespace specsep {

// One axis of S and M (the same shape): its length and both strides, in elements.
struct MaskAxis {
  index_t size;
  std::ptrdiff_t s, m;
};

enum class MaskPower { one, two, other };

// |x|^p of a real or complex element, as the reference computes it (|x| then the power; p = 2 as
// re^2 + im^2, one rounding fewer than hypot(re, im)^2).
template <MaskPower P, typename T>
T mask_weight(T x, T p) {
  if constexpr (P == MaskPower::two) return x * x;
  if constexpr (P == MaskPower::one) return std::abs(x);
  return std::pow(std::abs(x), p);
}

template <MaskPower P, typename T>
T mask_weight(cplx<T> x, T p) {
  if constexpr (P == MaskPower::two) return x.re * x.re + x.im * x.im;
  if constexpr (P == MaskPower::one) return std::hypot(x.re, x.im);
  return std::pow(std::hypot(x.re, x.im), p);
}

// One row: n elements `row` apart, for each of the sources (`source` apart). Unit: both steps 1
// (a separate instantiation, so that the compiler vectorises it).
template <MaskPower P, bool Unit, typename T, typename E>
void ratio_row(const E* s, T* m, const MaskAxis& row, const MaskAxis& source, T p) {
  constexpr index_t kBlock = 256;
  T total[kBlock];
  const std::ptrdiff_t ss = Unit ? 1 : row.s, ms = Unit ? 1 : row.m;
  const T share = T(1.0 / double(source.size));  // silent bins (the reference's 1 / J)
  for (index_t i0 = 0; i0 < row.size; i0 += kBlock) {
    const index_t n = std::min(kBlock, row.size - i0);
    const E* s0 = s + i0 * ss;
    T* m0 = m + i0 * ms;
    for (index_t i = 0; i < n; ++i) total[i] = m0[i * ms] = mask_weight<P>(s0[i * ss], p);
    for (index_t j = 1; j < source.size; ++j) {  // sources in order: the reference's sum
      const E* sj = s0 + j * source.s;
      T* mj = m0 + j * source.m;
      for (index_t i = 0; i < n; ++i) total[i] += mj[i * ms] = mask_weight<P>(sj[i * ss], p);
    }
    for (index_t j = 0; j < source.size; ++j) {
      T* mj = m0 + j * source.m;
      for (index_t i = 0; i < n; ++i) mj[i * ms] = total[i] > T(0) ? mj[i * ms] / total[i] : share;
    }
  }
}

// M from S: `outer` the other axes (outermost first), `row` the innermost, `source` the sources'.
// The rows are split over the threads in runs of consecutive rows (an odometer over `outer`).
template <MaskPower P, typename T, typename E>
void ratio_masks(const E* S, T* M, const std::vector<MaskAxis>& outer, const MaskAxis& row, const MaskAxis& source,
                 T p) {
  index_t rows = 1;
  for (const MaskAxis& a : outer) rows *= a.size;
  const index_t per_task = std::max<index_t>(1, (index_t(1) << 16) / std::max<index_t>(1, row.size * source.size));
  const bool unit = row.s == 1 && row.m == 1;
  parallel_for((rows + per_task - 1) / per_task, [&](std::ptrdiff_t task) {
    const index_t r0 = static_cast<index_t>(task) * per_task, r1 = std::min(rows, r0 + per_task);
    std::vector<index_t> index(outer.size());
    std::ptrdiff_t so = 0, mo = 0;
    for (index_t k = static_cast<index_t>(outer.size()) - 1, r = r0; k >= 0; --k) {
      index[k] = r % outer[k].size;
      r /= outer[k].size;
      so += index[k] * outer[k].s;
      mo += index[k] * outer[k].m;
    }
    for (index_t r = r0; r < r1; ++r) {
      if (unit)
        ratio_row<P, true>(S + so, M + mo, row, source, p);
      else
        ratio_row<P, false>(S + so, M + mo, row, source, p);
      for (index_t k = static_cast<index_t>(outer.size()) - 1; k >= 0; --k) {  // the last axis fastest
        so += outer[k].s, mo += outer[k].m;
        if (++index[k] < outer[k].size) break;
        so -= outer[k].size * outer[k].s, mo -= outer[k].size * outer[k].m;
        index[k] = 0;
      }
    }
  });
}

}  // namespace specsep
