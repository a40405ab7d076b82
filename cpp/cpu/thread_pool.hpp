// A fixed pool of worker threads running parallel_for(count, task): task(i) for every i < count,
// each index exactly once. Results never depend on which worker runs which index (every task
// writes its own output), so they do not depend on the number of threads either.
#pragma once
#include <cstddef>
#include <functional>

namespace specsep {

// Number of workers (>= 1). Default: SPECSEP_NUM_THREADS, else every core.
int num_threads();
void set_num_threads(int n);

// Runs task(i) for i in [0, count) on the pool; the caller works too. Exceptions from tasks are
// rethrown (the first one) after every task has finished.
void parallel_for(std::ptrdiff_t count, const std::function<void(std::ptrdiff_t)>& task);

}  // namespace specsep
