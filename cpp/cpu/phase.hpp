// Fast Griffin-Lim and MISI on the CPU: the whole iteration loop in C++, buffers allocated once.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "drivers.hpp"
#include "io.hpp"

namespace specsep {

// Per-item stopping on `tol` and the spectral-convergence history, as the reference's _Iteration.
// Without `track` (no history asked for, no tol) the loop runs every iteration and measures
// nothing: the convergence costs a modulus per bin and a read of the magnitudes per iteration.
class IterationState {
 public:
  IterationState(index_t items, double tol, bool track)
      : active_(items, 1), previous_(items, -1.0), tol_(tol), track_(track || tol >= 0) {}
  bool tracking() const { return track_; }
  bool any_active() const { return std::find(active_.begin(), active_.end(), 1) != active_.end(); }
  const char* active() const { return active_.data(); }

  // Records this iteration's spectral convergence; items whose relative improvement fell under
  // tol stop after it (they keep the update of this iteration).
  void record(const std::vector<double>& sc) {
    for (size_t b = 0; b < active_.size(); ++b) {
      history_.push_back(active_[b] ? sc[b] : std::nan(""));
      if (!active_[b]) continue;
      if (!keeps_iterating(previous_[b], sc[b], tol_)) active_[b] = 0;
      previous_[b] = sc[b];
    }
    ++iterations_;
  }
  index_t iterations() const { return iterations_; }
  // (items, iterations), row-major
  void history(double* out) const {
    const size_t items = active_.size();
    for (index_t i = 0; i < iterations_; ++i)
      for (size_t b = 0; b < items; ++b) out[b * iterations_ + i] = history_[i * items + b];
  }

 private:
  std::vector<char> active_;
  std::vector<double> previous_, history_;
  double tol_;
  bool track_;
  index_t iterations_ = 0;
};

// One GLA (sources == 1, mixture == nullptr) or MISI problem over `items` items of `sources`
// signals each, from the loaded `phase` (load_state.hpp). Signals are (items * sources, length) in
// `out`; the history goes to `state`. data_epsilon: that of the magnitudes' precision
// (Note [vanishing bins] in specsep/phase.hpp).
template <typename T>
void retrieve_phase(const CpuPlan<T>& plan, const PhaseState<T>& phase, index_t items, index_t sources, const T* mixture,
                    std::ptrdiff_t mixture_stride, const std::vector<T>& weights, index_t n_iter, double momentum,
                    index_t length, index_t start, T* out, IterationState& state,
                    T data_epsilon) {
  constexpr int L = Lanes<T>::count;
  const index_t signals = items * sources, n_frames = phase.n_frames, F = phase.n_freqs;
  std::vector<double> norm(static_cast<size_t>(items), 0.0);  // ||S||^2 per item, for the convergence
  for (index_t i = 0; i < signals && state.tracking(); ++i)
    for (index_t t = 0; t < n_frames; ++t)
      for (index_t f = 0; f < F; ++f) {
        const double m = phase.magnitudes(i, t)[f][t % L];
        norm[i / sources] += m * m;
      }

  auto invert = [&](T* y) {
    run_istft(plan, signals, n_frames, start, length, y, length, MagnitudeTimesAngles<T>{phase});
    if (!mixture) return;
    for (index_t b = 0; b < items; ++b) {  // MISI
      check_interrupt();
      T* item = y + b * sources * length;
      for (index_t s = 0; s < length; ++s)
        distribute_error(item, length, s, mixture[b * mixture_stride + s], weights.data(), sources);
    }
  };

  std::vector<T> other(n_iter > 0 ? static_cast<size_t>(signals * length) : 0, T(0));
  T* current = out;             // x_k
  T* previous = other.data();   // x_(k-1), zero before the first iteration (librosa's rebuilt = 0)
  std::vector<double> frame_error(state.tracking() ? static_cast<size_t>(signals * n_frames) : 0);
  std::vector<double> sc(static_cast<size_t>(items));
  const T alpha = T(momentum / (1.0 + momentum));
  for (index_t it = 0; it < n_iter && state.any_active(); ++it) {
    check_interrupt();  // Note [interrupts] in thread_pool.hpp
    invert(current);
    if (state.tracking())
      run_stft(plan, Samples<T>{current}, signals, length, length, n_frames, MagnitudeError<T>{phase, frame_error.data()});
    // the new angles from the STFT of x_k - alpha * x_(k-1) (Note [momentum by linearity])
    run_stft(plan, Extrapolated<T>{current, previous, alpha}, signals, length, length, n_frames,
             PhaseUpdate<T>{phase, state.active(), sources, alpha, data_epsilon});
    std::swap(current, previous);  // x_(k-1)'s buffer takes x_(k+1)
    if (!state.tracking()) continue;
    std::fill(sc.begin(), sc.end(), 0.0);
    for (index_t i = 0; i < signals; ++i)  // a fixed order: the same bits for any thread count
      for (index_t t = 0; t < n_frames; ++t) sc[i / sources] += frame_error[i * n_frames + t];
    for (index_t b = 0; b < items; ++b) sc[b] = spectral_convergence(sc[b], std::sqrt(norm[b]));
    state.record(sc);
  }
  invert(out);
}

}  // namespace specsep
