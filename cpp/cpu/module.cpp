// pybind11 module specsep._cpu: NumPy arrays in, dtype dispatch to the templated drivers, GIL
// released while they run. Arguments are validated in Python (specsep/_cpu_backend.py); the checks
// here only keep a wrong call from touching memory it does not own.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <complex>
#include <cstdlib>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>

#include "buffer_cache.hpp"
#include "io.hpp"
#include "load_state.hpp"
#include "masks.hpp"
#include "phase.hpp"

namespace py = pybind11;
using specsep::cplx;
using specsep::index_t;

namespace {

template <typename E>
using array = py::array_t<E, 0>;  // no forcecast: a wrong dtype is a Python-side bug

// A C-contiguous array whose memory comes from the buffer cache (buffer_cache.hpp).
template <typename E>
array<E> output(std::vector<py::ssize_t> shape) {
  std::size_t count = 1;
  for (py::ssize_t d : shape) count *= static_cast<std::size_t>(d);
  void* block = specsep::acquire_buffer(count * sizeof(E));
  py::capsule owner(block, [](void* p) { specsep::release_buffer(p); });
  return array<E>(shape, static_cast<E*>(block), owner);
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

// (rows, n) with unit stride along n; an empty array qualifies whatever strides NumPy gave it.
bool unit_rows(const py::array& a) {
  return a.ndim() == 2 && (a.size() == 0 || a.strides(1) == a.itemsize());
}

template <typename E>
std::ptrdiff_t stride(const py::array& a, int axis) {
  return a.strides(axis) / static_cast<std::ptrdiff_t>(sizeof(E));
}

// The items of an array, its leading axes (all but the last `core`): each one's element offset, in
// the order the kernels visit them, and each one's index in C order (the row its result goes to).
// In memory order the axes are visited by decreasing stride, so that items adjacent in memory are
// adjacent in the table: the drivers read such runs as SIMD lanes (librosa's layout, batch axes
// innermost). Any strides are read in place: no copies.
struct Items {
  std::vector<std::ptrdiff_t> offsets;
  std::vector<index_t> order;
};

Items items_of(const py::array& a, int core, const std::string& name, bool memory_order) {
  require(a.ndim() >= core, name + " must have at least " + std::to_string(core) + " dimensions");
  for (int d = 0; d < a.ndim(); ++d)
    require(a.strides(d) % static_cast<py::ssize_t>(a.itemsize()) == 0, name + " strides must be whole elements");
  const int n = static_cast<int>(a.ndim()) - core;
  std::vector<int> axes(static_cast<size_t>(n));
  std::iota(axes.begin(), axes.end(), 0);
  if (memory_order)
    std::stable_sort(axes.begin(), axes.end(),
                     [&](int i, int j) { return std::abs(a.strides(i)) > std::abs(a.strides(j)); });
  py::ssize_t count = 1;
  for (int d = 0; d < n; ++d) count *= a.shape(d);
  Items items;
  items.offsets.reserve(static_cast<size_t>(count));
  items.order.reserve(static_cast<size_t>(count));
  std::vector<py::ssize_t> index(static_cast<size_t>(n), 0);
  for (py::ssize_t k = 0; k < count; ++k) {
    std::ptrdiff_t offset = 0;
    index_t c = 0;
    for (int d = 0; d < n; ++d) {
      offset += index[d] * (a.strides(d) / a.itemsize());
      c = c * a.shape(d) + index[d];
    }
    items.offsets.push_back(offset);
    items.order.push_back(c);
    for (int q = n - 1; q >= 0; --q) {  // the last axis visited moves fastest
      const int d = axes[static_cast<size_t>(q)];
      if (++index[d] < a.shape(d)) break;
      index[d] = 0;
    }
  }
  return items;
}

// (..., freq, frames) complex or real array as an (item, frames, freq) element view over `items`.
template <typename E>
specsep::View3<const E> spectrogram_view(const py::array& a, const Items& items) {
  const py::ssize_t d = a.ndim();
  return {static_cast<const E*>(a.data()), items.offsets.data(), a.strides(d - 1) / a.itemsize(),
          a.strides(d - 2) / a.itemsize()};
}

// Runs Python's signal handlers for a kernel running without the GIL, so that Ctrl-C raises
// KeyboardInterrupt in it (Note [interrupts] in thread_pool.hpp).
void check_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

unsigned long g_main_thread = 0;  // threading.main_thread().ident, set at import

// A kernel's run: the GIL released and, on the main thread (the only one that runs Python's
// signal handlers), interrupts checked. Declared after the arrays the kernel writes, so that they
// outlive it when an interrupt unwinds the call.
class KernelRun {
  specsep::InterruptScope interrupts_{PyThread_get_thread_ident() == g_main_thread ? check_signals : nullptr};
  py::gil_scoped_release release_;
};

template <typename T>
class Plan {
 public:
  Plan(array<T> window, index_t hop, index_t pad, int pad_mode, bool normalized)
      : plan_(checked_window(window, pad), hop, pad, pad_mode, normalized) {}

  static std::vector<T> checked_window(const array<T>& window, index_t pad) {
    require(window.ndim() == 1 && window.size() >= 2, "window must be 1-d with n_fft >= 2 points");
    require(pad >= 0 && pad <= static_cast<index_t>(window.size()) / 2, "padding must be in [0, n_fft // 2]");
    return std::vector<T>(window.data(), window.data() + window.size());
  }

  // x: (..., samples), any strides -> (items, frames, freqs) complex, frame-major, items in C
  // order; the frame count is the Python plan's (STFT.n_frames), checked to lie in the padded signal.
  py::array stft(array<T> x, index_t frames) const {
    const Items items = items_of(x, 1, "x", false);
    const index_t batch = static_cast<index_t>(items.offsets.size()), n = static_cast<index_t>(x.shape(x.ndim() - 1));
    require(frames >= 1 && (frames - 1) * plan_.hop + plan_.n_fft <= n + 2 * plan_.pad,
            "frames must be >= 1 and lie within the padded signal");
    const index_t F = plan_.n_freqs();
    auto out = output<std::complex<T>>({batch, frames, F});
    specsep::SpectrumWriter<T> sink{reinterpret_cast<cplx<T>*>(out.mutable_data()), frames, F};
    const specsep::StridedSignals<T> signals{x.data(), items.offsets.data(), stride<T>(x, static_cast<int>(x.ndim()) - 1)};
    KernelRun run;
    specsep::run_stft(plan_, signals, batch, 0, n, frames, sink);
    return std::move(out);
  }

  // X: (..., freq, frames) complex, any strides -> (items, length), items in C order.
  py::array istft(array<std::complex<T>> X, index_t length) const {
    const Items items = items_of(X, 2, "X", true);
    require(X.shape(X.ndim() - 2) == plan_.n_freqs(), "X has the wrong number of frequency bins");
    const auto view = spectrogram_view<cplx<T>>(X, items);
    const index_t batch = static_cast<index_t>(items.offsets.size()), frames = static_cast<index_t>(X.shape(X.ndim() - 1));
    auto out = output<T>({batch, length});
    const specsep::OutputRows<T> rows{out.mutable_data(), length, items.order.data()};
    KernelRun run;
    specsep::run_istft(plan_, batch, frames, plan_.pad, length, rows, specsep::SpectrumReader<T>{view});
    return std::move(out);
  }

  // X: (..., freq, frames) mixtures, M: (..., sources, freq, frames) masks over them, any strides
  // -> (items * sources, length), in C order.
  py::array separate(array<std::complex<T>> X, array<T> M, index_t length) const {
    require(X.ndim() >= 2 && M.ndim() == X.ndim() + 1, "M must be (..., sources, freq, frames) over X");
    for (int d = 0; d < X.ndim(); ++d)
      require(M.shape(d + (d >= X.ndim() - 2)) == X.shape(d), "M must be (..., sources, freq, frames) over X");
    const index_t J = static_cast<index_t>(M.shape(M.ndim() - 3));
    const Items mixtures = items_of(X, 2, "X", false), signals = items_of(M, 2, "M", true);
    // Each signal's mixture: the item of X that signal's C-order index / J names.
    std::vector<std::ptrdiff_t> mixture_of(signals.order.size());
    for (size_t i = 0; i < mixture_of.size(); ++i) mixture_of[i] = mixtures.offsets[static_cast<size_t>(signals.order[i] / J)];
    specsep::View3<const cplx<T>> mixture = spectrogram_view<cplx<T>>(X, mixtures);
    mixture.items = mixture_of.data();
    const index_t n = static_cast<index_t>(signals.offsets.size()), frames = static_cast<index_t>(X.shape(X.ndim() - 1));
    auto out = output<T>({n, length});
    const specsep::OutputRows<T> rows{out.mutable_data(), length, signals.order.data()};
    KernelRun run;
    specsep::run_istft(plan_, n, frames, plan_.pad, length, rows,
                       specsep::MaskedMixture<T>{mixture, spectrogram_view<T>(M, signals)});
    return std::move(out);
  }

  // S: (batch, freq, frames) magnitudes, float32 or float64; angles: the same shape, complex of
  // unit modulus, or the turns u of angles exp(2 pi i u) as T (load_state.hpp).
  py::tuple griffin_lim(py::array S, py::array angles, index_t n_iter, double momentum, index_t length,
                        double tol, bool track) const {
    return iterate(S, angles, 1, nullptr, 0, {}, n_iter, momentum, length, tol, track);
  }

  // x_mix: (batch, length); S and angles: (batch * sources, freq, frames); weights: (sources,).
  py::tuple misi(array<T> x_mix, py::array S, py::array angles, array<double> weights, index_t n_iter,
                 double momentum, double tol, bool track) const {
    require(unit_rows(x_mix), "x_mix must be (batch, samples), unit stride");
    const index_t J = static_cast<index_t>(weights.size());
    require(J >= 1 && S.ndim() == 3 && S.shape(0) == x_mix.shape(0) * J, "S must be (batch * sources, freq, frames)");
    std::vector<T> w(weights.data(), weights.data() + J);
    return iterate(S, angles, J, x_mix.data(), stride<T>(x_mix, 0), w, n_iter, momentum,
                   static_cast<index_t>(x_mix.shape(1)), tol, track);
  }

 private:
  py::tuple iterate(py::array& S, py::array& angles, index_t J, const T* mixture, std::ptrdiff_t mixture_stride,
                    const std::vector<T>& weights, index_t n_iter, double momentum, index_t length, double tol,
                    bool track) const {
    require(S.ndim() == 3 && S.shape(1) == plan_.n_freqs() && angles.ndim() == 3 && angles.shape(0) == S.shape(0) &&
                angles.shape(1) == S.shape(1) && angles.shape(2) == S.shape(2),
            "S and angles must have the same (batch, freq, frames)");
    const bool single = py::isinstance<array<float>>(S);
    require(single || py::isinstance<array<double>>(S), "S must be float32 or float64");
    const bool turns = py::isinstance<array<T>>(angles);
    require(turns || py::isinstance<array<std::complex<T>>>(angles), "angles must be complex angles or real turns");
    const index_t signals = static_cast<index_t>(S.shape(0)), items = signals / J, frames = static_cast<index_t>(S.shape(2));
    // Each pair: the view of the dtype given, and an empty one of the other.
    using specsep::View3;
    const Items S_items = items_of(S, 2, "S", false), angle_items = items_of(angles, 2, "angles", false);
    const auto float_view = single ? spectrogram_view<float>(S, S_items) : View3<const float>{};
    const auto double_view = single ? View3<const double>{} : spectrogram_view<double>(S, S_items);
    const auto turn_view = turns ? spectrogram_view<T>(angles, angle_items) : View3<const T>{};
    const auto angle_view = turns ? View3<const cplx<T>>{} : spectrogram_view<cplx<T>>(angles, angle_items);
    auto out = output<T>({signals, length});
    T* y = out.mutable_data();
    specsep::IterationState state(items, tol, track);
    {
      KernelRun run;
      specsep::PhaseState<T> phase(signals, frames, plan_.n_freqs());
      if (single)
        specsep::load_magnitudes(phase, signals, float_view);
      else
        specsep::load_magnitudes(phase, signals, double_view);
      if (turns)
        specsep::load_initial_angles(plan_, phase, signals, specsep::AnglesOfTurns<T>{turn_view});
      else
        specsep::load_initial_angles(plan_, phase, signals, specsep::GivenAngles<T>{angle_view});
      specsep::retrieve_phase(plan_, phase, items, J, mixture, mixture_stride, weights, n_iter, momentum, length,
                              plan_.pad, y, state,
                              single ? T(specsep::epsilon<float>()) : specsep::epsilon<T>());
    }
    array<double> history({items, state.iterations()});
    state.history(history.mutable_data());
    return py::make_tuple(std::move(out), std::move(history));
  }

  specsep::CpuPlan<T> plan_;
};

// Ideal ratio masks of S: (..., sources, freq, frames), real or complex T, any strides -> M of S's
// shape, laid out in S's memory order (its axes by decreasing stride, broadcast ones outermost, as
// NumPy's order="K"; C-contiguous in that order), computed in that order (masks.hpp). Adjacent axes
// other than the sources' merge where they are contiguous in both arrays: librosa's batch axes
// make one row.
template <typename T, typename E>
py::array ideal_ratio_of(const py::array& S, double power) {
  const int nd = static_cast<int>(S.ndim()), source_axis = nd - 3;
  require(nd >= 3, "S must be (..., sources, freq, frames)");
  for (int d = 0; d < nd; ++d)
    require(S.strides(d) % static_cast<py::ssize_t>(sizeof(E)) == 0, "S strides must be whole elements");
  std::vector<int> axes(static_cast<size_t>(nd));
  std::iota(axes.begin(), axes.end(), 0);
  auto extent = [&](int d) {
    return S.strides(d) == 0 ? std::numeric_limits<py::ssize_t>::max() : std::abs(S.strides(d));
  };
  std::stable_sort(axes.begin(), axes.end(), [&](int i, int j) { return extent(i) > extent(j); });
  std::vector<py::ssize_t> strides(static_cast<size_t>(nd));
  py::ssize_t count = 1;
  for (int k = nd - 1; k >= 0; --k) {
    strides[static_cast<size_t>(axes[static_cast<size_t>(k)])] = count * static_cast<py::ssize_t>(sizeof(T));
    count *= S.shape(axes[static_cast<size_t>(k)]);
  }
  std::vector<py::ssize_t> shape(S.shape(), S.shape() + nd);
  void* block = specsep::acquire_buffer(static_cast<size_t>(count) * sizeof(T));
  py::capsule owner(block, [](void* p) { specsep::release_buffer(p); });
  array<T> M(shape, strides, static_cast<T*>(block), owner);
  if (count == 0) return std::move(M);
  auto axis = [&](int d) {
    return specsep::MaskAxis{static_cast<index_t>(S.shape(d)), S.strides(d) / static_cast<py::ssize_t>(sizeof(E)),
                             strides[static_cast<size_t>(d)] / static_cast<py::ssize_t>(sizeof(T))};
  };
  std::vector<specsep::MaskAxis> others;  // memory order, outermost first; length-1 axes dropped
  for (int d : axes) {
    if (d == source_axis || S.shape(d) == 1) continue;
    const specsep::MaskAxis a = axis(d);
    if (!others.empty() && others.back().s == a.s * a.size && others.back().m == a.m * a.size)
      others.back() = {others.back().size * a.size, a.s, a.m};
    else
      others.push_back(a);
  }
  const specsep::MaskAxis row = others.empty() ? specsep::MaskAxis{1, 0, 0} : others.back();
  if (!others.empty()) others.pop_back();
  const auto* s = static_cast<const E*>(S.data());
  T* m = M.mutable_data();
  const T p = static_cast<T>(power);
  KernelRun run;
  using specsep::MaskPower;
  if (power == 2)
    specsep::ratio_masks<MaskPower::two>(s, m, others, row, axis(source_axis), p);
  else if (power == 1)
    specsep::ratio_masks<MaskPower::one>(s, m, others, row, axis(source_axis), p);
  else
    specsep::ratio_masks<MaskPower::other>(s, m, others, row, axis(source_axis), p);
  return std::move(M);
}

py::array ideal_ratio(const py::array& S, double power) {
  if (py::isinstance<array<float>>(S)) return ideal_ratio_of<float, float>(S, power);
  if (py::isinstance<array<double>>(S)) return ideal_ratio_of<double, double>(S, power);
  if (py::isinstance<array<std::complex<float>>>(S)) return ideal_ratio_of<float, cplx<float>>(S, power);
  require(py::isinstance<array<std::complex<double>>>(S), "S must be float32, float64, complex64 or complex128");
  return ideal_ratio_of<double, cplx<double>>(S, power);
}

// Test hooks: one real FFT per row, through the same frame code as the STFT.
template <typename T>
py::array rfft(array<T> x, bool gpu_radices) {
  require(unit_rows(x), "x must be (rows, n), unit stride");
  const index_t rows = static_cast<index_t>(x.shape(0)), n = static_cast<index_t>(x.shape(1));
  require(n >= 1, "n must be >= 1");
  array<std::complex<T>> out({rows, n / 2 + 1});
  specsep::HostFrameFFT<T> fft(n, gpu_radices);
  std::vector<cplx<T>> a(std::max<size_t>(n + 1, fft.view().scratch())), b(a.size());
  auto* y = reinterpret_cast<cplx<T>*>(out.mutable_data());
  for (index_t r = 0; r < rows; ++r) {
    const T* row = x.data() + r * stride<T>(x, 0);
    specsep::frame_forward(specsep::SerialBlock{}, fft.view(), [&](index_t j) { return row[j]; }, a.data(), b.data(),
                           y + r * (n / 2 + 1), T(1));
  }
  return std::move(out);
}

template <typename T>
py::array irfft(array<std::complex<T>> X, index_t n, bool gpu_radices) {
  require(X.ndim() == 2 && X.shape(1) == n / 2 + 1 && X.strides(1) == sizeof(std::complex<T>),
          "X must be (rows, n // 2 + 1), unit stride");
  const index_t rows = static_cast<index_t>(X.shape(0));
  array<T> out({rows, n});
  specsep::HostFrameFFT<T> fft(n, gpu_radices);
  std::vector<cplx<T>> a(std::max<size_t>(n + 1, fft.view().scratch())), b(a.size());
  T* y = out.mutable_data();
  for (index_t r = 0; r < rows; ++r) {
    const auto* row = reinterpret_cast<const cplx<T>*>(X.data()) + r * stride<std::complex<T>>(X, 0);
    specsep::frame_backward_bins(specsep::SerialBlock{}, fft.view(), row, a.data(), b.data(),
                                 [&](index_t j, T v) { y[r * n + j] = v / T(n); });
  }
  return std::move(out);
}

template <typename T>
py::array_t<T> window_sum_square(py::array_t<T, py::array::c_style | py::array::forcecast> window, index_t hop_length,
                                 index_t n_frames) {
  require(window.ndim() == 1 && window.shape(0) >= 1, "window must be a non-empty 1-D array");
  require(hop_length >= 1, "hop_length must be >= 1");
  require(n_frames >= 1, "n_frames must be >= 1");
  const index_t n_fft = static_cast<index_t>(window.shape(0));
  const index_t n_out = n_fft + hop_length * (n_frames - 1);
  std::vector<T> w(window.data(), window.data() + n_fft);
  array<T> out(n_out);
  T* y = out.mutable_data();
  for (index_t n = 0; n < n_out; ++n) y[n] = specsep::window_sum_square_at(w.data(), n_fft, hop_length, n_frames, n);
  return out;
}

// The frame FFT of length n as arrays for the CUDA kernels (specsep::device_plan_arrays, GPU
// factorisation): the factor list and the root table with Bluestein's tables.
py::tuple fft_plan_arrays(index_t n) {
  require(n >= 1, "n must be >= 1");
  const specsep::DevicePlanArrays<double> plan = specsep::device_plan_arrays<double>(n, /*gpu_radices=*/true);
  array<int> factors(static_cast<py::ssize_t>(plan.factors.size()));
  std::copy(plan.factors.begin(), plan.factors.end(), factors.mutable_data());
  array<std::complex<double>> roots(static_cast<py::ssize_t>(plan.roots.size()));
  std::copy(plan.roots.begin(), plan.roots.end(), reinterpret_cast<cplx<double>*>(roots.mutable_data()));
  return py::make_tuple(std::move(factors), std::move(roots));
}

template <typename T>
void bind_dtype(py::module_& m, const char* plan_name) {
  py::class_<Plan<T>>(m, plan_name)
      .def(py::init<array<T>, index_t, index_t, int, bool>(), py::arg("window"), py::arg("hop_length"),
           py::arg("padding"), py::arg("pad_mode"), py::arg("normalized"))
      .def("stft", &Plan<T>::stft, py::arg("x"), py::arg("frames"))
      .def("istft", &Plan<T>::istft, py::arg("X"), py::arg("length"))
      .def("separate", &Plan<T>::separate, py::arg("X"), py::arg("M"), py::arg("length"))
      .def("griffin_lim", &Plan<T>::griffin_lim, py::arg("S"), py::arg("angles"), py::arg("n_iter"),
           py::arg("momentum"), py::arg("length"), py::arg("tol"), py::arg("track"))
      .def("misi", &Plan<T>::misi, py::arg("x_mix"), py::arg("S"), py::arg("angles"), py::arg("weights"),
           py::arg("n_iter"), py::arg("momentum"), py::arg("tol"), py::arg("track"));
  m.def("rfft", &rfft<T>, py::arg("x"), py::arg("gpu_radices") = false,
        "Real FFT of each row through the frame code (gpu_radices: the GPU plans' factorisation).");
  m.def("irfft", &irfft<T>, py::arg("X"), py::arg("n"), py::arg("gpu_radices") = false);
  m.def("window_sum_square", &window_sum_square<T>, py::arg("window"), py::arg("hop_length"), py::arg("n_frames"));
}

}  // namespace

#ifndef SPECSEP_MODULE
#define SPECSEP_MODULE _cpu
#endif
#ifndef SPECSEP_ISA
#define SPECSEP_ISA "baseline"
#endif

// Whether this CPU runs the AVX2 build of these kernels (_cpu_avx2).
bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

PYBIND11_MODULE(SPECSEP_MODULE, m) {
  m.doc() = "specsep C++ CPU kernels (called through specsep._cpu_backend)";
  m.attr("isa") = SPECSEP_ISA;
  g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  m.def("cpu_has_avx2", &cpu_has_avx2);
  // float64 first: pybind11 tries overloads in order, and a forcecast float32 overload would take
  // float64 input that needs a copy
  bind_dtype<double>(m, "PlanFloat64");
  bind_dtype<float>(m, "PlanFloat32");
  m.def("fft_plan_arrays", &fft_plan_arrays, py::arg("n"));
  m.def("ideal_ratio", &ideal_ratio, py::arg("S"), py::arg("power"),
        "Ideal ratio masks over axis -3, in S's memory order and layout.");
  m.def("clear_buffer_cache", &specsep::clear_buffer_cache, "Free the cached output buffers; returns the bytes freed.");
  m.def("cached_bytes", &specsep::cached_bytes, "Bytes of output buffers held for reuse.");
  m.def("set_buffer_cache_limit", &specsep::set_buffer_cache_limit, py::arg("bytes"),
        "Budget of the output-buffer cache in bytes (0 turns it off); evicts down to it.");
  m.def("buffer_cache_limit", &specsep::buffer_cache_limit);
  m.def("clear_scratch", &specsep::clear_scratch, "Free every thread's FFT scratch; returns the bytes freed.");
  m.def("scratch_bytes", &specsep::scratch_bytes, "Bytes of FFT scratch held by the threads.");
  m.def("set_num_threads", &specsep::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &specsep::num_threads);
}
