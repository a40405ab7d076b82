// Stress driver of the thread pool for the sanitizer runs of tests/test_pool_reliability.py:
// parallel_for from several threads while another changes the thread count, exceptions from
// tasks, interrupt checks that stop a job, nested calls, and (argument "fork", not under TSan,
// which cannot start threads in a child of a threaded process) fork while a job runs. Exits 0
// when every result is right.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "thread_pool.hpp"

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "pool_stress: %s\n", what);
    std::exit(1);
  }
}

// Every index written exactly once, with a value of its own.
void squares(std::ptrdiff_t count) {
  std::vector<long> out(static_cast<size_t>(count), -1);
  specsep::parallel_for(count, [&](std::ptrdiff_t i) { out[i] = static_cast<long>(i) * i; });
  for (std::ptrdiff_t i = 0; i < count; ++i) require(out[i] == static_cast<long>(i) * i, "a wrong or missing index");
}

void callers_and_thread_counts() {
  std::atomic<bool> stop{false};
  std::thread setter([&] {
    for (int k = 0; !stop.load(); ++k) specsep::set_num_threads(1 + k % 4);
  });
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([c] {
      for (int r = 0; r < 200; ++r) squares(1 + (r * 7 + c) % 97);
    });
  for (auto& t : callers) t.join();
  stop = true;
  setter.join();
}

void exceptions() {
  specsep::set_num_threads(3);
  std::atomic<long> ran{0};
  try {
    specsep::parallel_for(100000, [&](std::ptrdiff_t i) {
      ran.fetch_add(1);
      if (i == 10) throw std::runtime_error("task 10");
      // Tasks long enough (a second in all) that the others cannot finish every one while the
      // thrower is descheduled between its throw and the cancellation, as on a loaded machine.
      std::this_thread::sleep_for(std::chrono::microseconds(30));
    });
    require(false, "the exception was lost");
  } catch (const std::runtime_error& e) {
    require(std::strcmp(e.what(), "task 10") == 0, "another exception");
  }
  require(ran.load() < 100000, "the job went on after an exception");
  squares(1000);
}

std::atomic<int> g_checks{0};
void interrupt_on_second_check() {
  if (g_checks.fetch_add(1) >= 1) throw std::runtime_error("interrupted");
}

void interrupts() {
  specsep::set_num_threads(3);
  g_checks = 0;
  std::atomic<long> ran{0};
  try {
    specsep::InterruptScope scope(interrupt_on_second_check);
    specsep::parallel_for(1000000, [&](std::ptrdiff_t) {
      ran.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    });
    require(false, "no interrupt");
  } catch (const std::runtime_error& e) {
    require(std::strcmp(e.what(), "interrupted") == 0, "another exception");
  }
  require(ran.load() < 1000000, "the job went on after the interrupt");
  squares(1000);  // no scope any more: no check
}

void nested() {
  specsep::set_num_threads(4);
  std::vector<long> sums(64, 0);
  specsep::parallel_for(64, [&](std::ptrdiff_t i) {
    std::vector<long> inner(32, 0);
    specsep::parallel_for(32, [&](std::ptrdiff_t j) { inner[j] = i + j; });
    for (long v : inner) sums[i] += v;
  });
  for (long i = 0; i < 64; ++i) require(sums[i] == 32 * i + 31 * 32 / 2, "a wrong nested sum");
}

void fork_while_running() {
  specsep::set_num_threads(2);
  std::atomic<bool> stop{false}, started{false};
  std::thread busy([&] {
    while (!stop.load()) {
      started = true;
      squares(20000);
    }
  });
  while (!started.load()) std::this_thread::yield();
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(60);  // a hang ends the child with SIGALRM
    require(specsep::num_threads() == 2, "the child lost the thread count");
    squares(5000);
    specsep::set_num_threads(3);
    squares(5000);
    std::exit(0);  // static destructors run
  }
  int status = 0;
  require(waitpid(pid, &status, 0) == pid, "waitpid");
  stop = true;
  busy.join();
  require(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the fork child failed or hung");
}

}  // namespace

int main(int argc, char** argv) {
  callers_and_thread_counts();
  exceptions();
  interrupts();
  nested();
  if (argc > 1 && std::strcmp(argv[1], "fork") == 0) fork_while_running();
  squares(777);
  std::puts("pool_stress: ok");
  return 0;
}
