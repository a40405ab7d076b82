// Host/device portability macros: every function in cpp/include/specsep/ is SPECSEP_HD so that
// g++ (CPU backend, emulator), nvcc and NVRTC (CUDA backend) compile the same source.
#pragma once

#if defined(__CUDACC__)
#define SPECSEP_HD __host__ __device__
#define SPECSEP_INLINE __forceinline__
#define SPECSEP_RESTRICT __restrict__
// Dynamic shared memory as a typed pointer (a literal `extern __shared__ T s[]` cannot be
// re-typed per template, and the emulator defines this macro its own way).
#define SPECSEP_DYN_SHARED(T, name)                                   \
  extern __shared__ __align__(16) unsigned char specsep_dyn_smem_[]; \
  T* name = reinterpret_cast<T*>(specsep_dyn_smem_)
#else
#define SPECSEP_HD
#define SPECSEP_INLINE inline
#define SPECSEP_RESTRICT __restrict__
#endif

#if !defined(__CUDACC_RTC__)
#include <cmath>
namespace specsep {
using std::sqrt;
}  // namespace specsep
#endif

namespace specsep {
// The type of every index, size and offset of host and device index maths: 64 bits on every
// platform (`long` is 32 bits on Windows, where a spectrum over 2^31 elements would wrap silently).
using index_t = long long;
static_assert(sizeof(index_t) == 8, "specsep indexes arrays with 64-bit integers");

// The smallest normal number (std::numeric_limits<T>::min(), which NVRTC lacks): keeps c / |c|
// finite where c is exactly zero, and bounds the envelopes that divide.
template <typename T> SPECSEP_HD SPECSEP_INLINE T tiny_normal();
template <> SPECSEP_HD SPECSEP_INLINE float tiny_normal<float>() { return 1.17549435082228750797e-38f; }
template <> SPECSEP_HD SPECSEP_INLINE double tiny_normal<double>() { return 2.22507385850720138309e-308; }
}  // namespace specsep
