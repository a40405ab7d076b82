// Host-side FFT plan: factorisation and the root table, built once per frame length and read
// by the kernels of every backend.
#pragma once
#include <cmath>
#include <stdexcept>
#include <vector>

#include "specsep/frame.hpp"

namespace specsep {

// Radix order: 4s first (fewest passes), then a 2, then odd factors ascending (3 and 5 have
// butterflies, larger primes take the generic pass).
inline fft::Factors factorize(long n) {
  fft::Factors f{};
  f.n = n;
  auto push = [&](int p) {
    if (f.count == fft::kMaxFactors) throw std::length_error("FFT length has too many factors");
    f.factors[f.count++] = p;
  };
  long rest = n;
  while (rest % 4 == 0) { push(4); rest /= 4; }
  if (rest % 2 == 0) { push(2); rest /= 2; }
  for (long p = 3; p * p <= rest; p += 2)
    while (rest % p == 0) { push(static_cast<int>(p)); rest /= p; }
  if (rest > 1) push(static_cast<int>(rest));
  return f;
}

// exp(+2 pi i x / n) for x < n, computed in long double and rounded once to T.
template <typename T>
std::vector<cplx<T>> root_table(long n) {
  std::vector<cplx<T>> roots(static_cast<size_t>(n));
  const long double two_pi = 6.283185307179586476925286766559L;
  for (long x = 0; x < n; ++x) {
    const long double angle = two_pi * static_cast<long double>(x) / static_cast<long double>(n);
    roots[static_cast<size_t>(x)] = {static_cast<T>(std::cos(angle)), static_cast<T>(std::sin(angle))};
  }
  return roots;
}

template <typename T>
class HostFrameFFT {
 public:
  explicit HostFrameFFT(long n) : roots_(root_table<T>(n)) {
    view_.n = n;
    view_.factors = factorize(n % 2 == 0 ? n / 2 : n);
    view_.roots = roots_.data();
  }
  HostFrameFFT(const HostFrameFFT&) = delete;
  HostFrameFFT& operator=(const HostFrameFFT&) = delete;
  const FrameFFT<T>& view() const { return view_; }

 private:
  std::vector<cplx<T>> roots_;
  FrameFFT<T> view_{};
};

}  // namespace specsep
