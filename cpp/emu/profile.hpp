// The emulator's access profiler: what a GPU's memory system would see of one launch.
//
// Only the profiling modules (specsep._emu_profile, specsep._emu_selftest_profile) contain it:
// their kernel translation unit is compiled with GCC's ThreadSanitizer instrumentation
// (-fsanitize=thread, not linked against libtsan), so every load and store of the kernels calls
// __tsan_read<N>/__tsan_write<N>, which profile.cpp defines. The default modules have neither
// the instrumentation nor this code, so profiling costs them nothing.
//
// Each access of a CUDA thread is attributed to the running fiber and classified as shared
// (the block's dynamic buffer or the static __shared__ range), global (inside one of the launch's
// argument arrays) or local (anything else: the fiber's stack, constant tables). The k-th
// execution of one instruction (its call site) by the lanes of a warp since the last block barrier
// is one warp request: lanes that skip it (divergence) are inactive in it, and a barrier, where
// the warp reconverges, starts the count again (a lane that skipped a site in one pass of a loop
// of passes is grouped with the others again in the next). Per request:
//   global: 32-byte sectors and 128-byte lines touched, and the ideal sector count
//           ceil(distinct bytes / 32);
//   shared: wavefronts, i.e. per phase the most distinct 32-bit words that fall in one of the 32
//           4-byte banks (lanes reading one word share it: broadcast); accesses of 8 bytes run in
//           two phases (half warps), of 16 bytes in four (quarter warps), as the CUDA C++
//           Programming Guide describes for 64- and 128-bit shared accesses; ideal
//           ceil(distinct bytes / 128).
// Addresses are laid out as on a GPU (each argument array at a 256-byte-aligned base of its own,
// shared memory from bank 0), so the counts depend neither on where malloc put the host arrays nor
// on the run. Widths are the compiler's (g++, without vectorising, store merging or scalar
// replacement of aggregates): a copy of a whole struct is one access of its size, split into
// naturally aligned pieces of at most 16 bytes (the widest GPU access).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime.hpp"

namespace specsep {
namespace emu {
namespace profile {

enum Space : int { kGlobal = 0, kShared = 1 };
enum Direction : int { kLoad = 0, kStore = 1 };
constexpr int kWidths = 5;  // access widths 1, 2, 4, 8, 16 bytes

struct Counters {
  std::uint64_t requests = 0;          // warp-level instructions
  std::uint64_t bytes = 0;             // bytes the active lanes asked for
  std::uint64_t units = 0;             // global: 32-byte sectors; shared: wavefronts
  std::uint64_t ideal_units = 0;       // the fewest sectors / wavefronts for the distinct bytes
  std::uint64_t lines = 0;             // global: distinct 128-byte lines (L1 passes of the request)
  std::uint64_t by_width[kWidths] = {};  // requests by access width
};

struct LaunchReport {
  std::string kernel;
  Dim3 grid, block;
  std::size_t shared_mem = 0;
  Counters counters[2][2];               // [Space][Direction]
  std::uint64_t unique_sectors[2] = {};  // global sectors first touched in this launch [Direction]
  std::uint64_t block_load_sectors = 0;  // sum over blocks of the distinct sectors a block loads
                                         // (its L1 misses, were L1 private to the block)
  std::uint64_t local_accesses = 0;      // accesses outside shared memory and the argument arrays
  // The global counters again per argument array (in the order given to begin), [Direction]: which
  // argument's accesses carry the sectors. A request counts for the array of its first lane.
  std::vector<std::array<Counters, 2>> by_array;
};

// Starts recording a launch whose global memory is `arrays` (begin, size in bytes).
void begin(const char* kernel, Dim3 grid, Dim3 block, std::size_t shared_mem,
           std::vector<std::pair<const void*, std::size_t>> arrays);
// Ends it: folds the last block in and returns the launch's counts.
LaunchReport end();
// The running thread reached a block barrier: the lanes of its warp reconverge there, so its next
// accesses start new executions of their sites (the emulator's __syncthreads calls it).
void barrier();

}  // namespace profile
}  // namespace emu
}  // namespace specsep
