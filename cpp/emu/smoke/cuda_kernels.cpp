// Smoke launchers of the CUDA backend's kernels (cpp/cuda/instantiations.inc) for the sanitizer
// driver: small launches shaped like python/specsep/_cuda/backend.py's, over an even and an odd
// frame length (radix-4/2 and radix-3/5 passes; a prime pass and Bluestein's transform in a few,
// through the kernels' instantiation for any length)
// and every pad mode, with cheap checks against a
// direct DFT and the STFT round trip. Grids stay small: under ThreadSanitizer every CUDA thread
// of every block is a new TSan fiber (about 1 ms each).
#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <vector>

#include "smoke.hpp"  // first: the device layout of specsep::cplx (registry.hpp)
#include "specsep/fft/host_plan.hpp"  // the host-side factorisation and root table the kernels read

using specsep::cplx;
using specsep::emu::launch;
using specsep::emu::smoke::name;

namespace {

constexpr double kPi = 3.14159265358979323846;

template <typename T>
struct Setup {
  int n_fft, hop, pad, pad_mode, threads;
  long long n_samples, n_frames;
  int signals;
  std::vector<T> x, window, synthesis;
  std::vector<int> factors;
  std::vector<cplx<T>> roots;
  long scratch;

  bool smooth;  // fft::is_smooth: the frame-FFT kernels' default instantiation runs it

  Setup(int n, int h, int mode, int nthreads, long long samples, int nsignals)
      : n_fft(n), hop(h), pad(n / 2), pad_mode(mode), threads(nthreads), n_samples(samples), signals(nsignals),
        smooth(specsep::fft::is_smooth(specsep::factorize(n % 2 == 0 ? n / 2 : n))) {
    n_frames = 1 + (n_samples + 2 * pad - n_fft) / hop;
    x.resize(static_cast<size_t>(signals * n_samples));
    for (size_t i = 0; i < x.size(); ++i) x[i] = T(std::sin(0.37 * double(i)) + 0.25 * std::cos(1.9 * double(i)));
    window.resize(n);
    synthesis.resize(n);
    for (int j = 0; j < n; ++j) {
      window[j] = T(0.5 - 0.5 * std::cos(2 * kPi * j / n));  // periodic Hann
      synthesis[j] = window[j] / T(n);
    }
    specsep::DevicePlanArrays<T> plan = specsep::device_plan_arrays<T>(n, false);
    factors = std::move(plan.factors);
    roots = std::move(plan.roots);
    scratch = static_cast<long>(plan.scratch);
  }
  bool global = false;  // the *_global kernels: work buffers in a global scratch array, not shared memory
  // Frames per block of the forward kernels: 4 of the 6 frames, so that one block runs several in
  // turn (its work buffers reused: the sanitizers see consecutive frames) and the last block fewer.
  int frames_per_block = 4;
  // The forward kernels' grid: frames_per_block frames of one signal per block.
  specsep::emu::Dim3 frame_grid() const {
    return {static_cast<unsigned>((n_frames + frames_per_block - 1) / frames_per_block),
            static_cast<unsigned>(signals)};
  }

  long freqs() const { return n_fft / 2 + 1; }
  // The name expression of frame-FFT kernel k<T> for this frame length (cpp/cuda/instantiations.inc).
  std::string kernel(const char* k) const {
    const std::string plain = name(k, T());
    return smooth ? plain : plain.substr(0, plain.size() - 1) + ", specsep::fft::Lengths::any>";
  }
  // The global kernels' scratch: `per_block` complex values for each of `blocks` blocks.
  std::vector<cplx<T>> scratch_for(unsigned blocks, long long per_block) const {
    return std::vector<cplx<T>>(static_cast<size_t>(blocks * per_block));
  }
  size_t fft_shared() const { return static_cast<size_t>(2 * scratch) * sizeof(cplx<T>); }

  // The padded sample, as specsep/framing.hpp defines it.
  T sample(int signal, long s) const {
    long i = s;
    if (s < 0 || s >= n_samples) {
      if (pad_mode == 0) return T(0);
      if (pad_mode == 2 || n_samples == 1) {
        i = s < 0 ? 0 : n_samples - 1;
      } else {
        const long period = 2 * (n_samples - 1);
        long r = s % period;
        if (r < 0) r += period;
        i = r < n_samples ? r : period - r;
      }
    }
    return x[static_cast<size_t>(signal * n_samples + i)];
  }
};

template <typename T>
std::vector<cplx<T>> run_stft(const Setup<T>& s) {
  std::vector<cplx<T>> out(static_cast<size_t>(s.signals * s.n_frames * s.freqs()));
  const specsep::emu::Dim3 grid = s.frame_grid();
  if (s.global) {
    const long long per_block = 2 * s.scratch;
    std::vector<cplx<T>> scratch = s.scratch_for(grid.x * grid.y, per_block);
    launch(s.kernel("stft_global"), grid, {static_cast<unsigned>(s.threads)}, 0, s.x.data(), s.n_samples,
           s.n_samples, s.window.data(), s.roots.data(), s.factors.data(), s.n_fft, s.hop, s.pad, s.pad_mode, T(1),
           s.n_frames, s.frames_per_block, out.data(), scratch.data(), per_block);
    return out;
  }
  launch(s.kernel("stft"), grid, {static_cast<unsigned>(s.threads)}, s.fft_shared(), s.x.data(), s.n_samples,
         s.n_samples, s.window.data(), s.roots.data(), s.factors.data(), s.n_fft, s.hop, s.pad, s.pad_mode, T(1),
         s.n_frames, s.frames_per_block, out.data());
  return out;
}

template <typename T>
void stft_case(int n_fft, int pad_mode, int threads, int signals, bool global = false) {
  Setup<T> s(n_fft, 4, pad_mode, threads, 21, signals);
  s.global = global;
  const std::vector<cplx<T>> out = run_stft(s);
  std::vector<double> got, want;  // re, im of every bin against a direct DFT
  for (int sig = 0; sig < s.signals; ++sig) {
    for (long t = 0; t < s.n_frames; ++t) {
      for (long k = 0; k < s.freqs(); ++k) {
        std::complex<double> acc = 0;
        for (int j = 0; j < n_fft; ++j)
          acc += double(s.window[j]) * double(s.sample(sig, t * s.hop - s.pad + j)) *
                 std::polar(1.0, -2 * kPi * double(j) * double(k) / n_fft);
        const cplx<T> g = out[static_cast<size_t>((sig * s.n_frames + t) * s.freqs() + k)];
        got.push_back(double(g.re));
        got.push_back(double(g.im));
        want.push_back(acc.real());
        want.push_back(acc.imag());
      }
    }
  }
  SPECSEP_SMOKE_CLOSE(got, want, sizeof(T) == 4 ? 1e-5 : 1e-12);
}

// The inverse of run_stft's output (frame-major, no mask: a single 1 through strides 0), or the
// masked inverse of `sources` signals per item when `mask` is given (signals, freqs, frames).
template <typename T>
std::vector<T> run_istft(const Setup<T>& s, const std::vector<cplx<T>>& X, int sources, const std::vector<T>* mask) {
  const int signals = s.signals * sources;
  const int segment = 8 * s.hop;
  const long long length = s.n_samples, start = s.pad;
  const unsigned segments = specsep::emu::smoke::blocks(length, segment);
  std::vector<T> out(static_cast<size_t>(signals * length), T(-1));
  const std::vector<T> one{T(1)};
  const T* M = mask ? mask->data() : one.data();
  const long long F = s.freqs();
  const long long ms0 = mask ? F * s.n_frames : 0, ms1 = mask ? 1 : 0, ms2 = mask ? s.n_frames : 0;
  const specsep::emu::Dim3 grid{segments, static_cast<unsigned>(signals)};
  if (s.global) {
    const long long per_block = 2 * s.scratch + (segment + 1) / 2;  // segment reals in complex values
    std::vector<cplx<T>> scratch = s.scratch_for(grid.x * grid.y, per_block);
    launch(s.kernel("istft_global"), grid, {static_cast<unsigned>(s.threads)}, 0, X.data(), s.n_frames * F, F,
           1ll, M, ms0, ms1, ms2, sources, s.window.data(), s.synthesis.data(), s.roots.data(), s.factors.data(),
           s.n_fft, s.hop, s.n_frames, start, length, segment, out.data(), scratch.data(), per_block);
    return out;
  }
  launch(s.kernel("istft"), grid, {static_cast<unsigned>(s.threads)}, s.fft_shared() + segment * sizeof(T), X.data(),
         s.n_frames * F, F, 1ll, M, ms0, ms1, ms2, sources, s.window.data(), s.synthesis.data(), s.roots.data(),
         s.factors.data(), s.n_fft, s.hop, s.n_frames, start, length, segment, out.data());
  return out;
}

template <typename T>
void istft_case(int n_fft, int pad_mode, int threads, int signals, bool global = false) {
  Setup<T> s(n_fft, 4, pad_mode, threads, 21, signals);
  s.global = global;
  const std::vector<cplx<T>> X = run_stft(s);
  SPECSEP_SMOKE_CLOSE(run_istft(s, X, 1, static_cast<const std::vector<T>*>(nullptr)), s.x, sizeof(T) == 4 ? 1e-5 : 1e-12);
  // Two sources per item whose masks sum to one: their signals sum to the item's.
  const int sources = 2;
  std::vector<T> mask(static_cast<size_t>(s.signals * sources * s.freqs() * s.n_frames));
  for (size_t i = 0; i < mask.size(); ++i) {
    const size_t per_signal = static_cast<size_t>(s.freqs() * s.n_frames);
    const size_t sig = i / per_signal, within = i % per_signal;
    const T m = T(0.2) + T(0.6) * T((within * 7) % 5) / T(4);
    mask[i] = sig % sources == 0 ? m : T(1) - mask[i - per_signal];
  }
  const std::vector<T> y = run_istft(s, X, sources, &mask);
  std::vector<T> sum(s.x.size());
  for (int item = 0; item < s.signals; ++item)
    for (long long i = 0; i < s.n_samples; ++i)
      sum[static_cast<size_t>(item * s.n_samples + i)] =
          y[static_cast<size_t>((item * sources) * s.n_samples + i)] +
          y[static_cast<size_t>((item * sources + 1) * s.n_samples + i)];
  SPECSEP_SMOKE_CLOSE(sum, s.x, sizeof(T) == 4 ? 1e-5 : 1e-12);
}

// The Griffin-Lim STFTs with the fused phase update: y is x, the previous signal zero and the
// target magnitude |STFT(x)|, so every frame's error is (about) zero and the new angles are those
// of STFT(x).
template <typename T>
void phase_update_case(int n_fft, int pad_mode, bool global = false) {
  const int threads = 32;
  const Setup<T> s(n_fft, 4, pad_mode, threads, 21, 2);
  const std::vector<cplx<T>> X = run_stft(s);
  const long F = s.freqs();
  std::vector<T> magnitude(static_cast<size_t>(s.signals * F * s.n_frames));  // (signals, F, frames)
  for (int sig = 0; sig < s.signals; ++sig)
    for (long t = 0; t < s.n_frames; ++t)
      for (long k = 0; k < F; ++k) {
        const cplx<T> c = X[static_cast<size_t>((sig * s.n_frames + t) * F + k)];
        magnitude[static_cast<size_t>((sig * F + k) * s.n_frames + t)] = std::sqrt(c.re * c.re + c.im * c.im);
      }
  std::vector<cplx<T>> angles(X.size(), cplx<T>{T(1), T(0)});
  const std::vector<T> previous(s.x.size(), T(0));
  const std::vector<int> active(static_cast<size_t>(s.signals), 1);
  std::vector<double> frame_error(static_cast<size_t>(s.signals * s.n_frames), -1.0);
  const size_t shared = s.fft_shared() + static_cast<size_t>(F) * sizeof(cplx<T>) + threads * sizeof(double);
  const specsep::emu::Dim3 grid = s.frame_grid();
  if (global) {
    const long long per_block = static_cast<long long>((shared + sizeof(cplx<T>) - 1) / sizeof(cplx<T>));
    std::vector<cplx<T>> scratch = s.scratch_for(grid.x * grid.y, per_block);
    launch(s.kernel("stft_phase_update_global"), grid, {static_cast<unsigned>(threads)}, 0, s.x.data(),
           previous.data(), s.n_samples, s.window.data(), s.roots.data(), s.factors.data(), s.n_fft, s.hop, s.pad,
           s.pad_mode, s.n_frames, s.frames_per_block, magnitude.data(), static_cast<long long>(F * s.n_frames), 1ll, s.n_frames,
           angles.data(), active.data(), 1, T(0.5), std::numeric_limits<T>::epsilon(), 1, frame_error.data(),
           scratch.data(), per_block);
  } else {
    launch(s.kernel("stft_phase_update"), grid, {static_cast<unsigned>(threads)}, shared, s.x.data(),
           previous.data(), s.n_samples, s.window.data(), s.roots.data(), s.factors.data(), s.n_fft, s.hop, s.pad,
           s.pad_mode, s.n_frames, s.frames_per_block, magnitude.data(), static_cast<long long>(F * s.n_frames), 1ll, s.n_frames,
           angles.data(), active.data(), 1, T(0.5), std::numeric_limits<T>::epsilon(), 1, frame_error.data());
  }
  for (double e : frame_error) SPECSEP_SMOKE_CHECK(e >= 0 && e < (sizeof(T) == 4 ? 1e-6 : 1e-20));
  T largest = T(0);
  for (const cplx<T>& c : X) largest = std::max(largest, std::sqrt(c.re * c.re + c.im * c.im));
  for (size_t i = 0; i < X.size(); ++i) {  // angles * |X| is X (angle 1 in bins at the rounding level)
    const T m = std::sqrt(X[i].re * X[i].re + X[i].im * X[i].im);
    SPECSEP_SMOKE_CHECK(std::fabs(angles[i].re * m - X[i].re) + std::fabs(angles[i].im * m - X[i].im) <=
                        (sizeof(T) == 4 ? 1e-4 : 1e-12) * largest);
  }
}

template <typename T>
void misi_case() {
  const int items = 2, sources = 3;
  const long long length = 100;
  std::vector<T> y(static_cast<size_t>(items * sources * length), T(1)), mix(static_cast<size_t>(items * length), T(4));
  const std::vector<T> weights{T(0.5), T(0.25), T(0.25)};
  launch(name("misi_distribute", T()), {specsep::emu::smoke::blocks(length, 64), static_cast<unsigned>(items)}, {64},
         0, y.data(), mix.data(), length, weights.data(), sources, length);
  SPECSEP_SMOKE_CHECK(y[0] == T(1.5) && y[static_cast<size_t>(length)] == T(1.25) && y.back() == T(1.25));
}

template <typename T>
void convergence_case() {
  const int items = 3;
  const long long per_item = 300, n_iter = 4;
  std::vector<double> frame_error(static_cast<size_t>(items * per_item), 0.01), norm{1.0, 2.0, 4.0};
  std::vector<int> active{1, 1, 0};
  std::vector<double> previous{-1.0, 1e-9, 5.0}, history(static_cast<size_t>(items * n_iter), -7.0);
  launch(name("convergence", T()), {1, static_cast<unsigned>(items)}, {64}, 64 * sizeof(double), frame_error.data(),
         per_item, norm.data(), 0.1, active.data(), previous.data(), history.data(), 1ll, n_iter);
  const double sc = std::sqrt(0.01 * per_item);
  SPECSEP_SMOKE_CHECK(std::fabs(history[1] - sc) < 1e-12 && std::fabs(history[n_iter + 1] - sc / 2) < 1e-12);
  SPECSEP_SMOKE_CHECK(history[2 * n_iter + 1] == -7.0);           // inactive: untouched
  SPECSEP_SMOKE_CHECK(active[0] == 1 && active[1] == 0 && active[2] == 0);  // item 1 got worse: stops
}

}  // namespace

// pad modes: 0 constant, 1 reflect, 2 edge
SPECSEP_SMOKE(stft) {
  stft_case<float>(16, 1, 32, 2);
  stft_case<float>(15, 2, 64, 1);
  stft_case<double>(15, 0, 32, 1);
  stft_case<double>(16, 2, 32, 1);
  stft_case<double>(22, 0, 32, 1);   // the prime pass (11)
  stft_case<float>(1031, 0, 32, 1);  // Bluestein's transform
}

SPECSEP_SMOKE(istft) {
  istft_case<float>(16, 1, 32, 2);
  istft_case<float>(15, 0, 64, 1);
  istft_case<double>(16, 2, 32, 1);
  istft_case<double>(15, 1, 32, 1);
  istft_case<float>(1042, 0, 32, 1);  // Bluestein's transform (half length 521)
  istft_case<double>(22, 1, 32, 1);   // the prime pass (11)
}

SPECSEP_SMOKE(stft_phase_update) {
  phase_update_case<float>(16, 1);
  phase_update_case<double>(15, 0);
  phase_update_case<float>(22, 1);  // the prime pass (11)
  phase_update_case<double>(22, 0);
}

// The global-scratch variants (work buffers too big for shared memory): the same checks.
SPECSEP_SMOKE(stft_global) {
  stft_case<float>(16, 1, 32, 2, true);
  stft_case<double>(15, 0, 32, 1, true);
  stft_case<double>(1031, 0, 32, 1, true);
  stft_case<float>(22, 2, 32, 1, true);
}

SPECSEP_SMOKE(istft_global) {
  istft_case<float>(15, 0, 32, 1, true);
  istft_case<double>(16, 2, 32, 2, true);
  istft_case<double>(1031, 0, 32, 1, true);
  istft_case<float>(22, 1, 32, 1, true);
}

SPECSEP_SMOKE(stft_phase_update_global) {
  phase_update_case<float>(15, 2, true);
  phase_update_case<double>(16, 1, true);
  phase_update_case<float>(22, 2, true);
  phase_update_case<double>(22, 0, true);
}

SPECSEP_SMOKE(misi_distribute) {
  misi_case<float>();
  misi_case<double>();
}

SPECSEP_SMOKE(convergence) {
  convergence_case<float>();
  convergence_case<double>();
}
