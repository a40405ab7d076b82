// Host side of Bluestein's transform (fft/bluestein.hpp): when to use it, its convolution length
// and its tables. Host code only; python/specsep/_cuda/bluestein.py is the same function for the
// CUDA kernels, checked bit for bit against this one by tests/test_cuda_fft_plan.py.
#pragma once
#include <cstdint>
#include <vector>

#include "bluestein.hpp"

namespace specsep {

namespace bluestein_detail {

// The run time of the passes for length n (fft/passes.hpp, fft/prime_pass.hpp), as the CPU
// factorisation runs them: n times a weight per pass, 4 for radix 4, 1 for a lone 2, p for an odd
// prime p (3 and 5 have butterflies, larger p the prime pass's p / 2 paired terms per value). One
// unit is about 0.07 ns per value and frame on one core in float32 (8 frames per AVX2 vector),
// 0.15 ns in float64. Fitted to the passes' times over 5-smooth lengths up to 8192 and primes 7 to
// 1021 (the prime pass takes 0.069 p ns per value: radix 4 costs as much as p = 4).
inline std::int64_t pass_cost(std::int64_t n) {
  std::int64_t per_value = 0, rest = n;
  while (rest % 4 == 0) { per_value += 4; rest /= 4; }
  if (rest % 2 == 0) { per_value += 1; rest /= 2; }
  for (std::int64_t p = 3; p * p <= rest; p += 2)
    while (rest % p == 0) { per_value += p; rest /= p; }
  if (rest > 1) per_value += rest;
  return per_value * n;
}

inline std::int64_t largest_prime(std::int64_t n) {
  std::int64_t largest = 1;
  for (std::int64_t p = 2; p * p <= n; ++p)
    while (n % p == 0) { largest = p; n /= p; }
  return n > 1 ? n : largest;
}

inline bool five_smooth(std::int64_t m) {
  for (std::int64_t p : {2, 3, 5})
    while (m % p == 0) m /= p;
  return m == 1;
}

}  // namespace bluestein_detail

// Lengths whose primes are all up to this take the passes, whatever their cost: accuracy. The
// error of Bluestein's transform is about 1.3 eps whatever n (two length-m transforms and three
// products: the same with pocketfft's own transforms in place of ours), the prime pass's grows with
// p (p / 2 terms per value), and pocketfft keeps its generic pass for most lengths with p below
// about 380. Measured over every n_fft from 2 to 8192 whose largest prime is 53 to 509, with
// Bluestein's transform in place of the passes, the error over pocketfft's (float32 and float64,
// the inputs of tests/test_fft_accuracy.py's sweep) was at worst 1.5 to 2.1 for each p below 300,
// up to 1.58 to p = 383 (n_fft = 17 * 383), 1.43 at 401, at most 1.32 above.
constexpr index_t kLargestPassPrime = 401;

// The convolution length of Bluestein's transform for a complex DFT of length n: the smallest
// 5-smooth m >= 2n - 1 where n has a prime above kLargestPassPrime and the two length-m transforms
// cost less than the passes (2 pass_cost(m) < pass_cost(n)); else 0, the passes run. The cost test
// is pocketfft's (cost_guess in pocketfft_c) with specsep's weights and no fudge factor. Measured on
// one core over primes 7..1021 and their multiples by 2..128 up to 9000 (float32 and float64): the
// time of Bluestein's transform over the passes' was the model's ratio to a median 1.0 to 1.1 (90%
// of lengths within 0.7 to 1.4; its three products are left out, lost in the noise), and the
// model's choices ran within 1% of the faster choice's time on average. Alone it would take
// Bluestein's transform from p = 53 (faster from p = 47); above kLargestPassPrime it takes it for
// every n up to 2^38.
inline index_t bluestein_length(index_t n) {
  if (bluestein_detail::largest_prime(n) <= kLargestPassPrime) return 0;
  std::int64_t m = 2 * static_cast<std::int64_t>(n) - 1;
  while (!bluestein_detail::five_smooth(m)) ++m;
  return 2 * bluestein_detail::pass_cost(m) < bluestein_detail::pass_cost(n) ? static_cast<index_t>(m) : 0;
}

// The chirp exp(+pi i k^2 / n), k < n, and the filter H / m, H the forward length-m DFT of the
// chirp wrapped around, each rounded once to T. H is computed in long double by direct radix
// passes (the primes of m ascending, every product taken, no special cases) written out in real
// arithmetic, in the order that _cuda/bluestein.py repeats.
template <typename T>
class BluesteinTables {
 public:
  explicit BluesteinTables(index_t n, bool gpu_radices) {
    view_.m = bluestein_length(n);
    if (view_.m == 0) return;
    const index_t m = view_.m;
    view_.factors = factorize(m, gpu_radices);
    twiddles_ = twiddle_table(view_.factors, root_table<T>(m).data(), 1);
    chirp_.resize(static_cast<size_t>(n));
    std::vector<long double> re(static_cast<size_t>(m), 0.0L), im(static_cast<size_t>(m), 0.0L);
    for (index_t k = 0; k < n; ++k) {
      const index_t turn = static_cast<index_t>(static_cast<std::int64_t>(k) * k % (2 * static_cast<std::int64_t>(n)));
      const cplx<long double> c = unit_root<long double>(turn, 2 * n);
      chirp_[static_cast<size_t>(k)] = unit_root<T>(turn, 2 * n);
      re[static_cast<size_t>(k)] = c.re, im[static_cast<size_t>(k)] = c.im;
      if (k > 0) re[static_cast<size_t>(m - k)] = c.re, im[static_cast<size_t>(m - k)] = c.im;
    }
    forward_dft(re, im);
    filter_.resize(static_cast<size_t>(m));
    for (size_t k = 0; k < filter_.size(); ++k)
      filter_[k] = {static_cast<T>(re[k] / static_cast<long double>(m)), static_cast<T>(im[k] / static_cast<long double>(m))};
    view_.chirp = chirp_.data();
    view_.filter = filter_.data();
    view_.twiddles = twiddles_.data();
  }
  BluesteinTables(const BluesteinTables&) = delete;
  BluesteinTables& operator=(const BluesteinTables&) = delete;
  const fft::Bluestein<T>& view() const { return view_; }
  const std::vector<cplx<T>>& chirp() const { return chirp_; }
  const std::vector<cplx<T>>& filter() const { return filter_; }

 private:
  // Stockham passes as in fft/passes.hpp: CC(i, q, k) = cc[i + ido (q + p k)] to
  // CH(i, k, j) = ch[i + ido (k + l1 j)] = w^(j l1 i) sum_q CC(i, q, k) w_p^(j q), w = exp(-2 pi i / m).
  static void forward_dft(std::vector<long double>& re, std::vector<long double>& im) {
    const index_t m = static_cast<index_t>(re.size());
    const std::vector<cplx<long double>> w = root_table<long double>(m);
    std::vector<long double> re2(re.size()), im2(im.size());
    index_t l1 = 1, rest = m;
    for (index_t p : {2, 3, 5}) {
      for (; rest % p == 0; rest /= p, l1 *= p) {
        const index_t ido = m / (l1 * p);
        for (index_t k = 0; k < l1; ++k)
          for (index_t j = 0; j < p; ++j)
            for (index_t i = 0; i < ido; ++i) {
              long double acc_re = re[i + ido * p * k], acc_im = im[i + ido * p * k];
              for (index_t q = 1; q < p; ++q) {
                const cplx<long double> r = w[(j * q % p) * (m / p)];
                const long double x_re = re[i + ido * (q + p * k)], x_im = im[i + ido * (q + p * k)];
                acc_re = acc_re + (x_re * r.re + x_im * r.im);
                acc_im = acc_im + (x_im * r.re - x_re * r.im);
              }
              const cplx<long double> t = w[j * l1 * i];
              re2[i + ido * (k + l1 * j)] = acc_re * t.re + acc_im * t.im;
              im2[i + ido * (k + l1 * j)] = acc_im * t.re - acc_re * t.im;
            }
        re.swap(re2);
        im.swap(im2);
      }
    }
  }

  std::vector<cplx<T>> chirp_, filter_, twiddles_;
  fft::Bluestein<T> view_{};
};

}  // namespace specsep
