// Phase-retrieval helpers around the STFT kernels: MISI's error distribution and the per-item
// spectral convergence with its stopping rule, evaluated on the device.
#include "common.cuh"

namespace specsep {
namespace cuda {

// MISI (specsep/phase.hpp): y[item, j, s] += weights[j] * (mix[item, s] - sum_j y[item, j, s]).
// grid (ceil(length / blockDim.x), items).
template <typename T>
__global__ void misi_distribute(T* y, const T* mix, long long mix_stride, const T* weights, int sources,
                                long long length) {
  const index_t s = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s >= length) return;
  const index_t item = blockIdx.y;
  distribute_error(y + item * sources * length, length, s, mix[item * mix_stride + s], weights, index_t(sources));
}

// One block per item, grid (1, items): its spectral convergence from the sum of its frame errors (a
// fixed-order sum), recorded in history[item, iteration] while the item is active; the stopping
// rule of specsep/phase.hpp on tol. previous < 0 means no previous iteration.
// blockDim.x is a power of two; dynamic shared memory: blockDim.x doubles.
template <typename T>
__global__ void convergence(const double* frame_error, long long per_item, const double* magnitude_norm,
                            double tol, int* active, double* previous, double* history, long long iteration,
                            long long n_iter) {
  SPECSEP_DYN_SHARED(double, partial);
  const index_t item = blockIdx.y;
  double sum = 0.0;
  for (index_t e = threadIdx.x; e < per_item; e += blockDim.x) sum += frame_error[item * per_item + e];
  const double total = block_sum(sum, partial);
  if (threadIdx.x != 0 || !active[item]) return;
  const double sc = spectral_convergence(total, magnitude_norm[item]);
  history[item * n_iter + iteration] = sc;
  if (!keeps_iterating(previous[item], sc, tol)) active[item] = 0;
  previous[item] = sc;
}

}  // namespace cuda
}  // namespace specsep
