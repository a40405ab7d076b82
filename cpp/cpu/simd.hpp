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

// In-place transpose of m[0..L): afterwards m[i][k] is the old m[k][i]. Interleave: a complex row
// out[0..2L) = re0 im0 re1 im1 ... as two vectors from (re, im) lanes; deinterleave: back.
//
// Where the ISA has 32-byte registers (AVX) these are 32-byte shuffles. Elsewhere (SSE2, NEON)
// g++ lowers a 32-byte shuffle to one scalar move per lane through the stack, so there the same
// permutations are written on 16-byte halves, which map to the ISA's own shuffles. Either way the
// result is the same data movement: the same bits.
#if defined(__AVX__)
inline void transpose(Lanes<float>::type* m) {
  using I = Lanes<float>::index;
  const I lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
  const I lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
  const I lo1 = {0, 8, 2, 10, 4, 12, 6, 14}, hi1 = {1, 9, 3, 11, 5, 13, 7, 15};
  const I* lo[3] = {&lo4, &lo2, &lo1};
  const I* hi[3] = {&hi4, &hi2, &hi1};
  for (int s = 0, h = 4; s < 3; ++s, h /= 2)  // stage h swaps the h-blocks of rows i and i + h
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
#else
template <typename T>
struct Half;  // one 16-byte half of a lane vector, and the index vector of its shuffles
template <>
struct Half<float> {
  typedef float type __attribute__((vector_size(16)));
  typedef int index __attribute__((vector_size(16)));
};
template <>
struct Half<double> {
  typedef double type __attribute__((vector_size(16)));
  typedef long long index __attribute__((vector_size(16)));
};

// A lane vector as its two halves and back (register moves: the vector lives in two registers).
template <typename T>
struct Halves {
  typename Half<T>::type lo, hi;
};
template <typename T>
inline Halves<T> split(typename Lanes<T>::type v) {
  Halves<T> h;
  std::memcpy(&h, &v, sizeof v);
  return h;
}
template <typename T>
inline typename Lanes<T>::type join(typename Half<T>::type lo, typename Half<T>::type hi) {
  const Halves<T> h{lo, hi};
  typename Lanes<T>::type v;
  std::memcpy(&v, &h, sizeof v);
  return v;
}

inline void transpose4(Half<float>::type& a, Half<float>::type& b, Half<float>::type& c, Half<float>::type& d) {
  using I = Half<float>::index;
  const Half<float>::type t0 = __builtin_shuffle(a, b, I{0, 4, 1, 5}), t1 = __builtin_shuffle(a, b, I{2, 6, 3, 7});
  const Half<float>::type t2 = __builtin_shuffle(c, d, I{0, 4, 1, 5}), t3 = __builtin_shuffle(c, d, I{2, 6, 3, 7});
  a = __builtin_shuffle(t0, t2, I{0, 1, 4, 5});
  b = __builtin_shuffle(t0, t2, I{2, 3, 6, 7});
  c = __builtin_shuffle(t1, t3, I{0, 1, 4, 5});
  d = __builtin_shuffle(t1, t3, I{2, 3, 6, 7});
}

inline void transpose2(Half<double>::type& a, Half<double>::type& b) {
  using I = Half<double>::index;
  const Half<double>::type t = __builtin_shuffle(a, b, I{0, 2});
  b = __builtin_shuffle(a, b, I{1, 3});
  a = t;
}

// Blockwise: transpose the four 4x4 (float) or 2x2 (double) blocks, then swap the off-diagonal ones.
inline void transpose(Lanes<float>::type* m) {
  Half<float>::type lo[8], hi[8];
  for (int i = 0; i < 8; ++i) {
    const Halves<float> h = split<float>(m[i]);
    lo[i] = h.lo;
    hi[i] = h.hi;
  }
  transpose4(lo[0], lo[1], lo[2], lo[3]);
  transpose4(lo[4], lo[5], lo[6], lo[7]);
  transpose4(hi[0], hi[1], hi[2], hi[3]);
  transpose4(hi[4], hi[5], hi[6], hi[7]);
  for (int i = 0; i < 4; ++i) {
    m[i] = join<float>(lo[i], lo[i + 4]);
    m[i + 4] = join<float>(hi[i], hi[i + 4]);
  }
}

inline void transpose(Lanes<double>::type* m) {
  Half<double>::type lo[4], hi[4];
  for (int i = 0; i < 4; ++i) {
    const Halves<double> h = split<double>(m[i]);
    lo[i] = h.lo;
    hi[i] = h.hi;
  }
  transpose2(lo[0], lo[1]);
  transpose2(lo[2], lo[3]);
  transpose2(hi[0], hi[1]);
  transpose2(hi[2], hi[3]);
  for (int i = 0; i < 2; ++i) {
    m[i] = join<double>(lo[i], lo[i + 2]);
    m[i + 2] = join<double>(hi[i], hi[i + 2]);
  }
}

inline void interleave(Lanes<float>::type re, Lanes<float>::type im, Lanes<float>::type* out) {
  using I = Half<float>::index;
  const Halves<float> r = split<float>(re), i = split<float>(im);
  out[0] = join<float>(__builtin_shuffle(r.lo, i.lo, I{0, 4, 1, 5}), __builtin_shuffle(r.lo, i.lo, I{2, 6, 3, 7}));
  out[1] = join<float>(__builtin_shuffle(r.hi, i.hi, I{0, 4, 1, 5}), __builtin_shuffle(r.hi, i.hi, I{2, 6, 3, 7}));
}
inline void interleave(Lanes<double>::type re, Lanes<double>::type im, Lanes<double>::type* out) {
  using I = Half<double>::index;
  const Halves<double> r = split<double>(re), i = split<double>(im);
  out[0] = join<double>(__builtin_shuffle(r.lo, i.lo, I{0, 2}), __builtin_shuffle(r.lo, i.lo, I{1, 3}));
  out[1] = join<double>(__builtin_shuffle(r.hi, i.hi, I{0, 2}), __builtin_shuffle(r.hi, i.hi, I{1, 3}));
}
inline void deinterleave(Lanes<float>::type lo, Lanes<float>::type hi, Lanes<float>::type& re,
                         Lanes<float>::type& im) {
  using I = Half<float>::index;
  const Halves<float> l = split<float>(lo), h = split<float>(hi);
  re = join<float>(__builtin_shuffle(l.lo, l.hi, I{0, 2, 4, 6}), __builtin_shuffle(h.lo, h.hi, I{0, 2, 4, 6}));
  im = join<float>(__builtin_shuffle(l.lo, l.hi, I{1, 3, 5, 7}), __builtin_shuffle(h.lo, h.hi, I{1, 3, 5, 7}));
}
inline void deinterleave(Lanes<double>::type lo, Lanes<double>::type hi, Lanes<double>::type& re,
                         Lanes<double>::type& im) {
  using I = Half<double>::index;
  const Halves<double> l = split<double>(lo), h = split<double>(hi);
  re = join<double>(__builtin_shuffle(l.lo, l.hi, I{0, 2}), __builtin_shuffle(h.lo, h.hi, I{0, 2}));
  im = join<double>(__builtin_shuffle(l.lo, l.hi, I{1, 3}), __builtin_shuffle(h.lo, h.hi, I{1, 3}));
}
#endif

}  // namespace specsep
