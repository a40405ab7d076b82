// The CPU STFT plan: window, synthesis window and frame FFT of one configuration, immutable.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "specsep/fft/host_plan.hpp"
#include "specsep/ola.hpp"

namespace specsep {

// A 3-d view (item, frames, freq) of a spectrogram-shaped array, strides in elements. Items sit at
// offsets items[b] (the array's leading axes, whatever their strides; module.cpp builds the table),
// so the API's arrays are read in place in any layout: no copies.
template <typename E>
struct View3 {
  E* data;
  const std::ptrdiff_t* items;
  std::ptrdiff_t s1, s2;
  E& operator()(index_t b, index_t t, index_t f) const { return data[items[b] + t * s1 + f * s2]; }
  // Whether items b .. b + count - 1 lie one element apart (SIMD lanes along the item axis).
  bool unit_items(index_t b, int count) const {
    for (int l = 1; l < count; ++l)
      if (items[b + l] != items[b] + l) return false;
    return true;
  }
};

template <typename T>
class CpuPlan {
 public:
  // pad: the centre padding, and pad_mode its enum PadMode code, as the Python plan derived them
  // (STFT.padding, STFT.pad_mode_code); nothing is derived from them again here.
  CpuPlan(std::vector<T> window, index_t hop, index_t pad, int pad_mode, bool normalized)
      : window(std::move(window)),
        n_fft(static_cast<index_t>(this->window.size())),
        hop(hop),
        pad(pad),
        pad_mode(pad_mode),
        forward_scale(normalized ? T(1) / std::sqrt(T(n_fft)) : T(1)),
        fft(n_fft) {
    // The backward frame comes out times n (unnormalised inverse DFT); undo that and the forward
    // normalisation in the synthesis window.
    // Both go with the window scaled by c (Note [scaled synthesis] in specsep/_plan.py): no float32
    // overflow for window values of 1e19, the same bits as unscaled wherever nothing overflows.
    const T backward = (normalized ? std::sqrt(T(n_fft)) : T(1)) / T(n_fft);
    const T c = synthesis_scale(this->window);
    synthesis.resize(this->window.size());
    envelope_window.resize(this->window.size());
    for (size_t j = 0; j < synthesis.size(); ++j) {
      synthesis[j] = this->window[j] * backward / c / c;
      envelope_window[j] = this->window[j] / c;
    }
    // Where every frame that can cover a sample exists, the envelope is periodic in the hop.
    // Summed in the order of window_sum_square_at (increasing frame = decreasing window index),
    // so that both give the same bits.
    // A hop longer than the window (analysis with gaps) leaves residues r >= n_fft at 0.
    steady_envelope.assign(static_cast<size_t>(hop), T(0));
    for (index_t r = 0; r < std::min(hop, n_fft); ++r)
      for (index_t j = r + ((n_fft - 1 - r) / hop) * hop; j >= r; j -= hop)
        steady_envelope[static_cast<size_t>(r)] += envelope_window[j] * envelope_window[j];
  }

  // The smallest power of two >= max |window| and at least 1 (Note [scaled synthesis]).
  static T synthesis_scale(const std::vector<T>& window) {
    T peak = T(0);
    for (T w : window) peak = std::max(peak, std::abs(w));
    int exponent = 0;
    const T mantissa = std::frexp(peak, &exponent);
    return std::ldexp(T(1), std::max(0, exponent - (mantissa == T(0.5))));
  }

  index_t n_freqs() const { return n_fft / 2 + 1; }

  const std::vector<T> window;
  const index_t n_fft, hop, pad;
  const int pad_mode;
  const T forward_scale;
  const HostFrameFFT<T> fft;
  std::vector<T> synthesis;
  std::vector<T> envelope_window;  // window / c: what the envelope is summed from
  std::vector<T> steady_envelope;  // envelope at samples s with every covering frame present, by s % hop

  // What the overlap-added samples [s0, s1) of a signal of n_frames frames are divided by
  // (envelope_divisor in specsep/ola.hpp).
  void envelope_divisor(index_t n_frames, index_t s0, index_t s1, T* SPECSEP_RESTRICT out) const {
    // Edges sample by sample; the steady range [n_fft - 1, n_frames * hop) copied from its period.
    const index_t steady_begin = std::clamp(n_fft - 1, s0, s1), steady_end = std::clamp(n_frames * hop, steady_begin, s1);
    index_t s = s0;
    for (; s < steady_begin; ++s) out[s - s0] = window_sum_square_at(envelope_window.data(), n_fft, hop, n_frames, s);
    for (index_t r = s % hop; s < steady_end; r = 0) {
      const index_t run = std::min(hop - r, steady_end - s);
      std::copy(steady_envelope.begin() + r, steady_envelope.begin() + r + run, out + (s - s0));
      s += run;
    }
    for (; s < s1; ++s) out[s - s0] = window_sum_square_at(envelope_window.data(), n_fft, hop, n_frames, s);
    for (index_t i = 0; i < s1 - s0; ++i) out[i] = specsep::envelope_divisor(out[i]);
  }
};

}  // namespace specsep
