// The emulator's execution model (runtime.cpp): a grid runs block after block on the calling OS
// thread; the threads of a block are fibers that switch only at barriers and warp collectives,
// in a fixed order, so every run is deterministic.
//
// Plain host C++ (no CUDA keywords): used by cuda_emu.hpp (the device-side surface), by
// registry.hpp (launch by name) and by the smoke launchers of the sanitizer driver.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace specsep {
namespace emu {

// Launch dimensions of the emulator's API (components default to 1, like dim3).
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// The emulator's own bounds: fiber slots per block and warp size (every profile is within them).
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kWarpSize = 32;

// The launch limits of one device (cudaDeviceProp's names): the launch checks enforce the current
// profile, as that device's driver would refuse the launch. Static + dynamic shared memory of a
// block must fit `shared_optin` (a GPU also needs the kernel's MaxDynamicSharedMemorySize
// attribute raised above `shared_default` minus its static shared memory, which CuPy sets
// through RawKernel.max_dynamic_shared_size_bytes; the emulator does not model that attribute).
struct DeviceProfile {
  std::string name;
  unsigned max_threads_per_block = kMaxThreadsPerBlock;
  unsigned max_block_dim_z = 64;
  unsigned max_grid[3] = {2147483647u, 65535, 65535};
  std::size_t shared_default = 48 * 1024;  // sharedMemPerBlock
  std::size_t shared_optin = 0;            // sharedMemPerBlockOptin
};

// The named profiles: "T4" (sm_75, 64 KiB), "A100" (sm_80, 163 KiB), "RTX 4090" (sm_89, 99 KiB),
// "H100" (sm_90, 227 KiB; the default).
const DeviceProfile* find_profile(const std::string& name);
const char* const* profile_names();  // null-terminated
DeviceProfile device_profile();
// Replaces the current profile (throws Error on limits outside the emulator's bounds); launches
// are serialised with it.
void set_device_profile(const DeviceProfile& profile);

// An emulated fault: divergent barrier, bad warp mask, shared-memory overrun, bad launch
// configuration. launch() throws it after abandoning the grid (Python sees a RuntimeError).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs body(ctx) once per CUDA thread of the grid. Launches are serialised by a mutex (the
// static __shared__ variables and the scheduler are process-wide); the calling thread runs them.
using Body = void (*)(const void* ctx);
void run_grid(const char* kernel, Dim3 grid, Dim3 block, std::size_t shared_mem, std::size_t static_shared, Body body,
              const void* ctx);

// Checks a launch configuration against the current profile (`static_shared`: the kernel's
// static __shared__ bytes); throws Error naming the kernel.
void check_launch(const char* kernel, Dim3 grid, Dim3 block, std::size_t shared_mem, std::size_t static_shared);

// ---- device-side primitives, called by the fibers through cuda_emu.hpp -------------------------

// Per-block dynamic shared memory (poisoned with 0xFF bytes, i.e. NaN, before each block).
inline unsigned char* g_dynamic_shared = nullptr;
inline std::size_t g_dynamic_shared_size = 0;  // its bytes (the launch's shared_mem)

// The running CUDA thread's linear index in its block (x fastest), or -1 on the host: the access
// profiler (profile.hpp) attributes each access to it.
int current_thread();

// Block collectives: op 0 = __syncthreads, 1 = _count, 2 = _and, 3 = _or. Every live thread of
// the block must reach the same call site; threads that have returned do not take part.
enum BlockOp : int { kSyncThreads = 0, kSyncCount = 1, kSyncAnd = 2, kSyncOr = 3 };
int block_collective(int op, int predicate, const char* file, int line);

// Warp collectives over the lanes of `mask` (which must include the caller). __syncwarp orders
// memory among the lanes; shuffles and votes do not (as in CUDA).
void warp_sync(unsigned mask, const char* file, int line);
std::uint64_t warp_shuffle(unsigned mask, std::uint64_t value, unsigned src_lane, const char* what, const char* file,
                           int line);
unsigned warp_ballot(unsigned mask, int predicate, const char* what, const char* file, int line);
unsigned active_mask();
unsigned lane_id();
unsigned warp_id();

// A fault raised by device code (__trap, an invalid intrinsic argument): abandons the grid. The
// calling fiber never returns, so `what` must not own heap memory (the sanitizer build would
// report it as leaked): format it into a local char buffer.
[[noreturn]] void device_fault(const char* what, const char* file, int line);

// Counters since the process started (for benchmarks and tests).
struct Stats {
  std::uint64_t launches = 0, blocks = 0, threads = 0, switches = 0, block_barriers = 0, warp_collectives = 0;
};
Stats stats();

// The build flavour, for reports: "plain", "tsan", "asan" (ASan/UBSan builds say "asan").
const char* flavour();
// Bytes of static __shared__ storage found in this binary (0 when the linker script was not used).
std::size_t static_shared_bytes();

}  // namespace emu
}  // namespace specsep
