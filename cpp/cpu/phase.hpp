// Fast Griffin-Lim and MISI on the CPU: the whole iteration loop in C++, buffers allocated once.
// The arithmetic of one update is specsep/phase.hpp, shared with the CUDA kernels.
#pragma once
#include <cmath>
#include <vector>

#include "specsep/phase.hpp"
#include "stft_plan.hpp"

namespace specsep {

// Per-item stopping and history, as the reference's _Iteration.
class IterationState {
 public:
  IterationState(long batch, double tol) : active_(batch, 1), previous_(batch, -1.0), tol_(tol) {}
  bool any_active() const {
    for (char a : active_) if (a) return true;
    return false;
  }
  bool active(long b) const { return active_[b] != 0; }
  // Records this iteration's spectral convergence of every item and stops converged ones.
  void record(const std::vector<double>& sc) {
    const long batch = static_cast<long>(active_.size());
    for (long b = 0; b < batch; ++b) {
      history_.push_back(active_[b] ? sc[b] : std::nan(""));
      if (!active_[b]) continue;
      if (tol_ >= 0 && previous_[b] >= 0) {
        const double improvement = (previous_[b] - sc[b]) / std::max(previous_[b], kTiny);
        if (!(improvement >= tol_)) active_[b] = 0;
      }
      previous_[b] = sc[b];
    }
    ++iterations_;
  }
  long iterations() const { return iterations_; }
  // history laid out (batch, iterations)
  std::vector<double> history() const {
    const long batch = static_cast<long>(active_.size());
    std::vector<double> out(static_cast<size_t>(batch * iterations_));
    for (long i = 0; i < iterations_; ++i)
      for (long b = 0; b < batch; ++b) out[b * iterations_ + i] = history_[i * batch + b];
    return out;
  }

 private:
  static constexpr double kTiny = 2.2250738585072014e-308;
  std::vector<char> active_;
  std::vector<double> previous_;
  std::vector<double> history_;
  double tol_;
  long iterations_ = 0;
};

// One phase-retrieval problem: items b < batch of `sources` spectrograms each (1 for GLA),
// magnitudes mag(b, t, f) with b counting (item, source) pairs, angles updated in place.
template <typename T>
struct PhaseProblem {
  const CpuPlan<T>& plan;
  long items, sources, n_frames, length, start;
  View3<const T> magnitude;  // (items * sources, frames, freqs)
  std::vector<cplx<T>> angles, previous;  // (items * sources, frames, freqs), contiguous
  std::vector<double> frame_error;        // (items * sources, frames)
  std::vector<double> magnitude_norm;     // (items)

  PhaseProblem(const CpuPlan<T>& p, long items_, long sources_, long frames, long length_, long start_,
               View3<const T> mag)
      : plan(p), items(items_), sources(sources_), n_frames(frames), length(length_), start(start_),
        magnitude(mag),
        angles(static_cast<size_t>(items_ * sources_ * frames * p.n_freqs())),
        previous(angles.size(), cplx<T>{T(0), T(0)}),
        frame_error(static_cast<size_t>(items_ * sources_ * frames)),
        magnitude_norm(static_cast<size_t>(items_), 0.0) {
    const long F = plan.n_freqs();
    for (long i = 0; i < items * sources; ++i)
      for (long t = 0; t < n_frames; ++t)
        for (long f = 0; f < F; ++f) {
          const double m = magnitude(i, t, f);
          magnitude_norm[i / sources] += m * m;
        }
  }
  cplx<T>& angle(long i, long t, long f) { return angles[(i * n_frames + t) * plan.n_freqs() + f]; }

  // signals(i, :) = iSTFT of magnitude * angles, for every (item, source) i.
  void invert(T* signals) {
    plan.istft(items * sources, n_frames, start, length, signals, length,
               [&](long i, long t, long f) { return scale(angle(i, t, f), magnitude(i, t, f)); });
  }

  // STFT of signals, then the momentum update of the active items; returns spectral convergence.
  std::vector<double> update(const T* signals, T alpha, const IterationState& state) {
    const long F = plan.n_freqs();
    plan.stft(signals, items * sources, length, length, n_frames,
              [&](long i, long t, const cplx<T>* rebuilt) {
                double error = 0.0;
                const bool active = state.active(i / sources);
                cplx<T>* prev = &previous[(i * n_frames + t) * F];
                cplx<T>* ang = &angle(i, t, 0);
                for (long f = 0; f < F; ++f) {
                  const double d = std::hypot(double(rebuilt[f].re), double(rebuilt[f].im)) - magnitude(i, t, f);
                  error += d * d;
                  const cplx<T> next = accelerated_phase(rebuilt[f], prev[f], alpha);
                  prev[f] = rebuilt[f];
                  if (active) ang[f] = next;
                }
                frame_error[i * n_frames + t] = error;
              });
    std::vector<double> sc(static_cast<size_t>(items), 0.0);
    for (long i = 0; i < items * sources; ++i)  // fixed order: same bits for any thread count
      for (long t = 0; t < n_frames; ++t) sc[i / sources] += frame_error[i * n_frames + t];
    for (long b = 0; b < items; ++b)
      sc[b] = std::sqrt(sc[b]) / std::max(std::sqrt(magnitude_norm[b]), 2.2250738585072014e-308);
    return sc;
  }
};

}  // namespace specsep
