#include "thread_pool.hpp"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

namespace specsep {
namespace {

int default_threads() {
  if (const char* env = std::getenv("SPECSEP_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// One parallel_for call: workers and the caller claim indices from `next` until none are left or
// the job has stopped on an exception.
struct Job {
  std::ptrdiff_t count = 0;
  const std::function<void(std::ptrdiff_t)>* task = nullptr;
  std::atomic<std::ptrdiff_t> next{0};
  std::atomic<bool> stopped{false};
  std::exception_ptr error;
  std::mutex error_mutex;

  void work() {
    while (!stopped.load(std::memory_order_relaxed)) {
      const std::ptrdiff_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= count) return;
      try {
        (*task)(i);
        check_interrupt();  // a no-op on the workers
      } catch (...) {
        fail(std::current_exception());
      }
    }
  }

  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!error) error = std::move(e);
    stopped.store(true, std::memory_order_relaxed);
  }
};

// Note [thread creation]: a thread can fail to start (EAGAIN from pthread_create: RLIMIT_NPROC,
// the kernel's thread limit, or no address space left for its stack under RLIMIT_AS). The pool
// then runs on fewer workers, as OpenBLAS does: the results are the same for any thread count,
// num_threads() reports the count in use, and specsep.set_num_threads warns. It keeps half of
// the workers that started, not all: the limit they reached also bounds the rest of the process
// (its memory, its other threads), which would otherwise be left no room at all. A Pool that
// cannot start a thread stops there and keeps the ones it has (unwinding its constructor would
// destroy the condition variables they wait on).
class Pool {
 public:
  explicit Pool(int workers) {
    try {
      for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { loop(); });
    } catch (const std::system_error&) {
    } catch (const std::bad_alloc&) {
    }
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int workers() const { return static_cast<int>(threads_.size()); }

  void run(Job& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    job.work();
    // The indices are all claimed (or the job stopped): wait for the workers' last tasks, still
    // checking for interrupts while they run.
    std::unique_lock<std::mutex> lock(mutex_);
    while (!finished_.wait_for(lock, InterruptScope::kPollInterval, [&] { return busy_ == 0; })) {
      if (job.stopped.load(std::memory_order_relaxed)) continue;
      lock.unlock();
      try {
        check_interrupt();
      } catch (...) {
        job.fail(std::current_exception());
      }
      lock.lock();
    }
    job_ = nullptr;  // a worker that wakes only now finds no job
  }

 private:
  void loop() {
    unsigned long seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || (job_ != nullptr && generation_ != seen); });
      if (stopping_) return;
      seen = generation_;
      Job* job = job_;
      ++busy_;
      lock.unlock();
      job->work();
      lock.lock();
      --busy_;
      finished_.notify_all();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  Job* job_ = nullptr;
  unsigned long generation_ = 0;
  int busy_ = 0;
  bool stopping_ = false;
};

// Note [fork]: a child of fork() has the memory of the pool but none of its threads, and the
// mutexes that other threads held at the fork stay locked forever. So everything the pool shares
// lives in one Registry, and the child abandons its parent's: a fresh Registry, with the thread
// count asked for, builds a pool of its own on first use. The parent's is never destroyed there
// (that would join threads that do not exist and destroy mutexes that may be locked); it stays
// reachable from the new one. No Registry is destroyed at exit either, so that exit never waits
// for a worker, nor frees a pool that another thread may still be using.
struct Registry {
  Registry() = default;
  explicit Registry(Registry* parent) : requested(parent->requested), parent(parent) {}

  // Builds the pool for the threads asked for, replacing the one there; `run` and `config` held.
  void rebuild() {
    pool.reset();  // joins its workers, idle since `run` is held
    if (requested == 0) requested = default_threads();
    if (requested > 1) pool = std::make_unique<Pool>(requested - 1);
    if (pool && pool->workers() < requested - 1) {  // Note [thread creation]
      const int keep = pool->workers() / 2;
      pool.reset();
      if (keep > 0) pool = std::make_unique<Pool>(keep);
    }
    started = pool ? 1 + pool->workers() : 1;
    built = true;
  }

  std::mutex run;     // held by the parallel_for that uses the pool, and while it is replaced
  std::mutex config;  // guards the fields below
  int requested = 0;  // threads asked for; 0: the default, not read yet
  int started = 1;    // 1 + the pool's workers, once built
  bool built = false; // whether the pool is the one for `requested`
  std::unique_ptr<Pool> pool;
  Registry* parent = nullptr;  // the parent process's, abandoned (fork child only)
};

Registry* g_registry = new Registry;

void abandon_parent_pool() { g_registry = new Registry(g_registry); }

[[maybe_unused]] const int g_fork_handler = pthread_atfork(nullptr, nullptr, abandon_parent_pool);

// The pool, built or rebuilt for the threads asked for; nullptr for one thread. `run` held.
Pool* ready_pool(Registry& registry) {
  std::lock_guard<std::mutex> lock(registry.config);
  if (!registry.built) registry.rebuild();
  return registry.pool.get();
}

thread_local InterruptScope* t_interrupt_scope = nullptr;
// Whether this thread holds the registry's `run` (a parallel_for on the pool): a nested call, or
// one from a signal handler run by check_interrupt, must not lock it again.
thread_local bool t_holds_pool = false;

// The registry's `run`, if wanted, taken unless this thread holds it already or another does.
class PoolLock {
 public:
  explicit PoolLock(Registry& registry, bool wanted = true) : lock_(registry.run, std::defer_lock) {
    if (wanted && !t_holds_pool && lock_.try_lock()) t_holds_pool = true;
  }
  ~PoolLock() {
    if (lock_.owns_lock()) t_holds_pool = false;
  }
  PoolLock(const PoolLock&) = delete;
  PoolLock& operator=(const PoolLock&) = delete;
  bool owned() const { return lock_.owns_lock(); }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace

int num_threads() {
  Registry& registry = *g_registry;
  std::lock_guard<std::mutex> lock(registry.config);
  if (registry.built) return registry.started;
  if (registry.requested == 0) registry.requested = default_threads();
  return registry.requested;
}

void set_num_threads(int n) {
  Registry& registry = *g_registry;
  // Not waiting for a parallel_for that holds the pool (it may be this thread's own, when a signal
  // handler run by check_interrupt calls this): it rebuilds the pool on its next use instead.
  const PoolLock run(registry);
  std::lock_guard<std::mutex> lock(registry.config);
  registry.requested = n < 1 ? 1 : n;
  registry.built = false;
  if (run.owned()) registry.rebuild();
}

void parallel_for(std::ptrdiff_t count, const std::function<void(std::ptrdiff_t)>& task) {
  if (count <= 0) return;
  Job job;
  job.count = count;
  job.task = &task;
  Registry& registry = *g_registry;
  // A lone task, a single thread, or a pool already busy with another job: run inline.
  const PoolLock run(registry, count > 1);
  Pool* pool = run.owned() ? ready_pool(registry) : nullptr;
  if (pool) {
    pool->run(job);
  } else {
    job.work();
  }
  if (job.error) std::rethrow_exception(job.error);
}

InterruptScope::InterruptScope(Check check)
    : check_(check), due_(std::chrono::steady_clock::now() + kPollInterval), outer_(t_interrupt_scope) {
  t_interrupt_scope = this;
}

InterruptScope::~InterruptScope() { t_interrupt_scope = outer_; }

void check_interrupt() {
  InterruptScope* scope = t_interrupt_scope;
  if (!scope || !scope->check_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < scope->due_) return;
  scope->due_ = now + InterruptScope::kPollInterval;
  scope->check_();
}

}  // namespace specsep
