// The emulator's own test kernels: device-only CUDA, written like cpp/cuda/*.cu (they compile
// with nvcc and NVRTC too), run by tests/test_emu.py through specsep._emu_selftest and by the
// sanitizer driver (tests/test_emu_race.py).
//
// Mutation switches (the race test compiles them on and off):
//   SPECSEP_MUTATE_DROP_BARRIER    selftest_shift_sum loses its __syncthreads(): the answer stays
//                                  right in the emulator's fiber order, ThreadSanitizer must report
//                                  the race;
//   SPECSEP_MUTATE_SHARED_OUTPUT   selftest_block_slices writes the same slice from every block: a
//                                  race between blocks, which TSan must report although the
//                                  emulator runs blocks one after another;
//   SPECSEP_MUTATE_SHARED_OVERRUN  selftest_reverse's last thread reads one element past its
//                                  dynamic shared memory: AddressSanitizer must report it.
#include "specsep/complex.hpp"

namespace specsep {
namespace cuda {

// out[12 * (global thread)] = threadIdx.xyz, blockIdx.xyz, blockDim.xyz, gridDim.xyz, with the
// global thread numbered x-fastest over threads, then blocks.
template <typename T>
__global__ void selftest_indices(int* out) {
  const long block = blockIdx.x + static_cast<long>(gridDim.x) * (blockIdx.y + static_cast<long>(gridDim.y) * blockIdx.z);
  const long thread = threadIdx.x + static_cast<long>(blockDim.x) * (threadIdx.y + static_cast<long>(blockDim.y) * threadIdx.z);
  const long threads = static_cast<long>(blockDim.x) * blockDim.y * blockDim.z;
  int* o = out + 12 * (block * threads + thread);
  o[0] = threadIdx.x;
  o[1] = threadIdx.y;
  o[2] = threadIdx.z;
  o[3] = blockIdx.x;
  o[4] = blockIdx.y;
  o[5] = blockIdx.z;
  o[6] = blockDim.x;
  o[7] = blockDim.y;
  o[8] = blockDim.z;
  o[9] = gridDim.x;
  o[10] = gridDim.y;
  o[11] = gridDim.z;
}

// out[i] = in[i] + in[i - 1] within each block, through dynamic shared memory (blockDim.x values
// of T). Thread t reads the slot thread t-1 wrote: the barrier orders them.
template <typename T>
__global__ void selftest_shift_sum(const T* in, T* out, int n) {
  SPECSEP_DYN_SHARED(T, s);
  const unsigned t = threadIdx.x;
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + t;
  s[t] = i < n ? in[i] : T(0);
#ifndef SPECSEP_MUTATE_DROP_BARRIER
  __syncthreads();
#endif
  if (i < n) out[i] = s[t] + (t > 0 ? s[t - 1] : T(0));
}

// Thread 0 of each block reads `count` values of dynamic shared memory and 4 ints of static shared
// memory before anything writes them (the emulator's poison: NaN and -1), then writes both, which
// the next block must not see.
template <typename T>
__global__ void selftest_poison(T* dynamic_out, int* static_out, int count) {
  SPECSEP_DYN_SHARED(T, s);
  __shared__ int fixed[4];
  if (threadIdx.x == 0) {
    for (int k = 0; k < count; ++k) dynamic_out[static_cast<long>(blockIdx.x) * count + k] = s[k];
    for (int k = 0; k < 4; ++k) static_out[4 * blockIdx.x + k] = fixed[k];
    for (int k = 0; k < count; ++k) s[k] = T(1);
    for (int k = 0; k < 4; ++k) fixed[k] = 7;
  }
}

// Reverses each block's slice through static shared memory: wrong without the barrier. Dynamic
// shared memory (blockDim.x values, optional) gets a copy.
template <typename T>
__global__ void selftest_reverse(const T* in, T* out, int use_dynamic) {
  __shared__ T s[1024];
  SPECSEP_DYN_SHARED(T, copy);
  const unsigned t = threadIdx.x, n = blockDim.x;
  const long base = static_cast<long>(blockIdx.x) * n;
  s[t] = in[base + t];
  if (use_dynamic) copy[t] = in[base + t];
  __syncthreads();
  out[base + t] = s[n - 1 - t];
#ifdef SPECSEP_MUTATE_SHARED_OVERRUN
  if (use_dynamic && t == n - 1) out[base + t] += copy[t + 1] * T(0);
#endif
}

// out[3 * block + {0, 1, 2}] = __syncthreads_count / _and / _or of (in[i] > 0).
template <typename T>
__global__ void selftest_block_vote(const T* in, int* out) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int p = in[i] > T(0);
  const int count = __syncthreads_count(p);
  const int all = __syncthreads_and(p);
  const int any = __syncthreads_or(p);
  if (threadIdx.x == 0) {
    out[3 * blockIdx.x] = count;
    out[3 * blockIdx.x + 1] = all;
    out[3 * blockIdx.x + 2] = any;
  }
}

// Warp intrinsics on in[i]: the warp's sum by an xor butterfly, lane 3's value, the value one
// lane up, two lanes down within 16-lane groups, and the ballot of (in[i] > 0) per warp.
template <typename T>
__global__ void selftest_warp(const T* in, T* sums, T* lane3, T* up1, T* down2, unsigned* ballots) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const T v = in[i];
  T sum = v;
  for (int m = 16; m >= 1; m /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, m);
  sums[i] = sum;
  lane3[i] = __shfl_sync(0xffffffffu, v, 3);
  up1[i] = __shfl_up_sync(0xffffffffu, v, 1);
  down2[i] = __shfl_down_sync(0xffffffffu, v, 2, 16);
  const unsigned ballot = __ballot_sync(0xffffffffu, v > T(0));
  __syncwarp();
  if ((threadIdx.x & 31) == 0) ballots[i / 32] = ballot;
}

// Faults the emulator must report (mode >= 1) and one early return it must allow (mode 0):
//   0: threads >= 16 return, the rest meet at a barrier (allowed: returned threads do not count)
//      and write 1 to out[blockIdx.x * blockDim.x + threadIdx.x]; other modes write out[t]
//   1: two halves of the block wait at different __syncthreads() calls
//   2: half the block waits at __syncthreads(), the other half at __syncwarp()
//   3: a full-mask shuffle after lanes 16..31 returned
//   4: a shuffle whose mask leaves out the calling lane
//   5: thread 5 calls __trap()
//   6: a full-mask shuffle in a block of 48 threads (warp 1 has 16 lanes)
//   7: a shuffle that reads a lane outside its mask
template <typename T>
__global__ void selftest_divergence(T* out, int mode) {
  const unsigned t = threadIdx.x;
  if (mode == 0) {
    if (t >= 16) return;
    __syncthreads();
    out[blockIdx.x * blockDim.x + t] = T(1);
  } else if (mode == 1) {
    if (t < 16) {
      __syncthreads();
    } else {
      __syncthreads();
    }
  } else if (mode == 2) {
    if (t < 16) {
      __syncthreads();
    } else {
      __syncwarp();
    }
  } else if (mode == 3) {
    if (t >= 16) return;
    out[t] = __shfl_xor_sync(0xffffffffu, T(t), 1);
  } else if (mode == 4) {
    out[t] = __shfl_sync(0x1u, T(t), 0);
  } else if (mode == 5) {
    if (t == 5) __trap();
    __syncthreads();
  } else if (mode == 6) {
    out[t] = __shfl_xor_sync(0xffffffffu, T(t), 1);
  } else if (mode == 7) {
    if ((t & 31) < 16) out[t] = __shfl_sync(0x0000ffffu, T(t), 20);
  }
}

// Atomics: *total += in[i], *count += 1, *largest = max(...) over the grid.
template <typename T>
__global__ void selftest_atomics(const T* in, T* total, int* count, unsigned long long* largest, int n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(total, in[i]);
  atomicAdd(count, 1);
  atomicMax(largest, static_cast<unsigned long long>(i));
}

// out[3i..3i+2] = sqrt, sin, cos of in[i] in T.
template <typename T>
__global__ void selftest_math(const T* in, T* out, int n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const T x = in[i];
  out[3 * i] = sqrt(x);
  out[3 * i + 1] = sin(x);
  out[3 * i + 2] = cos(x);
}

// Every parameter kind of the kernel contract, echoed by thread 0 of block 0.
template <typename T>
__global__ void selftest_params(const T* a, T* b, const specsep::cplx<T>* c, specsep::cplx<T>* d, const int* e, int* f,
                                const double* g, double* h, unsigned char* u, int n, long long big, T x, double y) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  b[0] = a[0] + x;
  d[0] = specsep::cplx<T>{c[0].re * x, c[0].im};
  f[0] = e[0] + n;
  f[1] = static_cast<int>(big >> 32);
  f[2] = static_cast<int>(big & 0xffffffffll);
  h[0] = g[0] * y;
  u[0] = static_cast<unsigned char>(255 - u[0]);
}

// Each block writes its own slice of out (blockDim.x values).
template <typename T>
__global__ void selftest_block_slices(T* out) {
#ifdef SPECSEP_MUTATE_SHARED_OUTPUT
  const long i = threadIdx.x;
#else
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
#endif
  out[i] = T(blockIdx.x);
}

// Inclusive prefix sums within each block (Hillis-Steele; blockDim.x values of T of dynamic
// shared memory), `rounds` times over: 2 log2(blockDim.x) + 1 barriers per round.
template <typename T>
__global__ void selftest_scan(const T* in, T* out, int rounds) {
  SPECSEP_DYN_SHARED(T, s);
  const unsigned t = threadIdx.x, n = blockDim.x;
  const long i = static_cast<long>(blockIdx.x) * n + t;
  T v = in[i];
  for (int r = 0; r < rounds; ++r) {
    s[t] = v;
    __syncthreads();
    for (unsigned offset = 1; offset < n; offset *= 2) {
      const T add = t >= offset ? s[t - offset] : T(0);
      __syncthreads();
      s[t] += add;
      __syncthreads();
    }
    v = r + 1 < rounds ? in[i] : s[t];  // every round scans in[] again
  }
  out[i] = v;
}

// Textbook access patterns for the access profiler (tests/test_emu_profile.py). Thread t of the
// grid copies in[stride * t] to out[t]: one global load request and one store request per warp.
template <typename T>
__global__ void selftest_global_stride(const T* in, T* out, int stride) {
  const long t = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  out[t] = in[stride * t];
}

// Each block copies in[0, count) into dynamic shared memory (consecutive lanes, consecutive
// elements), then thread t copies shared element (stride * t) % count to out[t]: stride 1 is
// conflict-free, 2 two-way, 32 (4-byte T) 32-way, 0 a broadcast.
template <typename T>
__global__ void selftest_shared_stride(const T* in, T* out, int stride, int count) {
  SPECSEP_DYN_SHARED(T, s);
  for (int i = threadIdx.x; i < count; i += blockDim.x) s[i] = in[i];
  __syncthreads();
  const long t = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  out[t] = s[(stride * static_cast<long>(threadIdx.x)) % count];
}

// Round r: thread t loads in[r * blockDim.x + t], all from one site, except thread 0 in round 0;
// a barrier ends each round. The warp reconverges there, so thread 0's first load (round 1) is a
// request of round 1, not of round 0.
template <typename T>
__global__ void selftest_reconverge(const T* in, T* out, int rounds) {
  T sum = T(0);
  for (int r = 0; r < rounds; ++r) {
    if (r > 0 || threadIdx.x != 0) sum += in[r * blockDim.x + threadIdx.x];
    __syncthreads();
  }
  out[threadIdx.x] = sum;
}

}  // namespace cuda
}  // namespace specsep
