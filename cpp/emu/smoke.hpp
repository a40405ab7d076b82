// Smoke launchers: small, valid launches of every registered kernel, run by the sanitizer driver
// (race_driver.cpp) under ThreadSanitizer and AddressSanitizer/UBSan. The driver fails when a
// registered kernel was never launched, so every line of an instantiation list needs one.
//
// Write one .cpp per kernel family under cpp/emu/smoke/ (the driver build globs them):
//
//   #include "smoke.hpp"                     // never cuda_emu.hpp or the kernels: launch by name
//   using namespace specsep::emu;
//
//   template <typename T>
//   void misi_distribute_smoke() {
//     const int items = 2, sources = 3;
//     const long long length = 100;
//     std::vector<T> y(items * sources * length, T(1)), mix(items * length, T(4)), weights(sources, T(0.5));
//     launch(smoke::name("misi_distribute", T()), {smoke::blocks(length, 64), items}, {64}, 0,
//            y.data(), static_cast<const T*>(mix.data()), length, static_cast<const T*>(weights.data()),
//            sources, length);
//     SPECSEP_SMOKE_CHECK(y[0] == T(1.5));
//   }
//   SPECSEP_SMOKE(misi_distribute) {
//     misi_distribute_smoke<float>();
//     misi_distribute_smoke<double>();
//   }
//
// Arguments follow CuPy's rules, checked at run time against the kernel's parameters: a pointer of
// exactly the pointee type (T* may go to a const T* parameter), a scalar of exactly the
// parameter's type (pass a long long for a long long parameter, an int for an int). Keep grids
// small (a few blocks): under TSan every CUDA thread is a fiber with its own shadow state.
// Check results where it is cheap; the driver's job is to run every kernel path (even and odd
// FFT sizes, every pad mode, masks on and off...) under the sanitizers.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "registry.hpp"

namespace specsep {
namespace emu {
namespace smoke {

using Fn = void (*)();
struct Entry {
  const char* name;
  Fn fn;
};

inline std::vector<Entry>& entries() {
  static std::vector<Entry> e;
  return e;
}

inline bool add(const char* name, Fn fn) {
  entries().push_back({name, fn});
  return true;
}

[[noreturn]] inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "smoke check failed at %s:%d: %s\n", file, line, what.c_str());
  std::fflush(stderr);
  std::exit(3);
}

// The name expression of kernel<T>: name("stft", float()) == "specsep::cuda::stft<float>".
inline std::string name(const char* kernel, float) { return std::string("specsep::cuda::") + kernel + "<float>"; }
inline std::string name(const char* kernel, double) { return std::string("specsep::cuda::") + kernel + "<double>"; }

// ceil(n / per_block) as a grid dimension.
inline unsigned blocks(long long n, long long per_block) { return static_cast<unsigned>((n + per_block - 1) / per_block); }

// Runs f and requires it to throw an emulator Error whose message contains `needle`.
inline void expect_fault(const char* file, int line, const std::function<void()>& f, const std::string& needle) {
  try {
    f();
  } catch (const Error& e) {
    if (std::string(e.what()).find(needle) == std::string::npos)
      fail(file, line, "fault message lacks '" + needle + "': " + e.what());
    return;
  }
  fail(file, line, "expected an emulator fault containing '" + needle + "'");
}

}  // namespace smoke
}  // namespace emu
}  // namespace specsep

#define SPECSEP_SMOKE_CAT2(a, b) a##b
#define SPECSEP_SMOKE_CAT(a, b) SPECSEP_SMOKE_CAT2(a, b)

// Defines and registers a smoke launcher: SPECSEP_SMOKE(name) { ...launches... }
#define SPECSEP_SMOKE(name)                                                                        \
  static void specsep_smoke_##name();                                                              \
  static const bool SPECSEP_SMOKE_CAT(specsep_smoke_registered_, name) =                           \
      ::specsep::emu::smoke::add(#name, &specsep_smoke_##name);                                    \
  static void specsep_smoke_##name()

#define SPECSEP_SMOKE_CHECK(cond) \
  ((cond) ? (void)0 : ::specsep::emu::smoke::fail(__FILE__, __LINE__, "SPECSEP_SMOKE_CHECK(" #cond ")"))

// Relative L2 error of `got` against `want` is at most tol.
#define SPECSEP_SMOKE_CLOSE(got, want, tol)                                                          \
  do {                                                                                               \
    const auto& specsep_got_ = (got);                                                                \
    const auto& specsep_want_ = (want);                                                              \
    double specsep_err_ = 0, specsep_ref_ = 0;                                                       \
    for (std::size_t k_ = 0; k_ < specsep_want_.size(); ++k_) {                                      \
      const double d_ = double(specsep_got_[k_]) - double(specsep_want_[k_]);                        \
      specsep_err_ += d_ * d_;                                                                       \
      specsep_ref_ += double(specsep_want_[k_]) * double(specsep_want_[k_]);                         \
    }                                                                                                \
    const double rel_ = std::sqrt(specsep_err_ / (specsep_ref_ > 0 ? specsep_ref_ : 1.0));           \
    if (!(specsep_got_.size() == specsep_want_.size() && rel_ <= (tol)))                             \
      ::specsep::emu::smoke::fail(__FILE__, __LINE__,                                                \
                                  "relative error " + std::to_string(rel_) + " > " #tol " for " #got); \
  } while (0)

#define SPECSEP_SMOKE_EXPECT_FAULT(statement, needle) \
  ::specsep::emu::smoke::expect_fault(__FILE__, __LINE__, [&] { statement; }, needle)
