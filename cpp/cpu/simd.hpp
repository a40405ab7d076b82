// Frame lanes: the CPU drivers transform several frames at once, one per lane of a GCC vector
// (structure of arrays: cplx<Lanes<T>::type> holds sample j of every frame in the group). The
// width is fixed at 32 bytes for every instruction set, so results do not depend on which one
// the CPU has (contraction into FMA is off: -std=c++17 implies -ffp-contract=off).
//
// Moving between lanes and rows (a frame's samples or bins, contiguous in memory) goes through
// L x L transposes of registers instead of scalar inserts and extracts.
#pragma once
#include <cstring>

namespace specsep {

template <typename T>
struct Lanes;
template <>
struct Lanes<float> {
  typedef float type __attribute__((vector_size(32)));
  typedef int index __attribute__((vector_size(32)));
  static constexpr int count = 8;
};
template <>
struct Lanes<double> {
  typedef double type __attribute__((vector_size(32)));
  typedef long long index __attribute__((vector_size(32)));
  static constexpr int count = 4;
};

template <typename V>
inline V load_unaligned(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <typename V>
inline void store_unaligned(void* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

// Lane-wise square roots (vectorised by the compiler; -fno-math-errno lets it).
inline Lanes<float>::type sqrt(Lanes<float>::type v) {
  for (int l = 0; l < Lanes<float>::count; ++l) v[l] = __builtin_sqrtf(v[l]);
  return v;
}
inline Lanes<double>::type sqrt(Lanes<double>::type v) {
  for (int l = 0; l < Lanes<double>::count; ++l) v[l] = __builtin_sqrt(v[l]);
  return v;
}

// In-place transpose of m[0..L): afterwards m[i][k] is the old m[k][i]. Stage h pairs rows i and
// i + h and swaps their h-blocks (the classic log2(L)-stage butterfly transpose).
inline void transpose(Lanes<float>::type* m) {
  using I = Lanes<float>::index;
  const I lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
  const I lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
  const I lo1 = {0, 8, 2, 10, 4, 12, 6, 14}, hi1 = {1, 9, 3, 11, 5, 13, 7, 15};
  const I* lo[3] = {&lo4, &lo2, &lo1};
  const I* hi[3] = {&hi4, &hi2, &hi1};
  for (int s = 0, h = 4; s < 3; ++s, h /= 2)
    for (int i = 0; i < 8; ++i)
      if ((i & h) == 0) {
        const Lanes<float>::type a = m[i], b = m[i + h];
        m[i] = __builtin_shuffle(a, b, *lo[s]);
        m[i + h] = __builtin_shuffle(a, b, *hi[s]);
      }
}

inline void transpose(Lanes<double>::type* m) {
  using I = Lanes<double>::index;
  const I lo2 = {0, 1, 4, 5}, hi2 = {2, 3, 6, 7};
  const I lo1 = {0, 4, 2, 6}, hi1 = {1, 5, 3, 7};
  const I* lo[2] = {&lo2, &lo1};
  const I* hi[2] = {&hi2, &hi1};
  for (int s = 0, h = 2; s < 2; ++s, h /= 2)
    for (int i = 0; i < 4; ++i)
      if ((i & h) == 0) {
        const Lanes<double>::type a = m[i], b = m[i + h];
        m[i] = __builtin_shuffle(a, b, *lo[s]);
        m[i + h] = __builtin_shuffle(a, b, *hi[s]);
      }
}

// Complex row <-> (re, im) lanes: out[0..2L) = re0 im0 re1 im1 ... as two vectors, and back.
inline void interleave(Lanes<float>::type re, Lanes<float>::type im, Lanes<float>::type* out) {
  using I = Lanes<float>::index;
  out[0] = __builtin_shuffle(re, im, I{0, 8, 1, 9, 2, 10, 3, 11});
  out[1] = __builtin_shuffle(re, im, I{4, 12, 5, 13, 6, 14, 7, 15});
}
inline void interleave(Lanes<double>::type re, Lanes<double>::type im, Lanes<double>::type* out) {
  using I = Lanes<double>::index;
  out[0] = __builtin_shuffle(re, im, I{0, 4, 1, 5});
  out[1] = __builtin_shuffle(re, im, I{2, 6, 3, 7});
}
inline void deinterleave(Lanes<float>::type lo, Lanes<float>::type hi, Lanes<float>::type& re,
                         Lanes<float>::type& im) {
  using I = Lanes<float>::index;
  re = __builtin_shuffle(lo, hi, I{0, 2, 4, 6, 8, 10, 12, 14});
  im = __builtin_shuffle(lo, hi, I{1, 3, 5, 7, 9, 11, 13, 15});
}
inline void deinterleave(Lanes<double>::type lo, Lanes<double>::type hi, Lanes<double>::type& re,
                         Lanes<double>::type& im) {
  using I = Lanes<double>::index;
  re = __builtin_shuffle(lo, hi, I{0, 2, 4, 6});
  im = __builtin_shuffle(lo, hi, I{1, 3, 5, 7});
}

}  // namespace specsep
