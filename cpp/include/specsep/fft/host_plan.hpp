// Host-side FFT plan: factorisation and the root table, built once per frame length and read
// by the kernels of every backend. Host code only (std::vector, exceptions): the CPU drivers and
// the emulator's smoke launchers include it, the CUDA kernels never do (the cuda backend builds
// the same arrays in NumPy, python/specsep/_cuda/fft_plan.py, checked bit for bit against these).
#pragma once
#include <cmath>
#include <stdexcept>
#include <vector>

#include "specsep/frame.hpp"

namespace specsep {

// Radix order: 16s and an 8 (the GPU plans: `gpu_radices`) or 4s first, then a 4 and a 2, then odd factors
// ascending (3 and 5 have butterflies, larger primes the prime pass; HostFrameFFT hands the lengths
// that bluestein_length chooses to Bluestein's transform). The GPU plans take the fewest passes
// through shared memory, which bounds their time. The CPU plans stop at radix 4: a radix-8 butterfly
// over lanes of 8 frames needs more vector registers than AVX2 has and runs slower.
inline fft::Factors factorize(index_t n, bool gpu_radices = false) {
  fft::Factors f{};
  f.n = n;
  auto push = [&](int p) {
    if (f.count == fft::kMaxFactors) throw std::length_error("FFT length has too many factors");
    f.factors[f.count++] = p;
  };
  index_t rest = n;
  if (gpu_radices) {
    while (rest % 16 == 0) { push(16); rest /= 16; }
    if (rest % 8 == 0) { push(8); rest /= 8; }
  }
  while (rest % 4 == 0) { push(4); rest /= 4; }
  if (rest % 2 == 0) { push(2); rest /= 2; }
  for (index_t p = 3; p * p <= rest; p += 2)
    while (rest % p == 0) { push(static_cast<int>(p)); rest /= p; }
  if (rest > 1) push(static_cast<int>(rest));
  return f;
}

// exp(+2 pi i x / n), computed in long double and rounded once to T; the quarter turns exact
// (cos(pi) in long double leaves sin ~ -5e-20, which made the Nyquist bin of every real frame
// complex and c / |c| of a vanishing Nyquist bin point anywhere).
template <typename T>
cplx<T> unit_root(index_t x, index_t n) {
  const long double two_pi = 6.283185307179586476925286766559L;
  constexpr cplx<T> quarter_turns[4] = {{T(1), T(0)}, {T(0), T(1)}, {T(-1), T(0)}, {T(0), T(-1)}};
  const long double angle = two_pi * static_cast<long double>(x) / static_cast<long double>(n);
  return (4 * x) % n == 0 ? quarter_turns[4 * x / n]
                          : cplx<T>{static_cast<T>(std::cos(angle)), static_cast<T>(std::sin(angle))};
}

// exp(+2 pi i x / n) for x < n.
template <typename T>
std::vector<cplx<T>> root_table(index_t n) {
  std::vector<cplx<T>> roots(static_cast<size_t>(n));
  for (index_t x = 0; x < n; ++x) roots[static_cast<size_t>(x)] = unit_root<T>(x, n);
  return roots;
}

// The passes' twiddle tables of a transform of length fact.n (fft/passes.hpp), in pass order:
// tw[(j - 1) * ido + i] = exp(+2 pi i j l1 i / fact.n), gathered from `roots`, the table
// exp(+2 pi i x / (fact.n * stride)), at x = j l1 i stride: the same bits as the roots.
template <typename T>
std::vector<cplx<T>> twiddle_table(const fft::Factors& fact, const cplx<T>* roots, index_t stride) {
  std::vector<cplx<T>> tw;
  tw.reserve(static_cast<size_t>(fft::twiddle_count(fact)));
  index_t l1 = 1;
  for (int s = 0; s < fact.count; ++s) {
    const index_t p = fact.factors[s], ido = fact.n / (l1 * p);
    for (index_t j = 1; j < p; ++j)
      for (index_t i = 0; i < ido; ++i) tw.push_back(roots[j * l1 * i * stride]);
    l1 *= p;
  }
  return tw;
}

}  // namespace specsep

#include "bluestein_plan.hpp"  // uses factorize, unit_root, root_table and twiddle_table above

namespace specsep {

template <typename T>
class HostFrameFFT {
 public:
  explicit HostFrameFFT(index_t n, bool gpu_radices = false)
      : roots_(root_table<T>(n)), blue_(n % 2 == 0 ? n / 2 : n, gpu_radices) {
    view_.n = n;
    view_.factors = factorize(n % 2 == 0 ? n / 2 : n, gpu_radices);
    const std::vector<cplx<T>> twiddles = twiddle_table(view_.factors, roots_.data(), n % 2 == 0 ? 2 : 1);
    roots_.insert(roots_.end(), twiddles.begin(), twiddles.end());  // FrameFFT::twiddles()
    view_.roots = roots_.data();
    view_.blue = blue_.view();
  }
  HostFrameFFT(const HostFrameFFT&) = delete;
  HostFrameFFT& operator=(const HostFrameFFT&) = delete;
  const FrameFFT<T>& view() const { return view_; }

 private:
  std::vector<cplx<T>> roots_;  // the root table of n and the passes' twiddles
  BluesteinTables<T> blue_;
  FrameFFT<T> view_{};
};

// The frame FFT of length n as the CUDA kernels take it (cuda/common.cuh, load_frame_fft): the
// factor list {count, p_1, ..., m, [count_m, q_1, ...]} of the transform they run (n/2 for even n,
// n for odd n), m its Bluestein convolution length (0: none) and the factors of m; the root table
// exp(+2 pi i x / n) and the passes' twiddle tables, followed for Bluestein by its chirp, filter
// and the twiddle tables of m's passes.
template <typename T>
struct DevicePlanArrays {
  std::vector<int> factors;
  std::vector<cplx<T>> roots;
  index_t scratch;  // each FFT work buffer's values: FrameFFT::scratch(), padded (fft/layout.hpp)
};

template <typename T>
DevicePlanArrays<T> device_plan_arrays(index_t n, bool gpu_radices) {
  const HostFrameFFT<T> fft(n, gpu_radices);
  const FrameFFT<T>& f = fft.view();
  DevicePlanArrays<T> out{{f.factors.count}, {f.roots, f.twiddles() + fft::twiddle_count(f.factors)},
                          fft::Padded::room(f.scratch())};
  out.factors.insert(out.factors.end(), f.factors.factors, f.factors.factors + f.factors.count);
  out.factors.push_back(static_cast<int>(f.blue.m));
  if (f.blue.m > 0) {
    out.factors.push_back(f.blue.factors.count);
    out.factors.insert(out.factors.end(), f.blue.factors.factors, f.blue.factors.factors + f.blue.factors.count);
    out.roots.insert(out.roots.end(), f.blue.chirp, f.blue.chirp + f.factors.n);
    out.roots.insert(out.roots.end(), f.blue.filter, f.blue.filter + f.blue.m);
    out.roots.insert(out.roots.end(), f.blue.twiddles, f.blue.twiddles + fft::twiddle_count(f.blue.factors));
  }
  return out;
}

}  // namespace specsep
