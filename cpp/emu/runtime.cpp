// The emulator's scheduler: blocks one after another, the threads of a block as fibers on the
// calling OS thread, switching only at barriers and warp collectives.
//
// A block runs in sweeps: each ready fiber runs, in thread order, until it reaches a collective
// (or returns); then the collectives whose participants have all arrived complete (warp
// collectives first, then the block barrier) and their fibers become ready again. When nothing
// can complete, the block is stuck: a divergent barrier, reported with where every thread waits.
//
// Fibers switch through a hand-written x86-64 context switch (callee-saved registers and the
// stack pointer; ~10x cheaper than glibc's swapcontext, which makes a sigprocmask system call per
// switch) or ucontext elsewhere (or with -DSPECSEP_EMU_UCONTEXT).
//
// Under ThreadSanitizer (-fsanitize=thread; GPU-VERIFICATION.md):
//  1. every CUDA thread of every block is a fresh TSan fiber, and every switch is
//     __tsan_switch_to_fiber(..., no_sync): switching adds no happens-before edge;
//  2. barriers are modelled explicitly: __tsan_release before waiting and __tsan_acquire after,
//     on a sync object per barrier kind (block, warp w) and parity of the barrier's phase (so a
//     thread that runs ahead into the next phase cannot publish to one still leaving the last),
//     freed with the block so that blocks never synchronise with each other: two blocks touching
//     the same global memory without atomics are reported (kernels must not communicate between
//     blocks). Fiber creation orders the host's writes before the kernel; the host acquires every
//     thread's exit after the grid (threads of an abandoned grid are resumed once to do so).
//     Shared memory (static and dynamic) and fiber stacks are reused by the next block, so before
//     each block fresh pages are mapped over them while TSan ignores the scheduler, which resets
//     their shadow (libtsan's AnnotateNewMemory is a no-op in GCC 12): a block never races with
//     the accesses of the last one there;
//  3. the scheduler's own bookkeeping is hidden (AnnotateIgnoreReads/WritesBegin/End).
// Under AddressSanitizer every switch is announced (__sanitizer_start/finish_switch_fiber) and
// dynamic shared memory is allocated at its exact size, so an overrun is reported.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define SPECSEP_EMU_TSAN 1
#include <sanitizer/tsan_interface.h>
extern "C" {
void AnnotateIgnoreReadsBegin(const char* file, int line);
void AnnotateIgnoreReadsEnd(const char* file, int line);
void AnnotateIgnoreWritesBegin(const char* file, int line);
void AnnotateIgnoreWritesEnd(const char* file, int line);
}
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SPECSEP_EMU_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__x86_64__) && !defined(SPECSEP_EMU_UCONTEXT)
#define SPECSEP_EMU_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

// Last: the CUDA keywords are macros (system headers come first).
#include "cuda_emu.hpp"
#if SPECSEP_EMU_PROFILE
#include "profile.hpp"
#endif

// Static __shared__ variables of the kernels (function-local statics in namespace specsep::cuda),
// gathered into one range by the linker script static_shared.ld; null when it was not used.
extern "C" {
extern unsigned char specsep_emu_static_shared_begin[] __attribute__((weak, visibility("hidden")));
extern unsigned char specsep_emu_static_shared_end[] __attribute__((weak, visibility("hidden")));
}

namespace specsep {
namespace emu {
namespace {

// ---- sanitizer hooks (no-ops in plain builds) ---------------------------------------------------

#if SPECSEP_EMU_TSAN
struct Hidden {  // rule 3: the scheduler's bookkeeping is invisible to TSan
  Hidden() {
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  }
  ~Hidden() {
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  }
  Hidden(const Hidden&) = delete;
  Hidden& operator=(const Hidden&) = delete;
};
inline void tsan_release(void* object) { __tsan_release(object); }
inline void tsan_acquire(void* object) { __tsan_acquire(object); }
#else
struct Hidden {
  Hidden() {}
};
inline void tsan_release(void*) {}
inline void tsan_acquire(void*) {}
#endif

std::size_t page_size() {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

#if SPECSEP_EMU_TSAN
// Maps fresh zero pages over [p, p + n) (page-aligned). Under TSan, done while the scheduler's
// accesses are ignored, the interceptor resets the pages' shadow: the accesses of the last block
// are forgotten.
void remap_pages(void* p, std::size_t n) {
  if (!n) return;
  Hidden hide;
  void* q = mmap(p, n, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (q == MAP_FAILED) {
    std::fprintf(stderr, "specsep emulator: cannot remap %zu bytes at %p\n", n, p);
    std::abort();
  }
}
#endif

unsigned char* map_pages(std::size_t n) {
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw Error("specsep emulator: cannot map " + std::to_string(n) + " bytes");
  return static_cast<unsigned char*>(p);
}

inline std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// ---- contexts -------------------------------------------------------------------------------------

#if SPECSEP_EMU_ASM_SWITCH
extern "C" void specsep_emu_switch(void** save_sp, void* const* load_sp);
extern "C" void specsep_emu_trampoline();
// specsep_emu_switch saves the callee-saved registers on the current stack, stores the stack
// pointer in *save_sp, loads *load_sp and restores the registers saved there (the stack
// pointers are only touched here, out of the race detector's sight). A new context's
// stack holds zeroed registers, with r13 = entry and the return address = the trampoline, which
// calls entry() on the fiber's stack (16-byte aligned) and never returns.
asm(R"(
  .text
  .p2align 4
  .globl specsep_emu_switch
  .hidden specsep_emu_switch
  .type specsep_emu_switch, @function
specsep_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq (%rsi), %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size specsep_emu_switch, .-specsep_emu_switch

  .p2align 4
  .globl specsep_emu_trampoline
  .hidden specsep_emu_trampoline
  .type specsep_emu_trampoline, @function
specsep_emu_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size specsep_emu_trampoline, .-specsep_emu_trampoline
)");

struct Context {
  void* sp = nullptr;
};
inline void context_switch(Context& from, Context& to) { specsep_emu_switch(&from.sp, &to.sp); }
void context_init(Context& c, unsigned char* stack, std::size_t size, void (*entry)()) {
  // After the six pops and `ret`, rsp = top - 16: 16-byte aligned at the trampoline's call, as
  // the ABI requires (the callee then sees rsp = 8 mod 16).
  const std::uintptr_t top = reinterpret_cast<std::uintptr_t>(stack + size) & ~std::uintptr_t(15);
  void** sp = reinterpret_cast<void**>(top - 72);
  sp[0] = nullptr;                                                  // r15
  sp[1] = nullptr;                                                  // r14
  sp[2] = reinterpret_cast<void*>(entry);                           // r13
  sp[3] = nullptr;                                                  // r12
  sp[4] = nullptr;                                                  // rbx
  sp[5] = nullptr;                                                  // rbp: ends frame-pointer walks
  sp[6] = reinterpret_cast<void*>(&specsep_emu_trampoline);         // return address
  c.sp = sp;
}
#else
struct Context {
  ucontext_t uc;
};
inline void context_switch(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
void context_init(Context& c, unsigned char* stack, std::size_t size, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
}
#endif

// ---- scheduler state ------------------------------------------------------------------------------

enum class State : unsigned char { Ready, AtBlock, AtWarp, Done, Faulted };
enum WarpOp : int { kWarpSync = 0, kWarpShuffle = 1, kWarpVote = 2 };

struct Fiber {
  Context ctx;
  unsigned char* stack = nullptr;  // usable stack [stack, stack + stack_size), a guard page below
  std::size_t stack_size = 0;
  State state = State::Done;
  uint3 idx{0, 0, 0};
  unsigned linear = 0, lane = 0, warp = 0;
  // the collective it waits at
  int op = 0;
  const char* what = "";
  const char* file = "";
  int line = 0;
  unsigned mask = 0, src = 0;
  std::uint64_t value = 0, result = 0;
  unsigned phase = 0;
  void* tsan = nullptr;
  void* asan_fake_stack = nullptr;
};

struct Scheduler {
  std::mutex mutex;
  std::vector<Fiber> fibers;  // kMaxThreadsPerBlock entries once allocated; never reallocated
  Context main;
  Fiber* current = nullptr;
  // the grid
  const char* kernel = "";
  Body body = nullptr;
  const void* ctx = nullptr;
  unsigned nthreads = 0, nwarps = 0, done = 0;
  bool abandoning = false;  // a fault: every unfinished fiber is resumed once to leave for good
  unsigned block_phase = 0;
  unsigned warp_phase[kMaxThreadsPerBlock / kWarpSize] = {};
  std::string fault;
  unsigned char* sync_objects = nullptr;  // TSan: 2 per block barrier + 2 per warp, per block
  void* tsan_main = nullptr;
  const void* asan_main_bottom = nullptr;
  std::size_t asan_main_size = 0;
  void* asan_main_fake_stack = nullptr;
  Stats stats;
};

Scheduler& sched() {
  static Scheduler s;
  return s;
}

#if SPECSEP_EMU_TSAN
char g_launch_end;  // every thread releases here when it returns; the host acquires after the grid
#endif

std::size_t stack_bytes() {
  static const std::size_t bytes = [] {
#if SPECSEP_EMU_TSAN || SPECSEP_EMU_ASAN
    std::size_t kib = 512;
#else
    std::size_t kib = 128;
#endif
    if (const char* env = std::getenv("SPECSEP_EMU_STACK_KIB")) {
      const long v = std::atol(env);
      if (v >= 16) kib = static_cast<std::size_t>(v);
    }
    return kib * 1024;
  }();
  return bytes;
}

void allocate_stack(Fiber& f) {
  const std::size_t page = page_size();
  const std::size_t size = round_up(stack_bytes(), page);
  unsigned char* p = map_pages(size + page);
  mprotect(p, page, PROT_NONE);  // overflowing the stack faults instead of corrupting memory
  f.stack = p + page;
  f.stack_size = size;
}

std::string basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

std::string dims(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

std::string hex(unsigned v) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08x", v);
  return buffer;
}

const char* block_op_name(int op) {
  switch (op) {
    case kSyncCount: return "__syncthreads_count()";
    case kSyncAnd: return "__syncthreads_and()";
    case kSyncOr: return "__syncthreads_or()";
    default: return "__syncthreads()";
  }
}

// ---- switching ------------------------------------------------------------------------------------

void fiber_entry();

// Scheduler -> fiber f, until f waits, returns or faults.
void resume(Scheduler& s, Fiber& f) {
  {
    Hidden hide;
    s.current = &f;
    threadIdx = f.idx;
    ++s.stats.switches;
  }
#if SPECSEP_EMU_TSAN
  __tsan_switch_to_fiber(f.tsan, __tsan_switch_to_fiber_no_sync);
#endif
#if SPECSEP_EMU_ASAN
  __sanitizer_start_switch_fiber(&s.asan_main_fake_stack, f.stack, f.stack_size);
#endif
  context_switch(s.main, f.ctx);
#if SPECSEP_EMU_ASAN
  __sanitizer_finish_switch_fiber(s.asan_main_fake_stack, nullptr, nullptr);
#endif
}

// Fiber f -> scheduler for good: publishes the thread's accesses to the host (TSan) and drops
// its fake stack (ASan).
[[noreturn]] void leave(Scheduler& s, Fiber& f) {
#if SPECSEP_EMU_TSAN
  tsan_release(&g_launch_end);
  void* target;
  {
    Hidden hide;
    target = s.tsan_main;
  }
  __tsan_switch_to_fiber(target, __tsan_switch_to_fiber_no_sync);
#endif
#if SPECSEP_EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, s.asan_main_bottom, s.asan_main_size);
#endif
  context_switch(f.ctx, s.main);
  std::abort();  // a fiber that left is never resumed
}

bool abandoning(Scheduler& s) {
  Hidden hide;
  return s.abandoning;
}

// Fiber f -> scheduler; returns when the scheduler resumes f. When the grid is being abandoned
// after a fault, f leaves instead.
void yield(Scheduler& s, Fiber& f) {
  if (abandoning(s)) leave(s, f);
#if SPECSEP_EMU_TSAN
  // Spelled out here and in leave(), not in a helper: no function may return between
  // __tsan_switch_to_fiber and the context switch (TSan's shadow stack is then the other fiber's;
  // a helper made the race driver crash inside TSan).
  void* target;
  {
    Hidden hide;
    target = s.tsan_main;
  }
  __tsan_switch_to_fiber(target, __tsan_switch_to_fiber_no_sync);
#endif
#if SPECSEP_EMU_ASAN
  __sanitizer_start_switch_fiber(&f.asan_fake_stack, s.asan_main_bottom, s.asan_main_size);
#endif
  context_switch(f.ctx, s.main);
#if SPECSEP_EMU_ASAN
  __sanitizer_finish_switch_fiber(f.asan_fake_stack, nullptr, nullptr);
#endif
  if (abandoning(s)) leave(s, f);
}

// The first code a fiber runs, on its own stack: the kernel body for its thread, then back to
// the scheduler for good.
void fiber_entry() {
  Scheduler& s = sched();
#if SPECSEP_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &s.asan_main_bottom, &s.asan_main_size);
#endif
  Fiber* f;
  Body body;
  const void* ctx;
  {
    Hidden hide;
    f = s.current;
    body = s.body;
    ctx = s.ctx;
  }
  if (abandoning(s)) leave(s, *f);  // the grid faulted before this thread started
  body(ctx);
  {
    Hidden hide;
    f->state = State::Done;
    ++s.done;
  }
  leave(s, *f);
}

// ---- sync objects (TSan) --------------------------------------------------------------------------

inline void* block_sync_object(Scheduler& s, unsigned phase) {
  Hidden hide;
  return s.sync_objects + (phase & 1u);
}
inline void* warp_sync_object(Scheduler& s, unsigned warp, unsigned phase) {
  Hidden hide;
  return s.sync_objects + 2 + 2 * warp + (phase & 1u);
}

// ---- one block ------------------------------------------------------------------------------------

std::string where(const Scheduler& s) { return std::string(s.kernel) + ": block " + dims(blockIdx); }

void set_fault(Scheduler& s, const std::string& message) {
  if (s.fault.empty()) s.fault = message;
}

// Completes the warp collectives whose lanes have all arrived. False with s.fault set on a
// malformed mask.
bool resolve_warps(Scheduler& s, bool& progressed) {
  std::vector<Fiber>& F = s.fibers;
  for (unsigned w = 0; w < s.nwarps; ++w) {
    const unsigned base = w * kWarpSize;
    const unsigned count = std::min(kWarpSize, s.nthreads - base);
    for (unsigned l = 0; l < count; ++l) {
      Fiber& f = F[base + l];
      if (f.state != State::AtWarp) continue;
      const unsigned m = f.mask;
      bool complete = true;
      for (unsigned b = 0; b < kWarpSize; ++b) {
        if (!((m >> b) & 1u)) continue;
        if (b >= count) {
          set_fault(s, where(s) + ": " + f.what + " at " + basename_of(f.file) + ":" + std::to_string(f.line) +
                           " in thread " + dims(f.idx) + ": mask " + hex(m) + " names lane " + std::to_string(b) +
                           " of warp " + std::to_string(w) + ", which does not exist (the block has " +
                           std::to_string(s.nthreads) + " threads)");
          return false;
        }
        const Fiber& g = F[base + b];
        if (g.state == State::Done) {
          set_fault(s, where(s) + ": " + f.what + " at " + basename_of(f.file) + ":" + std::to_string(f.line) +
                           " in thread " + dims(f.idx) + ": mask " + hex(m) + " names lane " + std::to_string(b) +
                           " (thread " + dims(g.idx) + "), which has returned");
          return false;
        }
        if (g.state != State::AtWarp || g.op != f.op || g.mask != m) complete = false;
      }
      if (!complete) continue;
      if (f.op == kWarpShuffle) {
        for (unsigned b = 0; b < kWarpSize; ++b) {
          if (!((m >> b) & 1u)) continue;
          Fiber& g = F[base + b];
          if (!((m >> g.src) & 1u)) {
            set_fault(s, where(s) + ": " + g.what + " at " + basename_of(g.file) + ":" + std::to_string(g.line) +
                             " in thread " + dims(g.idx) + " reads lane " + std::to_string(g.src) +
                             ", which is not in the mask " + hex(m) + " (its value is undefined on a GPU)");
            return false;
          }
        }
        for (unsigned b = 0; b < kWarpSize; ++b)
          if ((m >> b) & 1u) F[base + b].result = F[base + F[base + b].src].value;
      } else if (f.op == kWarpVote) {
        unsigned ballot = 0;
        for (unsigned b = 0; b < kWarpSize; ++b)
          if (((m >> b) & 1u) && F[base + b].value) ballot |= 1u << b;
        for (unsigned b = 0; b < kWarpSize; ++b)
          if ((m >> b) & 1u) F[base + b].result = ballot;
      } else {
        ++s.warp_phase[w];
      }
      for (unsigned b = 0; b < kWarpSize; ++b)
        if ((m >> b) & 1u) F[base + b].state = State::Ready;
      ++s.stats.warp_collectives;
      progressed = true;
    }
  }
  return true;
}

// Completes the block barrier when every live thread waits at the same one.
bool resolve_block(Scheduler& s) {
  std::vector<Fiber>& F = s.fibers;
  const Fiber* first = nullptr;
  for (unsigned i = 0; i < s.nthreads; ++i) {
    const Fiber& f = F[i];
    if (f.state == State::Done) continue;
    if (f.state != State::AtBlock) return false;
    if (!first) {
      first = &f;
    } else if (f.op != first->op || f.line != first->line || std::strcmp(f.file, first->file) != 0) {
      return false;
    }
  }
  if (!first) return false;
  std::uint64_t count = 0, live = 0;
  for (unsigned i = 0; i < s.nthreads; ++i) {
    if (F[i].state != State::AtBlock) continue;
    ++live;
    count += F[i].value ? 1 : 0;
  }
  std::uint64_t result = 0;
  switch (first->op) {
    case kSyncCount: result = count; break;
    case kSyncAnd: result = count == live; break;
    case kSyncOr: result = count != 0; break;
    default: break;
  }
  for (unsigned i = 0; i < s.nthreads; ++i) {
    if (F[i].state != State::AtBlock) continue;
    F[i].result = result;
    F[i].state = State::Ready;
  }
  ++s.block_phase;
  ++s.stats.block_barriers;
  return true;
}

std::string describe(const Fiber& f) {
  switch (f.state) {
    case State::Done: return "returned";
    case State::AtBlock:
      return std::string("wait at ") + block_op_name(f.op) + " (" + basename_of(f.file) + ":" + std::to_string(f.line) +
             ")";
    case State::AtWarp:
      return std::string("wait at ") + f.what + "(mask " + hex(f.mask) + ") (" + basename_of(f.file) + ":" +
             std::to_string(f.line) + ")";
    default: return "running";
  }
}

std::string describe_stuck_block(const Scheduler& s) {
  std::string out = where(s) +
                    ": divergent barrier: the block cannot continue (every live thread must reach the same "
                    "__syncthreads() call, and every lane of a warp collective's mask the same collective):";
  unsigned start = 0;
  while (start < s.nthreads) {
    const std::string what = describe(s.fibers[start]);
    unsigned end = start + 1;
    while (end < s.nthreads && describe(s.fibers[end]) == what) ++end;
    out += (start == 0 ? " " : "; ") + std::string("threads ") + std::to_string(start);
    if (end - start > 1) out += "-" + std::to_string(end - 1);
    out += " " + what;
    start = end;
  }
  return out + " (thread numbers are linear: x + blockDim.x * (y + blockDim.y * z))";
}

void run_block(Scheduler& s) {
  const unsigned n = s.nthreads;
  const unsigned bx = blockDim.x, by = blockDim.y;
  {
    Hidden hide;
    s.done = 0;
    s.block_phase = 0;
    std::fill(std::begin(s.warp_phase), std::end(s.warp_phase), 0u);
  }
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = s.fibers[i];
    if (!f.stack) {
      allocate_stack(f);
    } else {
#if SPECSEP_EMU_TSAN
      remap_pages(f.stack, f.stack_size);  // forget the last block's thread on this stack
#endif
    }
    {
      Hidden hide;
      f.state = State::Ready;
      f.linear = i;
      f.lane = i % kWarpSize;
      f.warp = i / kWarpSize;
      f.idx = uint3{i % bx, (i / bx) % by, i / (bx * by)};
      f.asan_fake_stack = nullptr;
    }
#if SPECSEP_EMU_ASAN
    __asan_unpoison_memory_region(f.stack, f.stack_size);  // redzones of an earlier thread's frames
#endif
    {
      Hidden hide;
      context_init(f.ctx, f.stack, f.stack_size, &fiber_entry);
    }
#if SPECSEP_EMU_TSAN
    f.tsan = __tsan_create_fiber(0);  // the host's writes so far happen before this thread
    char name[96];
    std::snprintf(name, sizeof name, "block (%u,%u,%u) thread (%u,%u,%u)", blockIdx.x, blockIdx.y, blockIdx.z, f.idx.x,
                  f.idx.y, f.idx.z);
    __tsan_set_fiber_name(f.tsan, name);
#endif
  }
  ++s.stats.blocks;
  s.stats.threads += n;
  for (;;) {
    bool faulted = false;
    for (unsigned i = 0; i < n && !faulted; ++i) {
      bool ready;
      {
        Hidden hide;
        ready = s.fibers[i].state == State::Ready;
      }
      if (!ready) continue;
      resume(s, s.fibers[i]);
      Hidden hide;
      faulted = !s.fault.empty();
    }
    Hidden hide;
    if (faulted || s.done == n) break;
    bool progressed = false;
    if (!resolve_warps(s, progressed)) break;
    if (progressed) continue;
    if (resolve_block(s)) continue;
    set_fault(s, describe_stuck_block(s));
    break;
  }
  bool faulted;
  {
    Hidden hide;
    faulted = !s.fault.empty();
    s.abandoning = faulted;
  }
  if (faulted) {  // let every unfinished thread leave: it publishes its accesses (TSan)
    for (unsigned i = 0; i < n; ++i) {
      bool unfinished;
      {
        Hidden hide;
        unfinished = s.fibers[i].state != State::Done;
      }
      if (unfinished) resume(s, s.fibers[i]);
    }
    Hidden hide;
    s.abandoning = false;
  }
#if SPECSEP_EMU_TSAN
  for (unsigned i = 0; i < n; ++i) {
    __tsan_destroy_fiber(s.fibers[i].tsan);
    s.fibers[i].tsan = nullptr;
  }
#endif
}

// 0xFF bytes over the kernels' static __shared__ variables (redzones included under ASan, hence
// the uninstrumented byte loop). Under TSan the pages are remapped first: static_shared.ld gives
// the variables pages of their own.
__attribute__((no_sanitize_address)) void poison_static_shared() {
  unsigned char* begin = specsep_emu_static_shared_begin;
  unsigned char* end = specsep_emu_static_shared_end;
  if (!begin || !end || end <= begin) return;
#if SPECSEP_EMU_TSAN
  const std::uintptr_t b = reinterpret_cast<std::uintptr_t>(begin);
  if (b % page_size() == 0) remap_pages(begin, round_up(static_cast<std::size_t>(end - begin), page_size()));
#endif
  for (volatile unsigned char* p = begin; p < end; ++p) *p = 0xFF;
}

constexpr std::size_t kGuardBytes = 64;  // checked after each block in plain builds

}  // namespace

// ---- public entry points --------------------------------------------------------------------------

namespace {

DeviceProfile make_profile(const char* name, std::size_t optin_kib, unsigned max_threads = kMaxThreadsPerBlock) {
  DeviceProfile p;
  p.name = name;
  p.max_threads_per_block = max_threads;
  p.shared_optin = optin_kib * 1024;
  return p;
}

const std::vector<DeviceProfile>& profiles() {
  static const std::vector<DeviceProfile> table = {make_profile("T4", 64), make_profile("A100", 163),
                                                   make_profile("RTX 4090", 99), make_profile("H100", 227)};
  return table;
}

std::mutex g_profile_mutex;
DeviceProfile& current_profile() {
  static DeviceProfile p = *find_profile("H100");
  return p;
}

}  // namespace

const DeviceProfile* find_profile(const std::string& name) {
  for (const auto& p : profiles())
    if (p.name == name) return &p;
  return nullptr;
}

const char* const* profile_names() {
  static const char* const names[] = {"T4", "A100", "RTX 4090", "H100", nullptr};
  return names;
}

DeviceProfile device_profile() {
  std::lock_guard<std::mutex> lock(g_profile_mutex);
  return current_profile();
}

void set_device_profile(const DeviceProfile& profile) {
  if (profile.max_threads_per_block < 1 || profile.max_threads_per_block > kMaxThreadsPerBlock)
    throw Error("max_threads_per_block must be in [1, 1024]");
  for (unsigned d : profile.max_grid)
    if (d < 1 || d > 2147483647u) throw Error("grid limits must be in [1, 2^31 - 1]");
  if (profile.shared_default > profile.shared_optin)
    throw Error("shared_default must not exceed shared_optin (the opt-in limit is the larger)");
  std::lock_guard<std::mutex> lock(g_profile_mutex);
  current_profile() = profile;
}

void check_launch(const char* kernel, Dim3 grid, Dim3 block, std::size_t shared_mem, std::size_t static_shared) {
  const DeviceProfile p = device_profile();
  const std::string k(kernel);
  auto triple = [](Dim3 d) {
    return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
  };
  if (!grid.x || !grid.y || !grid.z) throw Error(k + ": grid " + triple(grid) + " has a zero dimension");
  if (!block.x || !block.y || !block.z) throw Error(k + ": block " + triple(block) + " has a zero dimension");
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads > p.max_threads_per_block || block.z > p.max_block_dim_z)
    throw Error(k + ": block " + triple(block) + " has " + std::to_string(threads) + " threads; the " + p.name +
                " allows at most " + std::to_string(p.max_threads_per_block) + " per block (and blockDim.z <= " +
                std::to_string(p.max_block_dim_z) + ")");
  if (grid.x > p.max_grid[0] || grid.y > p.max_grid[1] || grid.z > p.max_grid[2])
    throw Error(k + ": grid " + triple(grid) + " exceeds the " + p.name + "'s grid limits " +
                triple(Dim3{p.max_grid[0], p.max_grid[1], p.max_grid[2]}));
  if (static_shared + shared_mem > p.shared_optin)
    throw Error(k + ": " + std::to_string(static_shared) + " bytes of static and " + std::to_string(shared_mem) +
                " of dynamic shared memory exceed the " + std::to_string(p.shared_optin) + " bytes a block may have on the " +
                p.name);
}

void run_grid(const char* kernel, Dim3 grid, Dim3 block, std::size_t shared_mem, std::size_t static_shared, Body body,
              const void* ctx) {
  check_launch(kernel, grid, block, shared_mem, static_shared);
  Scheduler& s = sched();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.fibers.empty()) s.fibers.resize(kMaxThreadsPerBlock);
  const unsigned n = block.x * block.y * block.z;

  // Dynamic shared memory: exactly shared_mem bytes under ASan (an overrun is reported), else a
  // guard of 0xFF bytes behind it that must survive each block.
#if SPECSEP_EMU_ASAN
  const std::size_t guard = 0;
#else
  const std::size_t guard = kGuardBytes;
#endif
#if SPECSEP_EMU_TSAN
  // Pages of its own, remapped before every block (see remap_pages).
  const std::size_t mapped = round_up(shared_mem + guard, page_size());
  unsigned char* dynamic = map_pages(mapped);
#else
  void* buffer = nullptr;
  if (posix_memalign(&buffer, 16, shared_mem + guard + (shared_mem + guard == 0 ? 1 : 0)) != 0)
    throw Error(std::string(kernel) + ": cannot allocate " + std::to_string(shared_mem) + " bytes of shared memory");
  unsigned char* dynamic = static_cast<unsigned char*>(buffer);
#endif
  {
    Hidden hide;
    s.kernel = kernel;
    s.body = body;
    s.ctx = ctx;
    s.nthreads = n;
    s.nwarps = (n + kWarpSize - 1) / kWarpSize;
    s.fault.clear();
    ++s.stats.launches;
    g_dynamic_shared = dynamic;
    g_dynamic_shared_size = shared_mem;
    gridDim = dim3(grid.x, grid.y, grid.z);
    blockDim = dim3(block.x, block.y, block.z);
  }
#if SPECSEP_EMU_TSAN
  {
    void* self = __tsan_get_current_fiber();
    Hidden hide;
    s.tsan_main = self;
  }
#endif
  for (unsigned z = 0; z < grid.z && s.fault.empty(); ++z) {
    for (unsigned y = 0; y < grid.y && s.fault.empty(); ++y) {
      for (unsigned x = 0; x < grid.x && s.fault.empty(); ++x) {
        {
          Hidden hide;
          blockIdx = uint3{x, y, z};
        }
#if SPECSEP_EMU_TSAN
        remap_pages(dynamic, mapped);
#endif
        std::memset(dynamic, 0xFF, shared_mem + guard);
        poison_static_shared();
#if SPECSEP_EMU_TSAN
        s.sync_objects = static_cast<unsigned char*>(std::calloc(2 + 2 * s.nwarps, 1));
#endif
        run_block(s);
#if SPECSEP_EMU_TSAN
        {
          Hidden hide;
          std::free(s.sync_objects);  // drops the block's sync objects: blocks never synchronise
          s.sync_objects = nullptr;
        }
#endif
        for (std::size_t i = 0; i < guard && s.fault.empty(); ++i) {
          if (dynamic[shared_mem + i] != 0xFF) {
            Hidden hide;
            set_fault(s, where(s) + ": wrote past the end of dynamic shared memory (shared_mem=" +
                             std::to_string(shared_mem) + " bytes; byte " + std::to_string(shared_mem + i) +
                             " was written)");
          }
        }
      }
    }
  }
#if SPECSEP_EMU_TSAN
  tsan_acquire(&g_launch_end);
#endif
  std::string fault;
  {
    Hidden hide;
    g_dynamic_shared = nullptr;
    g_dynamic_shared_size = 0;
    s.current = nullptr;
    fault.swap(s.fault);
  }
#if SPECSEP_EMU_TSAN
  {
    Hidden hide;
    munmap(dynamic, mapped);
  }
#else
  std::free(buffer);
#endif
  if (!fault.empty()) throw Error(fault);
}

// ---- device-side primitives -----------------------------------------------------------------------

int block_collective(int op, int predicate, const char* file, int line) {
  Scheduler& s = sched();
  Fiber* f;
  unsigned phase;
  {
    Hidden hide;
    f = s.current;
    if (!f) throw Error(std::string(block_op_name(op)) + " called outside an emulated kernel");
#if SPECSEP_EMU_PROFILE
    profile::barrier();  // the access profiler's warps reconverge here
#endif
    f->state = State::AtBlock;
    f->op = op;
    f->value = predicate != 0;
    f->file = file;
    f->line = line;
    phase = s.block_phase;
  }
  tsan_release(block_sync_object(s, phase));
  yield(s, *f);
  tsan_acquire(block_sync_object(s, phase));
  Hidden hide;
  return static_cast<int>(f->result);
}

namespace {

Fiber* enter_warp_op(Scheduler& s, int op, unsigned mask, const char* what, const char* file, int line) {
  Fiber* f;
  {
    Hidden hide;
    f = s.current;
  }
  if (!f) throw Error(std::string(what) + " called outside an emulated kernel");
  unsigned lane;
  {
    Hidden hide;
    lane = f->lane;
  }
  if (!((mask >> lane) & 1u)) {
    char message[128];
    std::snprintf(message, sizeof message, "%s: mask 0x%08x does not include the calling lane %u", what, mask, lane);
    device_fault(message, file, line);
  }
  Hidden hide;
  f->state = State::AtWarp;
  f->op = op;
  f->mask = mask;
  f->what = what;
  f->file = file;
  f->line = line;
  return f;
}

}  // namespace

void warp_sync(unsigned mask, const char* file, int line) {
  Scheduler& s = sched();
  Fiber* f = enter_warp_op(s, kWarpSync, mask, "__syncwarp", file, line);
  unsigned warp, phase;
  {
    Hidden hide;
    warp = f->warp;
    phase = s.warp_phase[warp];
  }
  tsan_release(warp_sync_object(s, warp, phase));
  yield(s, *f);
  tsan_acquire(warp_sync_object(s, warp, phase));
}

std::uint64_t warp_shuffle(unsigned mask, std::uint64_t value, unsigned src_lane, const char* what, const char* file,
                           int line) {
  Scheduler& s = sched();
  Fiber* f = enter_warp_op(s, kWarpShuffle, mask, what, file, line);
  {
    Hidden hide;
    f->value = value;
    f->src = src_lane & 31u;
  }
  yield(s, *f);  // a shuffle moves values, not memory: no happens-before edge
  Hidden hide;
  return f->result;
}

unsigned warp_ballot(unsigned mask, int predicate, const char* what, const char* file, int line) {
  Scheduler& s = sched();
  Fiber* f = enter_warp_op(s, kWarpVote, mask, what, file, line);
  {
    Hidden hide;
    f->value = predicate != 0;
  }
  yield(s, *f);
  Hidden hide;
  return static_cast<unsigned>(f->result);
}

int current_thread() {
  Hidden hide;
  const Fiber* f = sched().current;
  return f ? static_cast<int>(f->linear) : -1;
}

unsigned lane_id() {
  Hidden hide;
  const Fiber* f = sched().current;
  return f ? f->lane : 0;
}

unsigned warp_id() {
  Hidden hide;
  const Fiber* f = sched().current;
  return f ? f->warp : 0;
}

unsigned active_mask() {
  Scheduler& s = sched();
  Hidden hide;
  const Fiber* f = s.current;
  if (!f) return 1u;
  const unsigned base = f->warp * kWarpSize;
  unsigned mask = 0;
  for (unsigned b = 0; b < kWarpSize && base + b < s.nthreads; ++b)
    if (s.fibers[base + b].state != State::Done) mask |= 1u << b;
  return mask;
}

void device_fault(const char* what, const char* file, int line) {
  Scheduler& s = sched();
  Fiber* f;
  {
    Hidden hide;
    f = s.current;
  }
  if (!f) throw Error(std::string("device code: ") + what + " (" + basename_of(file) + ":" + std::to_string(line) + ")");
  {  // every string is gone before the fiber is abandoned
    Hidden hide;
    set_fault(s, std::string(s.kernel) + ": block " + dims(blockIdx) + " thread " + dims(f->idx) + ": " + what + " (" +
                     basename_of(file) + ":" + std::to_string(line) + ")");
    f->state = State::Faulted;
  }
  for (;;) yield(s, *f);  // the scheduler abandons the grid: the fiber leaves from yield
}

Stats stats() {
  Scheduler& s = sched();
  std::lock_guard<std::mutex> lock(s.mutex);
  Hidden hide;
  return s.stats;
}

const char* flavour() {
#if SPECSEP_EMU_TSAN
  return "tsan";
#elif SPECSEP_EMU_ASAN
  return "asan";
#else
  return "plain";
#endif
}

std::size_t static_shared_bytes() {
  if (!specsep_emu_static_shared_begin || !specsep_emu_static_shared_end) return 0;
  return static_cast<std::size_t>(specsep_emu_static_shared_end - specsep_emu_static_shared_begin);
}

}  // namespace emu
}  // namespace specsep
