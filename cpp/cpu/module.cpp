// pybind11 module specsep._cpu: dtype dispatch to the templated drivers over cpp/include/specsep/.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>

#include "specsep/ola.hpp"

namespace py = pybind11;

namespace {

template <typename T>
py::array_t<T> window_sum_square(py::array_t<T, py::array::c_style | py::array::forcecast> window,
                                 long hop_length, long n_frames) {
  if (window.ndim() != 1 || window.shape(0) < 1)
    throw std::invalid_argument("window must be a non-empty 1-D array");
  if (hop_length < 1) throw std::invalid_argument("hop_length must be >= 1");
  if (n_frames < 1) throw std::invalid_argument("n_frames must be >= 1");
  const long n_fft = static_cast<long>(window.shape(0));
  const long n_out = n_fft + hop_length * (n_frames - 1);
  py::array_t<T> out(n_out);
  const T* w = window.data();
  T* y = out.mutable_data();
  {
    py::gil_scoped_release release;
    for (long n = 0; n < n_out; ++n)
      y[n] = specsep::window_sum_square_at(w, n_fft, hop_length, n_frames, n);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "specsep C++ CPU kernels";
  m.def("window_sum_square", &window_sum_square<double>, py::arg("window"), py::arg("hop_length"),
        py::arg("n_frames"), "Window-sum-square envelope, length n_fft + hop_length * (n_frames - 1).");
  m.def("window_sum_square", &window_sum_square<float>, py::arg("window"), py::arg("hop_length"),
        py::arg("n_frames"));
}
