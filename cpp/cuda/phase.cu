// Phase-retrieval helpers around the STFT kernels: MISI's error distribution and the per-item
// spectral convergence with its stopping rule, evaluated on the device.
#include "common.cuh"

namespace specsep {
namespace cuda {

// MISI: y[item, j, s] += weights[j] * (mix[item, s] - sum_j y[item, j, s]). grid (ceil(length /
// blockDim.x), items).
template <typename T>
__global__ void misi_distribute(T* y, const T* mix, long long mix_stride, const T* weights, int sources,
                                long long length) {
  const index_t s = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s >= length) return;
  T* item = y + static_cast<index_t>(blockIdx.y) * sources * length;
  T sum = T(0);
  for (int j = 0; j < sources; ++j) sum += item[j * length + s];
  const T error = mix[static_cast<index_t>(blockIdx.y) * mix_stride + s] - sum;
  for (int j = 0; j < sources; ++j) item[j * length + s] += weights[j] * error;
}

// One block per item, grid (1, items): its spectral convergence sqrt(sum of frame errors) / ||S|| (a fixed-order
// sum), recorded in history[item, iteration] while the item is active; an item whose relative
// improvement falls under tol (tol >= 0) stops. previous < 0 means no previous iteration.
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
  const double norm = magnitude_norm[item] > 2.2250738585072014e-308 ? magnitude_norm[item] : 2.2250738585072014e-308;
  const double sc = sqrt(total) / norm;
  history[item * n_iter + iteration] = sc;
  if (tol >= 0 && previous[item] >= 0) {
    const double best = previous[item] > 2.2250738585072014e-308 ? previous[item] : 2.2250738585072014e-308;
    if (!((previous[item] - sc) / best >= tol)) active[item] = 0;
  }
  previous[item] = sc;
}

}  // namespace cuda
}  // namespace specsep
