// Smoke launchers of the emulator's test kernels (selftest.cu), with their results checked: the
// pattern for cpp/emu/smoke/*.cpp, and the subject of the mutation test (tests/test_emu_race.py).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "smoke.hpp"
#include "specsep/complex.hpp"

using specsep::emu::launch;
using specsep::emu::smoke::name;

SPECSEP_SMOKE(selftest_indices) {
  std::vector<int> out(12 * 2 * 3 * 4 * 2 * 2, -1);
  launch("specsep::cuda::selftest_indices<float>", {2, 3}, {4, 2, 2}, 0, out.data());
  SPECSEP_SMOKE_CHECK(out[12 * 5 + 0] == 1 && out[12 * 5 + 1] == 1 && out[12 * 5 + 9] == 2 && out[12 * 5 + 10] == 3);
}

template <typename T>
void shift_sum() {
  const int n = 100, threads = 32;
  std::vector<T> in(n), out(n, T(-1));
  for (int i = 0; i < n; ++i) in[i] = T(i * i % 17);
  launch(name("selftest_shift_sum", T()), {specsep::emu::smoke::blocks(n, threads)}, {threads}, threads * sizeof(T),
         static_cast<const T*>(in.data()), out.data(), n);
  // Right with or without the barrier (SPECSEP_MUTATE_DROP_BARRIER): fibers run in thread order,
  // so thread t-1 has written its slot when thread t reads it. Only the race detector can tell.
  for (int i = 0; i < n; ++i) SPECSEP_SMOKE_CHECK(out[i] == in[i] + (i % threads ? in[i - 1] : T(0)));
}
SPECSEP_SMOKE(selftest_shift_sum) {
  shift_sum<float>();
  shift_sum<double>();
}

template <typename T>
void poison() {
  const int blocks = 3, count = 5;
  std::vector<T> dynamic_out(blocks * count, T(0));
  std::vector<int> static_out(blocks * 4, 0);
  launch(name("selftest_poison", T()), {blocks}, {8}, count * sizeof(T), dynamic_out.data(), static_out.data(), count);
  for (T v : dynamic_out) SPECSEP_SMOKE_CHECK(std::isnan(v));
  (void)static_out;  // -1 where the linker script gathered static shared memory
}
SPECSEP_SMOKE(selftest_poison) {
  poison<float>();
  poison<double>();
}

template <typename T>
void reverse() {
  const int blocks = 3, threads = 64;
  std::vector<T> in(blocks * threads), out(blocks * threads);
  for (int i = 0; i < blocks * threads; ++i) in[i] = T(i);
  launch(name("selftest_reverse", T()), {blocks}, {threads}, threads * sizeof(T), static_cast<const T*>(in.data()),
         out.data(), 1);
#ifndef SPECSEP_MUTATE_SHARED_OVERRUN
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < threads; ++t) SPECSEP_SMOKE_CHECK(out[b * threads + t] == in[b * threads + threads - 1 - t]);
#endif
}
SPECSEP_SMOKE(selftest_reverse) {
  reverse<float>();
  reverse<double>();
}

SPECSEP_SMOKE(selftest_block_vote) {
  const int threads = 64;
  std::vector<float> in(2 * threads, 1.0f);
  in[3] = -1.0f;
  std::vector<int> out(6, -1);
  launch("specsep::cuda::selftest_block_vote<float>", {2}, {threads}, 0, static_cast<const float*>(in.data()),
         out.data());
  SPECSEP_SMOKE_CHECK(out[0] == threads - 1 && out[1] == 0 && out[2] == 1);
  SPECSEP_SMOKE_CHECK(out[3] == threads && out[4] == 1 && out[5] == 1);
}

template <typename T>
void warp() {
  const int n = 64;
  std::vector<T> in(n), sums(n), lane3(n), up1(n), down2(n);
  std::vector<unsigned> ballots(2);
  for (int i = 0; i < n; ++i) in[i] = T(i % 5) - T(1);
  launch(name("selftest_warp", T()), {1}, {n}, 0, static_cast<const T*>(in.data()), sums.data(), lane3.data(),
         up1.data(), down2.data(), ballots.data());
  for (int i = 0; i < n; ++i) {
    T s = 0;
    for (int j = i / 32 * 32; j < i / 32 * 32 + 32; ++j) s += in[j];
    SPECSEP_SMOKE_CHECK(sums[i] == s);
    SPECSEP_SMOKE_CHECK(lane3[i] == in[i / 32 * 32 + 3]);
  }
}
SPECSEP_SMOKE(selftest_warp) {
  warp<float>();
  warp<double>();
}

SPECSEP_SMOKE(selftest_divergence) {
  std::vector<float> out(128, 0.0f);
  const char* k = "specsep::cuda::selftest_divergence<float>";
  launch(k, {1}, {64}, 0, out.data(), 0);
  SPECSEP_SMOKE_CHECK(out[0] == 1.0f && out[15] == 1.0f && out[16] == 0.0f);
  // Faults abandon fibers in the middle of the kernel: they must leave the sanitizers quiet too.
  SPECSEP_SMOKE_EXPECT_FAULT(launch(k, {1}, {64}, 0, out.data(), 1), "divergent barrier");
  SPECSEP_SMOKE_EXPECT_FAULT(launch(k, {1}, {64}, 0, out.data(), 2), "divergent barrier");
  SPECSEP_SMOKE_EXPECT_FAULT(launch(k, {1}, {64}, 0, out.data(), 3), "which has returned");
  SPECSEP_SMOKE_EXPECT_FAULT(launch(k, {1}, {64}, 0, out.data(), 4), "does not include the calling lane");
  SPECSEP_SMOKE_EXPECT_FAULT(launch(k, {1}, {64}, 0, out.data(), 5), "__trap()");
  SPECSEP_SMOKE_EXPECT_FAULT(launch(k, {1}, {48}, 0, out.data(), 6), "does not exist");
  SPECSEP_SMOKE_EXPECT_FAULT(launch(k, {1}, {64}, 0, out.data(), 7), "not in the mask");
  launch(k, {2}, {64}, 0, out.data(), 0);  // the emulator is usable after a fault
  SPECSEP_SMOKE_CHECK(out[64] == 1.0f && out[79] == 1.0f);
}

template <typename T>
void atomics() {
  const int n = 300;
  std::vector<T> in(n, T(0.5)), total(1, T(0));
  std::vector<int> count(1, 0);
  std::vector<unsigned long long> largest(1, 0);
  launch(name("selftest_atomics", T()), {specsep::emu::smoke::blocks(n, 128)}, {128}, 0,
         static_cast<const T*>(in.data()), total.data(), count.data(), largest.data(), n);
  SPECSEP_SMOKE_CHECK(total[0] == T(150) && count[0] == n && largest[0] == n - 1);
}
SPECSEP_SMOKE(selftest_atomics) {
  atomics<float>();
  atomics<double>();
}

template <typename T>
void math() {
  const int n = 40;
  std::vector<T> in(n), out(3 * n);
  for (int i = 0; i < n; ++i) in[i] = T(0.25) * T(i);
  launch(name("selftest_math", T()), {2}, {32}, 0, static_cast<const T*>(in.data()), out.data(), n);
  for (int i = 0; i < n; ++i) {
    SPECSEP_SMOKE_CHECK(std::fabs(double(out[3 * i]) - std::sqrt(double(in[i]))) < 1e-6);
    SPECSEP_SMOKE_CHECK(std::fabs(double(out[3 * i + 1]) - std::sin(double(in[i]))) < 1e-6);
  }
}
SPECSEP_SMOKE(selftest_math) {
  math<float>();
  math<double>();
}

template <typename T>
void params() {
  using C = specsep::cplx<T>;
  std::vector<T> a{T(2)}, b{T(0)};
  std::vector<C> c{C{T(3), T(4)}}, d{C{T(0), T(0)}};
  std::vector<int> e{5}, f{0, 0, 0};
  std::vector<double> g{1.5}, h{0.0};
  std::vector<unsigned char> u{10};
  launch(name("selftest_params", T()), {1}, {1}, 0, static_cast<const T*>(a.data()), b.data(),
         static_cast<const C*>(c.data()), d.data(), static_cast<const int*>(e.data()), f.data(),
         static_cast<const double*>(g.data()), h.data(), u.data(), 7, (1ll << 33) + 9, T(0.5), 4.0);
  SPECSEP_SMOKE_CHECK(b[0] == T(2.5) && d[0].re == T(1.5) && d[0].im == T(4) && f[0] == 12 && f[1] == 2 &&
                      f[2] == 9 && h[0] == 6.0 && u[0] == 245);
}
SPECSEP_SMOKE(selftest_params) {
  params<float>();
  params<double>();
}

SPECSEP_SMOKE(selftest_block_slices) {
  const int blocks = 3, threads = 32;
  std::vector<float> out(blocks * threads, -1.0f);
  launch("specsep::cuda::selftest_block_slices<float>", {blocks}, {threads}, 0, out.data());
#ifndef SPECSEP_MUTATE_SHARED_OUTPUT
  for (int i = 0; i < blocks * threads; ++i) SPECSEP_SMOKE_CHECK(out[i] == float(i / threads));
#endif
}

SPECSEP_SMOKE(selftest_scan) {
  const int blocks = 2, threads = 64;
  std::vector<float> in(blocks * threads), out(blocks * threads);
  for (int i = 0; i < blocks * threads; ++i) in[i] = float(i % 7);
  launch("specsep::cuda::selftest_scan<float>", {blocks}, {threads}, threads * sizeof(float),
         static_cast<const float*>(in.data()), out.data(), 2);
  for (int b = 0; b < blocks; ++b) {
    float s = 0;
    for (int t = 0; t < threads; ++t) {
      s += in[b * threads + t];
      SPECSEP_SMOKE_CHECK(out[b * threads + t] == s);
    }
  }
}

// The profiler's access patterns (values only: the counts are tests/test_emu_profile.py's).
template <typename T>
void access_patterns() {
  const int threads = 64, count = 128, stride = 2;
  std::vector<T> in(stride * threads), out(threads);
  for (int i = 0; i < stride * threads; ++i) std::memset(&in[i], i % 251, sizeof(T));
  launch(std::string("specsep::cuda::selftest_global_stride<") + specsep::emu::type_name<T>() + ">", {1}, {threads}, 0,
         static_cast<const T*>(in.data()), out.data(), stride);
  for (int t = 0; t < threads; ++t) SPECSEP_SMOKE_CHECK(std::memcmp(&out[t], &in[stride * t], sizeof(T)) == 0);
  launch(std::string("specsep::cuda::selftest_shared_stride<") + specsep::emu::type_name<T>() + ">", {1}, {threads},
         count * sizeof(T), static_cast<const T*>(in.data()), out.data(), stride, count);
  for (int t = 0; t < threads; ++t) SPECSEP_SMOKE_CHECK(std::memcmp(&out[t], &in[stride * t % count], sizeof(T)) == 0);
}
SPECSEP_SMOKE(selftest_access_patterns) {
  access_patterns<float>();
  access_patterns<double>();
  access_patterns<float2>();
  access_patterns<double2>();
  const int threads = 32, rounds = 2;
  std::vector<float> in(threads * rounds), out(threads);
  for (int i = 0; i < threads * rounds; ++i) in[i] = float(i);
  launch("specsep::cuda::selftest_reconverge<float>", {1}, {threads}, 0, static_cast<const float*>(in.data()),
         out.data(), rounds);
  for (int t = 0; t < threads; ++t) SPECSEP_SMOKE_CHECK(out[t] == (t > 0 ? in[t] : 0.0f) + in[threads + t]);
}
