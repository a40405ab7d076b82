// The access profiler (profile.hpp): the ThreadSanitizer callbacks that the instrumented kernel
// translation unit calls, grouped into warp requests per block and counted per launch. Compiled
// without instrumentation, into the profiling modules only.
#include "profile.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "cuda_emu.hpp"

extern unsigned char specsep_emu_static_shared_begin[] __attribute__((weak, visibility("hidden")));
extern unsigned char specsep_emu_static_shared_end[] __attribute__((weak, visibility("hidden")));

namespace specsep {
namespace emu {
namespace profile {
namespace {

struct Access {
  std::uintptr_t site;  // the instruction (its return address), + piece index for split accesses
  std::uintptr_t address;
  unsigned char width, store, space;
  unsigned array;  // global: the argument array's index
  unsigned epoch;  // the thread's block barriers before it
};

struct Recorder {
  bool active = false;
  LaunchReport report;
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> arrays;  // [begin, end)
  std::unordered_set<std::uint64_t> touched[2];                   // global sectors per direction
  std::unordered_set<std::uint64_t> block_loads;                  // sectors the current block loaded
  std::vector<std::vector<Access>> threads;                       // the current block's accesses
  std::vector<unsigned> epochs;                                   // its threads' barriers so far
  long long block = -1;                                           // its linear index
};

Recorder& recorder() {
  static Recorder r;
  return r;
}

int width_index(unsigned width) { return width == 1 ? 0 : width == 2 ? 1 : width == 4 ? 2 : width == 8 ? 3 : 4; }

struct Lane {
  unsigned lane;
  std::uintptr_t address;
  unsigned width;
  unsigned array;
};

void count_global(Recorder& r, Counters& c, Counters& by_array, const std::vector<Lane>& lanes, int direction) {
  std::unordered_set<std::uint64_t> sectors, lines;
  std::unordered_map<std::uintptr_t, unsigned> distinct;
  for (const Lane& l : lanes) {
    for (std::uintptr_t line = l.address / 128; line <= (l.address + l.width - 1) / 128; ++line) lines.insert(line);
    for (std::uintptr_t s = l.address / 32; s <= (l.address + l.width - 1) / 32; ++s) {
      sectors.insert(s);
      r.touched[direction].insert(s);
      if (direction == kLoad) r.block_loads.insert(s);
    }
    distinct[l.address] = std::max(distinct[l.address], l.width);
  }
  std::uint64_t bytes = 0;
  for (const auto& d : distinct) bytes += d.second;
  for (Counters* counts : {&c, &by_array}) {
    counts->units += sectors.size();
    counts->lines += lines.size();
    counts->ideal_units += (bytes + 31) / 32;
  }
}

void count_shared(Counters& c, const std::vector<Lane>& lanes, unsigned width) {
  // 4-byte (and narrower) accesses: one phase of 32 lanes; 8 bytes: two of 16; 16 bytes: four of 8.
  const unsigned per_phase = width <= 4 ? 32 : 32 / (width / 4);
  std::unordered_map<unsigned, std::unordered_set<std::uintptr_t>> banks[4];
  std::unordered_map<std::uintptr_t, unsigned> distinct;
  for (const Lane& l : lanes) {
    auto& phase = banks[l.lane / per_phase];
    for (std::uintptr_t word = l.address / 4; word <= (l.address + l.width - 1) / 4; ++word)
      phase[static_cast<unsigned>(word % 32)].insert(word);
    distinct[l.address] = std::max(distinct[l.address], l.width);
  }
  for (const auto& phase : banks) {
    std::size_t most = 0;
    for (const auto& bank : phase) most = std::max(most, bank.second.size());
    c.units += most;
  }
  std::uint64_t bytes = 0;
  for (const auto& d : distinct) bytes += d.second;
  c.ideal_units += (bytes + 127) / 128;
}

// Folds the recorded block into the launch's counters: per warp, the n-th execution of a site by
// each lane is one request.
void flush(Recorder& r) {
  const std::size_t nthreads = r.threads.size();
  for (std::size_t warp = 0; warp * kWarpSize < nthreads; ++warp) {
    struct Key {
      std::uintptr_t site;
      unsigned kind, epoch, n;
      bool operator==(const Key& o) const {
        return site == o.site && kind == o.kind && epoch == o.epoch && n == o.n;
      }
    };
    struct Hash {
      std::size_t operator()(const Key& k) const {
        return k.site * 0x9E3779B97F4A7C15ull ^ ((std::size_t(k.epoch) << 32) + k.n * 4 + k.kind);
      }
    };
    std::unordered_map<Key, std::vector<Lane>, Hash> requests;
    std::vector<Key> order;
    for (std::size_t t = warp * kWarpSize; t < std::min(nthreads, (warp + 1) * kWarpSize); ++t) {
      std::unordered_map<std::uintptr_t, unsigned> seen;  // (site, kind) -> executions since the barrier
      unsigned epoch = 0;
      for (const Access& a : r.threads[t]) {
        if (a.epoch != epoch) {
          seen.clear();
          epoch = a.epoch;
        }
        const unsigned kind = a.space * 2 + a.store;
        const Key key{a.site, kind, epoch, seen[a.site * 4 + kind]++};
        auto it = requests.find(key);
        if (it == requests.end()) {
          it = requests.emplace(key, std::vector<Lane>()).first;
          order.push_back(key);
        }
        it->second.push_back(Lane{static_cast<unsigned>(t % kWarpSize), a.address, a.width, a.array});
      }
      r.threads[t].clear();
    }
    for (const Key& key : order) {
      const std::vector<Lane>& lanes = requests[key];
      const int space = static_cast<int>(key.kind / 2), direction = static_cast<int>(key.kind % 2);
      Counters& c = r.report.counters[space][direction];
      Counters* arg = space == kGlobal ? &r.report.by_array[lanes[0].array][direction] : nullptr;
      unsigned width = 0, bytes = 0;
      for (const Lane& l : lanes) {
        width = std::max(width, l.width);
        bytes += l.width;
      }
      for (Counters* counts : {&c, arg}) {
        if (!counts) continue;
        counts->bytes += bytes;
        ++counts->requests;
        ++counts->by_width[width_index(width)];
      }
      if (space == kGlobal)
        count_global(r, c, *arg, lanes, direction);
      else
        count_shared(c, lanes, width);
    }
  }
  r.report.block_load_sectors += r.block_loads.size();
  r.block_loads.clear();
}

bool in(std::uintptr_t a, const void* begin, std::size_t size) {
  const auto b = reinterpret_cast<std::uintptr_t>(begin);
  return a >= b && a < b + size;
}

// Folds the previous block in when the running thread is in another one.
void enter_block(Recorder& r) {
  const long long block =
      blockIdx.x + static_cast<long long>(gridDim.x) * (blockIdx.y + static_cast<long long>(gridDim.y) * blockIdx.z);
  if (block == r.block) return;
  flush(r);
  r.block = block;
  const std::size_t nthreads = static_cast<std::size_t>(blockDim.x) * blockDim.y * blockDim.z;
  r.threads.resize(nthreads);
  r.epochs.assign(nthreads, 0);
}

// `narrow`: the widest piece, 16 bytes or less (a range access of an under-aligned struct).
void record(std::uintptr_t site, const void* address, std::size_t size, bool store, std::size_t narrow = 16) {
  Recorder& r = recorder();
  if (!r.active) return;
  const int thread = current_thread();
  if (thread < 0) return;  // host code of the instrumented unit (the launch wrapper)
  // Addresses as a GPU lays them out, so counts depend on neither malloc nor the run: each
  // argument array at a 256-byte-aligned base of its own (cudaMalloc's and CuPy's alignment),
  // dynamic and static shared memory each from bank 0.
  const auto raw = reinterpret_cast<std::uintptr_t>(address);
  std::uintptr_t a = 0;
  int space = -1;
  unsigned array = 0;
  if (in(raw, g_dynamic_shared, g_dynamic_shared_size)) {
    space = kShared;
    a = raw - reinterpret_cast<std::uintptr_t>(g_dynamic_shared);
  } else if (specsep_emu_static_shared_begin &&
             in(raw, specsep_emu_static_shared_begin,
                static_cast<std::size_t>(specsep_emu_static_shared_end - specsep_emu_static_shared_begin))) {
    space = kShared;
    a = raw - reinterpret_cast<std::uintptr_t>(specsep_emu_static_shared_begin) + (std::uintptr_t(1) << 40);
  } else {
    for (std::size_t i = 0; i < r.arrays.size() && space < 0; ++i)
      if (raw >= r.arrays[i].first && raw < r.arrays[i].second) {
        space = kGlobal;
        array = static_cast<unsigned>(i);
        a = raw - r.arrays[i].first + ((i + 1) << 40);
      }
  }
  if (space < 0) {
    ++r.report.local_accesses;
    return;
  }
  enter_block(r);
  // Naturally aligned pieces of at most 16 bytes, each its own site.
  std::uintptr_t piece = 0;
  for (std::uintptr_t at = a; size > 0;) {
    std::size_t w = narrow;
    while (w > size || at % w != 0) w /= 2;
    r.threads[static_cast<std::size_t>(thread)].push_back(Access{site * 64 + piece++, at, static_cast<unsigned char>(w),
                                                                 static_cast<unsigned char>(store),
                                                                 static_cast<unsigned char>(space), array,
                                                                 r.epochs[static_cast<std::size_t>(thread)]});
    at += w;
    size -= w;
  }
}

}  // namespace

void begin(const char* kernel, Dim3 grid, Dim3 block, std::size_t shared_mem,
           std::vector<std::pair<const void*, std::size_t>> arrays) {
  Recorder& r = recorder();
  r = Recorder();
  r.report.kernel = kernel;
  r.report.grid = grid;
  r.report.block = block;
  r.report.shared_mem = shared_mem;
  for (const auto& a : arrays) {
    const auto b = reinterpret_cast<std::uintptr_t>(a.first);
    r.arrays.emplace_back(b, b + a.second);
  }
  r.report.by_array.resize(r.arrays.size());
  r.active = true;
}

void barrier() {
  Recorder& r = recorder();
  const int thread = current_thread();
  if (!r.active || thread < 0) return;
  enter_block(r);
  ++r.epochs[static_cast<std::size_t>(thread)];
}

LaunchReport end() {
  Recorder& r = recorder();
  flush(r);
  r.active = false;
  r.report.unique_sectors[kLoad] = r.touched[kLoad].size();
  r.report.unique_sectors[kStore] = r.touched[kStore].size();
  LaunchReport out = r.report;
  r = Recorder();
  return out;
}

}  // namespace profile
}  // namespace emu
}  // namespace specsep

// ---- the ThreadSanitizer entry points of GCC's instrumentation ----------------------------------
// Hidden: the module's own instrumented unit binds to them, never to a sanitizer runtime.
#define SPECSEP_PROFILE_API extern "C" __attribute__((visibility("hidden")))
#define SPECSEP_PROFILE_SITE reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))
using specsep::emu::profile::record;

SPECSEP_PROFILE_API void __tsan_init() {}
SPECSEP_PROFILE_API void __tsan_func_entry(void*) {}
SPECSEP_PROFILE_API void __tsan_func_exit() {}
SPECSEP_PROFILE_API void __tsan_vptr_update(void**, void*) {}
SPECSEP_PROFILE_API void __tsan_vptr_read(void**) {}
#define SPECSEP_PROFILE_RW(n)                                                                              \
  SPECSEP_PROFILE_API void __tsan_read##n(void* p) { record(SPECSEP_PROFILE_SITE, p, n, false); }           \
  SPECSEP_PROFILE_API void __tsan_write##n(void* p) { record(SPECSEP_PROFILE_SITE, p, n, true); }           \
  SPECSEP_PROFILE_API void __tsan_unaligned_read##n(void* p) { record(SPECSEP_PROFILE_SITE, p, n, false); } \
  SPECSEP_PROFILE_API void __tsan_unaligned_write##n(void* p) { record(SPECSEP_PROFILE_SITE, p, n, true); } \
  SPECSEP_PROFILE_API void __tsan_volatile_read##n(void* p) { record(SPECSEP_PROFILE_SITE, p, n, false); }  \
  SPECSEP_PROFILE_API void __tsan_volatile_write##n(void* p) { record(SPECSEP_PROFILE_SITE, p, n, true); }
SPECSEP_PROFILE_RW(1)
SPECSEP_PROFILE_RW(2)
SPECSEP_PROFILE_RW(4)
SPECSEP_PROFILE_RW(8)
SPECSEP_PROFILE_RW(16)
#undef SPECSEP_PROFILE_RW
// GCC reports an aggregate of 16 bytes or less as a range when its alignment is below its size
// (an 8-byte struct of floats aligned to 4): nvcc moves such a struct in scalar pieces, counted
// as 4-byte ones here. Larger aggregates are ranges whatever their alignment.
constexpr std::size_t range_piece(unsigned long size) { return size <= 16 ? 4 : 16; }
SPECSEP_PROFILE_API void __tsan_read_range(void* p, unsigned long size) {
  record(SPECSEP_PROFILE_SITE, p, size, false, range_piece(size));
}
SPECSEP_PROFILE_API void __tsan_write_range(void* p, unsigned long size) {
  record(SPECSEP_PROFILE_SITE, p, size, true, range_piece(size));
}

// Atomics: the instrumented unit calls these instead of the operation, so they perform it
// (relaxed, as the emulator's atomics are). They are not counted as accesses.
SPECSEP_PROFILE_API void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
SPECSEP_PROFILE_API void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
#define SPECSEP_PROFILE_ATOMIC(bits, T)                                                                          \
  SPECSEP_PROFILE_API T __tsan_atomic##bits##_load(const volatile T* a, int) {                                   \
    return __atomic_load_n(a, __ATOMIC_RELAXED);                                                                 \
  }                                                                                                              \
  SPECSEP_PROFILE_API void __tsan_atomic##bits##_store(volatile T* a, T v, int) {                                \
    __atomic_store_n(a, v, __ATOMIC_RELAXED);                                                                    \
  }                                                                                                              \
  SPECSEP_PROFILE_API T __tsan_atomic##bits##_exchange(volatile T* a, T v, int) {                                \
    return __atomic_exchange_n(a, v, __ATOMIC_RELAXED);                                                          \
  }                                                                                                              \
  SPECSEP_PROFILE_API T __tsan_atomic##bits##_fetch_add(volatile T* a, T v, int) {                               \
    return __atomic_fetch_add(a, v, __ATOMIC_RELAXED);                                                           \
  }                                                                                                              \
  SPECSEP_PROFILE_API T __tsan_atomic##bits##_fetch_sub(volatile T* a, T v, int) {                               \
    return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED);                                                           \
  }                                                                                                              \
  SPECSEP_PROFILE_API T __tsan_atomic##bits##_fetch_and(volatile T* a, T v, int) {                               \
    return __atomic_fetch_and(a, v, __ATOMIC_RELAXED);                                                           \
  }                                                                                                              \
  SPECSEP_PROFILE_API T __tsan_atomic##bits##_fetch_or(volatile T* a, T v, int) {                                \
    return __atomic_fetch_or(a, v, __ATOMIC_RELAXED);                                                            \
  }                                                                                                              \
  SPECSEP_PROFILE_API T __tsan_atomic##bits##_fetch_xor(volatile T* a, T v, int) {                               \
    return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED);                                                           \
  }                                                                                                              \
  SPECSEP_PROFILE_API int __tsan_atomic##bits##_compare_exchange_strong(volatile T* a, T* c, T v, int, int) {    \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                      \
  }                                                                                                              \
  SPECSEP_PROFILE_API int __tsan_atomic##bits##_compare_exchange_weak(volatile T* a, T* c, T v, int, int) {      \
    return __atomic_compare_exchange_n(a, c, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                       \
  }                                                                                                              \
  SPECSEP_PROFILE_API T __tsan_atomic##bits##_compare_exchange_val(volatile T* a, T c, T v, int, int) {          \
    __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                            \
    return c;                                                                                                    \
  }
SPECSEP_PROFILE_ATOMIC(8, unsigned char)
SPECSEP_PROFILE_ATOMIC(16, unsigned short)
SPECSEP_PROFILE_ATOMIC(32, unsigned int)
SPECSEP_PROFILE_ATOMIC(64, unsigned long long)
#undef SPECSEP_PROFILE_ATOMIC
