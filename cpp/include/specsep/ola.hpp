// Overlap-add index ranges and the window-sum-square envelope.
//
// Note [gather OLA]: the inverse STFT is written as a gather: each output sample n sums the frames
// that cover it, t in [first_frame(n), last_frame(n)], in increasing t. No two workers write the
// same sample, so no atomics are needed and the summation order (hence the bits) never depends on
// how the work is split.
#pragma once
#include "hd.hpp"

namespace specsep {

// First frame t with t*hop + n_fft > n, i.e. the first frame covering sample n.
SPECSEP_HD SPECSEP_INLINE index_t ola_first_frame(index_t n, index_t n_fft, index_t hop) {
  index_t d = n - n_fft + 1;
  return d <= 0 ? 0 : (d + hop - 1) / hop;
}

// Last frame covering sample n (t*hop <= n), clipped to the frame count.
SPECSEP_HD SPECSEP_INLINE index_t ola_last_frame(index_t n, index_t hop, index_t n_frames) {
  index_t t = n / hop;
  return t < n_frames - 1 ? t : n_frames - 1;
}

// Envelope sum_t window[n - t*hop]^2 at sample n of the un-trimmed signal.
template <typename T>
SPECSEP_HD SPECSEP_INLINE T window_sum_square_at(const T* SPECSEP_RESTRICT window, index_t n_fft,
                                                 index_t hop, index_t n_frames, index_t n) {
  T acc = T(0);
  const index_t last = ola_last_frame(n, hop, n_frames);
  for (index_t t = ola_first_frame(n, n_fft, hop); t <= last; ++t) {
    const T w = window[n - t * hop];
    acc += w * w;
  }
  return acc;
}

// What an overlap-added sample is divided by: the window-sum-square envelope, or 1 where it is
// below the smallest normal number (samples no window reaches are left as they are, as librosa
// does; python/specsep/_reference/transforms.py's istft writes the same).
template <typename T>
SPECSEP_HD SPECSEP_INLINE T envelope_divisor(T envelope) {
  return envelope > tiny_normal<T>() ? envelope : T(1);
}

}  // namespace specsep
