// A fixed pool of worker threads running parallel_for(count, task): task(i) for every i < count,
// each index exactly once. Results never depend on which worker runs which index (every task
// writes its own output), so they do not depend on the number of threads either.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>

namespace specsep {

// Threads the kernels use (>= 1): those asked for (set_num_threads, else SPECSEP_NUM_THREADS,
// else every core), or, once the pool is built, those the system let it start (Note [thread
// creation] in thread_pool.cpp).
int num_threads();
// Asks for n threads, and builds the pool for them now unless a parallel_for holds it (then its
// next use does).
void set_num_threads(int n);

// Runs task(i) for i in [0, count) on the pool; the caller works too. After an exception from a
// task (or from check_interrupt on the calling thread) no further index starts, and the first
// exception is rethrown once the tasks already running have finished.
void parallel_for(std::ptrdiff_t count, const std::function<void(std::ptrdiff_t)>& task);

// Note [interrupts]: a kernel called from Python runs for as long as its input asks, with the GIL
// released, so Python cannot act on Ctrl-C until it returns. An InterruptScope on the calling
// thread names a check (module.cpp: run Python's signal handlers, throw if one raised), and
// check_interrupt() runs it on that thread at most every kPollInterval: parallel_for calls it
// after each of the caller's tasks and while the caller waits for the workers, long loops between
// their steps. The exception stops the parallel_for (its workers claim no further index), unwinds
// the kernel, and reaches Python. Workers and threads without a scope never check.
class InterruptScope {
 public:
  using Check = void (*)();  // throws to stop the kernel
  static constexpr std::chrono::milliseconds kPollInterval{50};

  explicit InterruptScope(Check check);  // nullptr: this call is not checked
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  friend void check_interrupt();
  Check check_;
  std::chrono::steady_clock::time_point due_;
  InterruptScope* outer_;
};

// Runs the calling thread's interrupt check if one is due (Note [interrupts]).
void check_interrupt();

}  // namespace specsep
