#include "thread_pool.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
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

// One parallel_for call: workers and the caller claim indices from `next` until none are left.
struct Job {
  std::ptrdiff_t count = 0;
  const std::function<void(std::ptrdiff_t)>* task = nullptr;
  std::atomic<std::ptrdiff_t> next{0};
  std::atomic<std::ptrdiff_t> done{0};
  std::exception_ptr error;
  std::mutex error_mutex;

  void work() {
    for (std::ptrdiff_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      try {
        (*task)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }
};

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void run(Job& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    job.work();
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return job.done.load() == job.count && busy_ == 0; });
    job_ = nullptr;
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

std::mutex g_config_mutex;
int g_threads = 0;
std::unique_ptr<Pool> g_pool;
std::mutex g_run_mutex;  // one parallel_for at a time on the shared pool

Pool* pool_for(int threads) {
  std::lock_guard<std::mutex> lock(g_config_mutex);
  if (g_threads == 0) g_threads = default_threads();
  if (threads <= 1) return nullptr;
  if (!g_pool) g_pool = std::make_unique<Pool>(threads - 1);
  return g_pool.get();
}

}  // namespace

int num_threads() {
  std::lock_guard<std::mutex> lock(g_config_mutex);
  if (g_threads == 0) g_threads = default_threads();
  return g_threads;
}

void set_num_threads(int n) {
  std::lock_guard<std::mutex> run_lock(g_run_mutex);
  std::lock_guard<std::mutex> lock(g_config_mutex);
  g_threads = n < 1 ? 1 : n;
  g_pool.reset();
}

void parallel_for(std::ptrdiff_t count, const std::function<void(std::ptrdiff_t)>& task) {
  if (count <= 0) return;
  Job job;
  job.count = count;
  job.task = &task;
  const int threads = num_threads();
  std::unique_lock<std::mutex> run_lock(g_run_mutex, std::defer_lock);
  Pool* pool = nullptr;
  // A lone task, a single thread, or a pool already busy with another caller's job: run inline.
  if (count > 1 && threads > 1 && run_lock.try_lock()) pool = pool_for(threads);
  if (pool) {
    pool->run(job);
  } else {
    job.work();
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace specsep
