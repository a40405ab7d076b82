// The CUDA execution model for g++: include this first, then the device-only kernel sources
// (cpp/cuda/*.cu), and the same source that NVRTC compiles for a GPU compiles as C++.
//
// What it provides: the CUDA qualifiers; threadIdx/blockIdx/blockDim/gridDim (set by the
// scheduler for the running fiber); static __shared__ variables as static storage (poisoned with
// 0xFF before every block where the linker script cpp/emu/static_shared.ld is used); dynamic
// shared memory through SPECSEP_DYN_SHARED(T, name) (a per-block buffer poisoned with 0xFF, i.e.
// NaN); __syncthreads (+ _count/_and/_or), __syncwarp, __shfl*_sync, __ballot/__any/__all_sync,
// __activemask; atomics (relaxed, as on a GPU); the usual math and integer intrinsics.
//
// Rules the emulator enforces (runtime.cpp): every live thread of a block reaches the same
// __syncthreads call site (threads that returned do not count); a warp collective's mask names
// only live lanes that all reach a collective of the same kind with the same mask.
//
// Each kernel source must be compiled into one translation unit per binary: __device__ is empty
// here, so a non-template __device__ function defined in a header is an ordinary function.
#pragma once
#if defined(__CUDACC__)
#error "cpp/emu/cuda_emu.hpp emulates CUDA for g++; nvcc and NVRTC must not include it"
#endif
#define SPECSEP_EMU 1

#include <math.h>  // C math in the global namespace, with libstdc++'s float overloads (sqrt(float) is float)

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "runtime.hpp"
#include "vector_types.hpp"

// ---- qualifiers ---------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __grid_constant__
#define __constant__
#define __managed__
#define __align__(n) __attribute__((aligned(n)))
// One instance per program, valid because blocks run one after another (the scheduler poisons
// them between blocks when they are collected by static_shared.ld).
#define __shared__ static

// Dynamic shared memory. The CUDA definition (cpp/include/specsep/hd.hpp) is
//   extern __shared__ __align__(16) unsigned char specsep_dyn_smem_[]; T* name = (T*)specsep_dyn_smem_
// and both give a pointer to the start of the block's dynamic buffer, aligned to 16 bytes.
#define SPECSEP_DYN_SHARED(T, name) T* name = reinterpret_cast<T*>(::specsep::emu::g_dynamic_shared)

// ---- built-in variables -------------------------------------------------------------------------
inline uint3 threadIdx{0, 0, 0};
inline uint3 blockIdx{0, 0, 0};
inline dim3 blockDim{1, 1, 1};
inline dim3 gridDim{1, 1, 1};
inline constexpr int warpSize = 32;

// ---- synchronisation ----------------------------------------------------------------------------
// The call site (file, line) identifies a barrier: threads waiting at different __syncthreads
// calls are a divergent barrier.
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::specsep::emu::block_collective(::specsep::emu::kSyncThreads, 0, file, line);
}
inline int __syncthreads_count(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::specsep::emu::block_collective(::specsep::emu::kSyncCount, predicate, file, line);
}
inline int __syncthreads_and(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::specsep::emu::block_collective(::specsep::emu::kSyncAnd, predicate, file, line);
}
inline int __syncthreads_or(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::specsep::emu::block_collective(::specsep::emu::kSyncOr, predicate, file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::specsep::emu::warp_sync(mask, file, line);
}
inline unsigned __activemask() { return ::specsep::emu::active_mask(); }

// Fences order memory on a GPU; the fibers of one OS thread need only a compiler barrier, and
// (as in CUDA) a fence creates no happens-before edge for the race detector.
inline void __threadfence() { __asm__ __volatile__("" ::: "memory"); }
inline void __threadfence_block() { __asm__ __volatile__("" ::: "memory"); }
inline void __threadfence_system() { __asm__ __volatile__("" ::: "memory"); }
inline void __nanosleep(unsigned) {}

[[noreturn]] inline void __trap(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::specsep::emu::device_fault("__trap() was called", file, line);
}

// ---- warp shuffles and votes --------------------------------------------------------------------
namespace specsep {
namespace emu {

template <typename T>
inline T shuffle_as(unsigned mask, T var, unsigned src, const char* what, const char* file, int line) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8,
                "the emulator shuffles trivially copyable values of at most 8 bytes");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  bits = warp_shuffle(mask, bits, src, what, file, line);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

inline unsigned check_width(int width, const char* what, const char* file, int line) {
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    char message[128];
    std::snprintf(message, sizeof message, "%s: width %d is not a power of two in [1, 32]", what, width);
    device_fault(message, file, line);
  }
  return static_cast<unsigned>(width);
}

}  // namespace emu
}  // namespace specsep

template <typename T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, const char* file = __builtin_FILE(),
                     int line = __builtin_LINE()) {
  const unsigned w = ::specsep::emu::check_width(width, "__shfl_sync", file, line);
  const unsigned lane = ::specsep::emu::lane_id();
  const unsigned src = (lane & ~(w - 1)) | (static_cast<unsigned>(src_lane) & (w - 1));
  return ::specsep::emu::shuffle_as(mask, var, src, "__shfl_sync", file, line);
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  const unsigned w = ::specsep::emu::check_width(width, "__shfl_xor_sync", file, line);
  const unsigned lane = ::specsep::emu::lane_id();
  unsigned src = (lane ^ static_cast<unsigned>(lane_mask)) & 31u;
  if (src > (lane | (w - 1))) src = lane;  // a later group: own value
  return ::specsep::emu::shuffle_as(mask, var, src, "__shfl_xor_sync", file, line);
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                        const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  const unsigned w = ::specsep::emu::check_width(width, "__shfl_up_sync", file, line);
  const unsigned lane = ::specsep::emu::lane_id();
  const unsigned first = lane & ~(w - 1);
  const unsigned src = delta > lane - first ? lane : lane - delta;
  return ::specsep::emu::shuffle_as(mask, var, src, "__shfl_up_sync", file, line);
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  const unsigned w = ::specsep::emu::check_width(width, "__shfl_down_sync", file, line);
  const unsigned lane = ::specsep::emu::lane_id();
  const unsigned last = lane | (w - 1);
  const unsigned src = delta > last - lane ? lane : lane + delta;
  return ::specsep::emu::shuffle_as(mask, var, src, "__shfl_down_sync", file, line);
}
inline unsigned __ballot_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return ::specsep::emu::warp_ballot(mask, predicate, "__ballot_sync", file, line);
}
inline int __any_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::specsep::emu::warp_ballot(mask, predicate, "__any_sync", file, line) != 0;
}
inline int __all_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::specsep::emu::warp_ballot(mask, predicate, "__all_sync", file, line) == mask;
}

// ---- atomics: relaxed read-modify-writes (no happens-before edge, as on a GPU) -------------------
namespace specsep {
namespace emu {

template <typename T, typename F>
inline T atomic_update(T* address, F update) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "atomics on 4- or 8-byte values");
  using Bits = typename std::conditional<sizeof(T) == 4, std::uint32_t, std::uint64_t>::type;
  Bits* word = reinterpret_cast<Bits*>(address);
  Bits expected = __atomic_load_n(word, __ATOMIC_RELAXED);
  for (;;) {
    T old;
    std::memcpy(&old, &expected, sizeof(T));
    const T value = update(old);
    Bits desired;
    std::memcpy(&desired, &value, sizeof(T));
    if (__atomic_compare_exchange_n(word, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return old;
  }
}

}  // namespace emu
}  // namespace specsep

#define SPECSEP_EMU_ATOMIC_INT(T)                                                                         \
  inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }                    \
  inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }                    \
  inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }                  \
  inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); }                    \
  inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }                      \
  inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); }                    \
  inline T atomicMin(T* a, T v) {                                                                          \
    return ::specsep::emu::atomic_update(a, [v](T o) { return o < v ? o : v; });                           \
  }                                                                                                        \
  inline T atomicMax(T* a, T v) {                                                                          \
    return ::specsep::emu::atomic_update(a, [v](T o) { return o > v ? o : v; });                           \
  }                                                                                                        \
  inline T atomicCAS(T* a, T compare, T v) {                                                               \
    __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                \
    return compare;                                                                                        \
  }
SPECSEP_EMU_ATOMIC_INT(int)
SPECSEP_EMU_ATOMIC_INT(unsigned int)
SPECSEP_EMU_ATOMIC_INT(long long)
SPECSEP_EMU_ATOMIC_INT(unsigned long long)
#undef SPECSEP_EMU_ATOMIC_INT

inline float atomicAdd(float* a, float v) {
  return ::specsep::emu::atomic_update(a, [v](float o) { return o + v; });
}
inline double atomicAdd(double* a, double v) {
  return ::specsep::emu::atomic_update(a, [v](double o) { return o + v; });
}
inline float atomicExch(float* a, float v) {
  return ::specsep::emu::atomic_update(a, [v](float) { return v; });
}
inline unsigned atomicInc(unsigned* a, unsigned limit) {
  return ::specsep::emu::atomic_update(a, [limit](unsigned o) { return o >= limit ? 0u : o + 1; });
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
  return ::specsep::emu::atomic_update(a, [limit](unsigned o) { return (o == 0 || o > limit) ? limit : o - 1; });
}

// ---- math and integer intrinsics (device functions of the CUDA math API) ------------------------
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline double rcbrt(double x) { return 1.0 / cbrt(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline double __drcp_rn(double a) { return 1.0 / a; }
inline double __dsqrt_rn(double a) { return sqrt(a); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline void __sincosf(float x, float* s, float* c) {
  *s = sinf(x);
  *c = cosf(x);
}
#if !(defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 41)))
inline float sinpif(float x) { return static_cast<float>(sin(3.14159265358979323846 * static_cast<double>(x))); }
inline float cospif(float x) { return static_cast<float>(cos(3.14159265358979323846 * static_cast<double>(x))); }
inline double sinpi(double x) { return static_cast<double>(sinl(3.14159265358979323846264338327950288L * x)); }
inline double cospi(double x) { return static_cast<double>(cosl(3.14159265358979323846264338327950288L * x)); }
#endif
inline void sincospif(float x, float* s, float* c) {
  *s = sinpif(x);
  *c = cospif(x);
}
inline void sincospi(double x, double* s, double* c) {
  *s = sinpi(x);
  *c = cospi(x);
}

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  return __builtin_bswap32(x);
}
inline unsigned long long __brevll(unsigned long long x) {
  return (static_cast<unsigned long long>(__brev(static_cast<unsigned>(x))) << 32) | __brev(static_cast<unsigned>(x >> 32));
}
inline int __mul24(int a, int b) { return a * b; }
inline unsigned __umul24(unsigned a, unsigned b) { return a * b; }
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline long long __mul64hi(long long a, long long b) {
  __extension__ typedef __int128 wide;
  return static_cast<long long>((static_cast<wide>(a) * b) >> 64);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  __extension__ typedef unsigned __int128 wide;
  return static_cast<unsigned long long>((static_cast<wide>(a) * b) >> 64);
}
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline int __float2int_rd(float x) { return static_cast<int>(floorf(x)); }
inline int __float2int_ru(float x) { return static_cast<int>(ceilf(x)); }
inline int __double2int_rn(double x) { return static_cast<int>(nearbyint(x)); }
inline int __double2int_rz(double x) { return static_cast<int>(x); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline float __double2float_rn(double x) { return static_cast<float>(x); }

template <typename T>
inline T __ldg(const T* p) { return *p; }

// min/max of the CUDA math API (global namespace, same-type overloads).
#define SPECSEP_EMU_MINMAX(T)                   \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
SPECSEP_EMU_MINMAX(int)
SPECSEP_EMU_MINMAX(unsigned int)
SPECSEP_EMU_MINMAX(long)
SPECSEP_EMU_MINMAX(unsigned long)
SPECSEP_EMU_MINMAX(long long)
SPECSEP_EMU_MINMAX(unsigned long long)
#undef SPECSEP_EMU_MINMAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

// A clock that advances by one per read (deterministic).
inline long long clock64() {
  static long long ticks = 0;
  return __atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
}
