// The CPU STFT plan: window, synthesis window and frame FFT of one configuration, immutable.
#pragma once
#include <cmath>
#include <vector>

#include "fft_plan.hpp"

namespace specsep {

// A strided 3-d view (batch, frames, freq) of a spectrogram-shaped array, strides in elements.
// The API's (..., freq, frames) arrays are views of frame-major memory: read in place, no copies.
template <typename E>
struct View3 {
  E* data;
  std::ptrdiff_t s0, s1, s2;
  E& operator()(long b, long t, long f) const { return data[b * s0 + t * s1 + f * s2]; }
};

template <typename T>
class CpuPlan {
 public:
  CpuPlan(std::vector<T> window, long hop, bool center, int pad_mode, bool normalized)
      : window(std::move(window)),
        n_fft(static_cast<long>(this->window.size())),
        hop(hop),
        pad(center ? n_fft / 2 : 0),
        pad_mode(pad_mode),
        forward_scale(normalized ? T(1) / std::sqrt(T(n_fft)) : T(1)),
        fft(n_fft) {
    // The backward frame comes out times n (unnormalised inverse DFT); undo that and the forward
    // normalisation in the synthesis window.
    const T backward = (normalized ? std::sqrt(T(n_fft)) : T(1)) / T(n_fft);
    synthesis.resize(this->window.size());
    for (size_t j = 0; j < synthesis.size(); ++j) synthesis[j] = this->window[j] * backward;
  }

  long n_freqs() const { return n_fft / 2 + 1; }
  long n_frames(long n_samples) const { return 1 + (n_samples + 2 * pad - n_fft) / hop; }

  const std::vector<T> window;
  const long n_fft, hop, pad;
  const int pad_mode;
  const T forward_scale;
  const HostFrameFFT<T> fft;
  std::vector<T> synthesis;
};

}  // namespace specsep
