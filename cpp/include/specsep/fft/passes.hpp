// Self-sorting (Stockham) mixed-radix passes, after FFTPACK's cfftp layout.
//
// One pass of radix p maps cc, viewed as CC(i, m, k) = cc[i + ido*(m + p*k)], to ch, viewed as
// CH(i, k, j) = ch[i + ido*(k + l1*j)], for i < ido, k < l1, m, j < p:
//     CH(i, k, j) = w^(j*l1*i) * sum_m CC(i, m, k) * w_p^(j*m),   w = exp(-+2 pi i / n).
// Running the passes for the factors p_1, p_2, ... of n with l1 = p_1*...*p_(s-1) and
// ido = n / (l1 * p_s), ping-ponging between two buffers, gives the DFT in natural order.
// Every (i, k) item is independent, so a block of workers splits them and meets at a barrier
// after each pass.
//
// The twiddles w^(j*l1*i) come from a table per pass, contiguous in i as in FFTPACK and pocketfft
// (consecutive workers read consecutive entries: coalesced on a GPU, where indexing one root table
// at j*l1*i touched up to 28 cache lines per warp instruction):
//     tw[(j - 1) * ido + i] = exp(+2 pi i j l1 i / n_sub),  j = 1 .. p-1, i < ido
// (the forward direction conjugates them), the passes' tables one after another in pass order
// (fft::transform; the host builds them, specsep/fft/host_plan.hpp). The prime pass's w_p^m come
// from the root table roots[x * stride] = exp(+2 pi i x / n_sub), x < n_sub:
// w_p^m = roots[m * (n_sub / p) * stride], the same entry for every worker.
#pragma once
#include "../block.hpp"
#include "../complex.hpp"
#include "layout.hpp"

namespace specsep {
namespace fft {

template <typename T>
struct Roots {
  const cplx<T>* table;  // exp(+2 pi i x / n_table), x < n_table
  index_t stride;           // n_table / n_sub: the sub-transform's roots are every stride-th entry
  SPECSEP_HD SPECSEP_INLINE cplx<T> operator[](index_t x) const { return table[x * stride]; }
};

template <bool fwd, typename V>
SPECSEP_HD SPECSEP_INLINE void butterfly2(cplx<V>* a) {
  const cplx<V> a0 = a[0], a1 = a[1];
  a[0] = a0 + a1;
  a[1] = a0 - a1;
}

template <bool fwd, typename V, typename T>
SPECSEP_HD SPECSEP_INLINE void butterfly3(cplx<V>* a) {
  const T c = T(-0.5);
  const T s = fwd ? T(-0.86602540378443864676) : T(0.86602540378443864676);
  const cplx<V> t1 = a[1] + a[2], t2 = a[1] - a[2];
  const cplx<V> m = {a[0].re + t1.re * c, a[0].im + t1.im * c};
  const cplx<V> r = {-t2.im * s, t2.re * s};  // i * s * t2
  a[0] = a[0] + t1;
  a[1] = m + r;
  a[2] = m - r;
}

template <bool fwd, typename V>
SPECSEP_HD SPECSEP_INLINE void butterfly4(cplx<V>* a) {
  const cplx<V> t0 = a[0] + a[2], t1 = a[0] - a[2];
  const cplx<V> t2 = a[1] + a[3], t3 = quarter_turn<fwd>(a[1] - a[3]);
  a[0] = t0 + t2;
  a[2] = t0 - t2;
  a[1] = t1 + t3;
  a[3] = t1 - t3;
}

template <bool fwd, typename V, typename T>
SPECSEP_HD SPECSEP_INLINE void butterfly5(cplx<V>* a) {
  const T c1 = T(0.30901699437494742410), c2 = T(-0.80901699437494742410);
  const T s1 = fwd ? T(-0.95105651629515357212) : T(0.95105651629515357212);
  const T s2 = fwd ? T(-0.58778525229247312917) : T(0.58778525229247312917);
  const cplx<V> t1 = a[1] + a[4], t4 = a[1] - a[4];
  const cplx<V> t2 = a[2] + a[3], t3 = a[2] - a[3];
  const cplx<V> m1 = {a[0].re + t1.re * c1 + t2.re * c2, a[0].im + t1.im * c1 + t2.im * c2};
  const cplx<V> m2 = {a[0].re + t1.re * c2 + t2.re * c1, a[0].im + t1.im * c2 + t2.im * c1};
  // i * (s1 t4 + s2 t3) and i * (s2 t4 - s1 t3)
  const cplx<V> r1 = {-(t4.im * s1 + t3.im * s2), t4.re * s1 + t3.re * s2};
  const cplx<V> r2 = {-(t4.im * s2 - t3.im * s1), t4.re * s2 - t3.re * s1};
  a[0] = a[0] + t1 + t2;
  a[1] = m1 + r1;
  a[4] = m1 - r1;
  a[2] = m2 + r2;
  a[3] = m2 - r2;
}

// Radix 8 as two radix-4 transforms of the even and odd inputs, joined by the eighth roots:
// y_k = E_k + w8^k O_k and y_(k+4) = E_k - w8^k O_k.
template <bool fwd, typename V, typename T>
SPECSEP_HD SPECSEP_INLINE void butterfly8(cplx<V>* a) {
  const T h = T(0.70710678118654752440);  // cos(pi / 4)
  cplx<V> even[4] = {a[0], a[2], a[4], a[6]};
  cplx<V> odd[4] = {a[1], a[3], a[5], a[7]};
  butterfly4<fwd>(even);
  butterfly4<fwd>(odd);
  // w8^1 = (1 -+ i) h, w8^2 = -+i, w8^3 = (-1 -+ i) h, the sign by direction
  const cplx<V> o1 = fwd ? cplx<V>{(odd[1].re + odd[1].im) * h, (odd[1].im - odd[1].re) * h}
                         : cplx<V>{(odd[1].re - odd[1].im) * h, (odd[1].im + odd[1].re) * h};
  const cplx<V> o2 = quarter_turn<fwd>(odd[2]);
  const cplx<V> o3 = fwd ? cplx<V>{(odd[3].im - odd[3].re) * h, -(odd[3].re + odd[3].im) * h}
                         : cplx<V>{-(odd[3].re + odd[3].im) * h, (odd[3].re - odd[3].im) * h};
  a[0] = even[0] + odd[0];
  a[4] = even[0] - odd[0];
  a[1] = even[1] + o1;
  a[5] = even[1] - o1;
  a[2] = even[2] + o2;
  a[6] = even[2] - o2;
  a[3] = even[3] + o3;
  a[7] = even[3] - o3;
}

// Radix 16 as 4 x 4 (Cooley-Tukey): radix-4 transforms of the inputs n2, n2 + 4, n2 + 8, n2 + 12,
// times w16^(n2 k1), then radix-4 transforms across them: y[k1 + 4 k2]. One pass of it replaces two
// passes through memory (the GPU plans' passes: shared-memory traffic, not flops, bounds them).
template <bool fwd, typename V, typename T>
SPECSEP_HD SPECSEP_INLINE void butterfly16(cplx<V>* a) {
  const T c = T(0.92387953251128675613), s = T(0.38268343236508977173);  // cos, sin (pi / 8)
  const T h = T(0.70710678118654752440);
  // exp(+2 pi i m / 16) for m = n2 * k1 (twiddle_mul conjugates them forward); w16^4 is a quarter turn
  const cplx<T> w[10] = {{T(1), T(0)}, {c, s}, {h, h}, {s, c}, {T(0), T(1)}, {}, {-h, h}, {}, {}, {-c, -s}};
  cplx<V> b[4][4];
  for (int n2 = 0; n2 < 4; ++n2) {
    for (int n1 = 0; n1 < 4; ++n1) b[n2][n1] = a[n2 + 4 * n1];
    butterfly4<fwd>(b[n2]);
  }
  for (int n2 = 1; n2 < 4; ++n2)
    for (int k1 = 1; k1 < 4; ++k1)
      b[n2][k1] = n2 * k1 == 4 ? quarter_turn<fwd>(b[n2][k1]) : twiddle_mul<fwd>(b[n2][k1], w[n2 * k1]);
  for (int k1 = 0; k1 < 4; ++k1) {
    cplx<V> y[4] = {b[0][k1], b[1][k1], b[2][k1], b[3][k1]};
    butterfly4<fwd>(y);
    for (int k2 = 0; k2 < 4; ++k2) a[k1 + 4 * k2] = y[k2];
  }
}

// One pass of a radix with a specialised butterfly (2, 3, 4, 5, 8, 16); value x of cc is at cc[in(x)],
// of ch at ch[out(x)], layouts that keep rows whole (layout.hpp): CC(i, m, k) at
// in(ido*p*k) + i + ido*m, CH(i, k, j) at out(ido*k) + i + j*out(ido*l1).
template <int p, bool fwd, typename V, typename T, typename Block, typename Layout>
SPECSEP_HD void pass_small(const Block& block, index_t ido, index_t l1, const cplx<V>* SPECSEP_RESTRICT cc,
                           cplx<V>* SPECSEP_RESTRICT ch, const cplx<T>* SPECSEP_RESTRICT tw, Layout in,
                           Layout out) {
  const index_t out_step = out(ido * l1);
  for_each_pair(block, l1, ido, [&](index_t k, index_t i) {
    const cplx<V>* x = cc + in(ido * p * k) + i;
    cplx<V>* y = ch + out(ido * k) + i;
    cplx<V> a[p];
    for (int m = 0; m < p; ++m) a[m] = x[ido * m];
    if (p == 2) butterfly2<fwd>(a);
    if (p == 3) butterfly3<fwd, V, T>(a);
    if (p == 4) butterfly4<fwd>(a);
    if (p == 5) butterfly5<fwd, V, T>(a);
    if (p == 8) butterfly8<fwd, V, T>(a);
    if (p == 16) butterfly16<fwd, V, T>(a);
    if (i != 0)  // w^0 = 1
      for (int j = 1; j < p; ++j) a[j] = twiddle_mul<fwd>(a[j], tw[(j - 1) * ido + i]);
    // Stored after the branch: the items with and without twiddles store together, one warp
    // request per output (where a store in each branch would split the warp).
    for (int j = 0; j < p; ++j) y[j * out_step] = a[j];
  });
}

}  // namespace fft
}  // namespace specsep
