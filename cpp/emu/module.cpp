// pybind11 module of the emulator (`specsep._emu`, and `specsep._emu_selftest` for the
// emulator's own test kernels): launch a registered kernel by its name expression with NumPy
// arguments, checked the way CuPy marshals them for cupy.RawKernel.__call__:
//   - a pointer parameter takes a NumPy array of exactly the pointee's dtype (specsep::cplx<float>*
//     = complex64, int* = int32, ...), C-contiguous, native byte order, aligned to the pointee,
//     writeable unless the pointee is const (CuPy passes the data pointer as it is);
//   - a scalar parameter takes a NumPy scalar of exactly its dtype (np.int32 for int, np.int64 for
//     long long, np.float32 for float...): CuPy passes the scalar's bytes as they are;
//   - a Python int, float, bool or complex is refused: CuPy packs it as int64, float64, bool or
//     complex128 whatever the parameter's type, a silent bug on a GPU.
// The checks run with the GIL held; the grid runs with it released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <climits>
#include <string>
#include <vector>

#include "registry.hpp"
#if SPECSEP_EMU_PROFILE
#include "profile.hpp"
#endif

#ifndef SPECSEP_EMU_MODULE_NAME
#define SPECSEP_EMU_MODULE_NAME _emu
#endif

namespace py = pybind11;
using specsep::emu::Dim3;
using specsep::emu::DType;
using specsep::emu::KernelInfo;
using specsep::emu::ParamInfo;
using specsep::emu::Slot;

namespace {

py::object& numpy_ndarray() {
  static py::object* t = new py::object(py::module_::import("numpy").attr("ndarray"));
  return *t;
}
py::object& numpy_generic() {
  static py::object* t = new py::object(py::module_::import("numpy").attr("generic"));
  return *t;
}

std::string numpy_name(DType d) {
  const std::string bits = std::to_string(8 * d.itemsize);
  switch (d.kind) {
    case 'b': return "bool";
    case 'i': return "int" + bits;
    case 'u': return "uint" + bits;
    case 'f': return "float" + bits;
    case 'c': return "complex" + bits;
    case 'V': return "any";
    default: return "?";
  }
}

std::string scalar_hint(DType d) { return "numpy." + (d.kind == 'b' ? std::string("bool_") : numpy_name(d)) + "(value)"; }

std::string array_hint(const ParamInfo& p) {
  if (p.dtype.kind == 'V') return "an array";
  const std::string dtype = numpy_name(p.dtype);
  return (dtype[0] == 'i' ? "an " : "a ") + dtype + " array";
}

std::string type_of(py::handle obj) {
  py::handle t = reinterpret_cast<PyObject*>(Py_TYPE(obj.ptr()));
  const std::string module = py::str(t.attr("__module__"));
  const std::string name = py::str(t.attr("__qualname__"));
  return module == "builtins" ? name : module + "." + name;
}

[[noreturn]] void type_error(const KernelInfo& k, std::size_t i, const std::string& what) {
  throw py::type_error(k.name + ": args[" + std::to_string(i) + "] (" + k.params[i].ctype + ") " + what);
}
[[noreturn]] void value_error(const KernelInfo& k, std::size_t i, const std::string& what) {
  throw py::value_error(k.name + ": args[" + std::to_string(i) + "] (" + k.params[i].ctype + ") " + what);
}

[[noreturn]] void python_scalar_error(const KernelInfo& k, std::size_t i, const char* python, const char* packed) {
  const ParamInfo& p = k.params[i];
  if (p.pointer) type_error(k, i, std::string("is a Python ") + python + "; a pointer parameter takes " + array_hint(p));
  type_error(k, i,
             std::string("is a Python ") + python + "; Python " + python + " is passed as " + packed +
                 " by CuPy, whatever the parameter's type: pass " + scalar_hint(p.dtype));
}

std::string shape_and_strides(const py::array& a) {
  std::string s = "shape (";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  s += a.ndim() == 1 ? ",), strides (" : "), strides (";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.strides(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

Slot convert(const KernelInfo& k, std::size_t i, py::handle obj) {
  const ParamInfo& p = k.params[i];
  Slot s{};
  if (py::isinstance(obj, numpy_ndarray())) {
    const auto a = py::reinterpret_borrow<py::array>(obj);
    if (!p.pointer)
      type_error(k, i, "is a numpy.ndarray; a scalar parameter takes a NumPy scalar: " + scalar_hint(p.dtype));
    const py::dtype dt = a.dtype();
    const DType d{dt.kind(), static_cast<int>(dt.itemsize())};
    const std::string dname = py::str(dt);
    if (p.dtype.kind != 'V' && d != p.dtype)
      type_error(k, i,
                 "is an array of dtype " + dname + "; the parameter needs " + array_hint(p) +
                     " (CuPy passes the data pointer without conversion)");
    if (!dt.attr("isnative").cast<bool>()) type_error(k, i, "is an array of non-native byte order (" + dname + ")");
    if (!(a.flags() & py::array::c_style))
      type_error(k, i,
                 "is not C-contiguous (" + shape_and_strides(a) +
                     "); the kernel indexes it as a dense array: pass numpy.ascontiguousarray(...)");
    if (p.writable && !a.writeable())
      type_error(k, i, "is read-only, but the kernel writes through " + p.ctype);
    const void* data = a.data();
    if (reinterpret_cast<std::uintptr_t>(data) % p.align != 0)
      value_error(k, i, "has data at " + std::to_string(reinterpret_cast<std::uintptr_t>(data)) +
                            ", not aligned to the " + std::to_string(p.align) + " bytes of its element type");
    s.ptr = const_cast<void*>(data);
    return s;
  }
  if (py::isinstance(obj, numpy_generic())) {
    const std::string tname = type_of(obj);
    if (p.pointer) type_error(k, i, "is a NumPy scalar (" + tname + "); a pointer parameter takes " + array_hint(p));
    const py::dtype dt = py::reinterpret_borrow<py::object>(obj).attr("dtype").cast<py::dtype>();
    const DType d{dt.kind(), static_cast<int>(dt.itemsize())};
    if (d != p.dtype)
      type_error(k, i,
                 "is " + tname + " (" + std::to_string(d.itemsize) + " bytes), which CuPy passes as it is, unconverted: pass " +
                     scalar_hint(p.dtype));
    Py_buffer view;
    if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_SIMPLE) != 0) throw py::error_already_set();
    const bool ok = view.len == p.dtype.itemsize;
    if (ok) std::memcpy(s.bytes, view.buf, static_cast<std::size_t>(p.dtype.itemsize));
    PyBuffer_Release(&view);
    if (!ok) type_error(k, i, "is a NumPy scalar whose buffer has an unexpected size");
    return s;
  }
  if (PyBool_Check(obj.ptr())) python_scalar_error(k, i, "bool", "bool");
  if (PyLong_Check(obj.ptr())) python_scalar_error(k, i, "int", "int64");
  if (PyFloat_Check(obj.ptr())) python_scalar_error(k, i, "float", "float64");
  if (PyComplex_Check(obj.ptr())) python_scalar_error(k, i, "complex", "complex128");
  if (obj.is_none())
    type_error(k, i, "is None (CuPy would pass a null pointer); the emulator needs " +
                         (p.pointer ? array_hint(p) : scalar_hint(p.dtype)));
  type_error(k, i,
             "has type " + type_of(obj) + ", which the emulator cannot pass: it takes NumPy arrays and NumPy scalars (" +
                 (p.pointer ? array_hint(p) : scalar_hint(p.dtype)) + ")");
}

Dim3 parse_dims(const std::string& kernel, const char* what, py::handle obj) {
  if (!PyTuple_Check(obj.ptr()))
    throw py::type_error(kernel + ": " + what + " must be a tuple of 1 to 3 ints, as for cupy.RawKernel; got " +
                         type_of(obj));
  const auto t = py::reinterpret_borrow<py::tuple>(obj);
  if (t.size() < 1 || t.size() > 3)
    throw py::type_error(kernel + ": " + what + " must be a tuple of 1 to 3 ints; got " + std::to_string(t.size()) +
                         " items");
  unsigned v[3] = {1, 1, 1};
  for (std::size_t d = 0; d < t.size(); ++d) {
    py::handle item = t[d];
    if (PyBool_Check(item.ptr()) || !PyIndex_Check(item.ptr()))
      throw py::type_error(kernel + ": " + what + "[" + std::to_string(d) + "] must be an int; got " + type_of(item));
    const long long x = py::reinterpret_borrow<py::object>(item).attr("__index__")().cast<long long>();
    if (x < 1 || x > static_cast<long long>(UINT_MAX))
      throw py::value_error(kernel + ": " + what + " " + std::string(py::str(obj)) + " has dimension " +
                            std::to_string(d) + " = " + std::to_string(x) + "; CUDA needs 1 <= " + what +
                            " dimension (a grid of zero blocks is an invalid launch)");
    v[d] = static_cast<unsigned>(x);
  }
  return Dim3{v[0], v[1], v[2]};
}

std::size_t parse_shared_mem(const std::string& kernel, py::handle obj) {
  if (PyBool_Check(obj.ptr()) || !PyIndex_Check(obj.ptr()))
    throw py::type_error(kernel + ": shared_mem must be an int (bytes); got " + type_of(obj));
  const long long x = py::reinterpret_borrow<py::object>(obj).attr("__index__")().cast<long long>();
  if (x < 0) throw py::value_error(kernel + ": shared_mem=" + std::to_string(x) + " is negative");
  return static_cast<std::size_t>(x);
}

#if SPECSEP_EMU_PROFILE
namespace profile = specsep::emu::profile;
// Each launch's report with the argument positions of its arrays.
std::vector<std::pair<profile::LaunchReport, std::vector<int>>>& profile_reports() {
  static auto* reports = new std::vector<std::pair<profile::LaunchReport, std::vector<int>>>();
  return *reports;
}

// Runs the grid with the profiler recording; the launch's arrays are its global memory.
void profiled_run(const KernelInfo& k, const py::sequence& args, const std::vector<Slot>& slots, Dim3 g, Dim3 b,
                  std::size_t smem) {
  std::vector<std::pair<const void*, std::size_t>> arrays;
  std::vector<int> positions;  // of the arrays among the arguments
  for (std::size_t i = 0; i < args.size(); ++i)
    if (py::isinstance(args[i], numpy_ndarray())) {
      const auto a = py::reinterpret_borrow<py::array>(args[i]);
      arrays.emplace_back(a.data(), static_cast<std::size_t>(a.nbytes()));
      positions.push_back(static_cast<int>(i));
    }
  profile::LaunchReport report;
  {
    py::gil_scoped_release release;
    profile::begin(k.name.c_str(), g, b, smem, std::move(arrays));
    try {
      k.run(k, slots.data(), g, b, smem);
    } catch (...) {
      profile::end();
      throw;
    }
    report = profile::end();
  }
  profile_reports().emplace_back(std::move(report), std::move(positions));
}

py::dict counters_dict(const profile::Counters& c) {
  py::dict d;
  d["requests"] = c.requests;
  d["bytes"] = c.bytes;
  d["units"] = c.units;
  d["ideal_units"] = c.ideal_units;
  d["lines"] = c.lines;
  py::dict widths;
  const int sizes[profile::kWidths] = {1, 2, 4, 8, 16};
  for (int i = 0; i < profile::kWidths; ++i) widths[py::int_(sizes[i])] = c.by_width[i];
  d["by_width"] = widths;
  return d;
}

py::dict report_dict(const profile::LaunchReport& r, const std::vector<int>& positions) {
  py::dict d;
  d["kernel"] = r.kernel;
  d["grid"] = py::make_tuple(r.grid.x, r.grid.y, r.grid.z);
  d["block"] = py::make_tuple(r.block.x, r.block.y, r.block.z);
  d["shared_mem"] = r.shared_mem;
  const char* spaces[2] = {"global", "shared"};
  const char* directions[2] = {"load", "store"};
  for (int s = 0; s < 2; ++s)
    for (int dir = 0; dir < 2; ++dir)
      d[py::str(std::string(spaces[s]) + "_" + directions[dir])] = counters_dict(r.counters[s][dir]);
  d["unique_sectors_load"] = r.unique_sectors[profile::kLoad];
  d["unique_sectors_store"] = r.unique_sectors[profile::kStore];
  d["block_load_sectors"] = r.block_load_sectors;
  d["local_accesses"] = r.local_accesses;
  py::dict by_arg;  // argument position -> {"load": ..., "store": ...}, for the arrays accessed
  for (std::size_t i = 0; i < r.by_array.size(); ++i) {
    const auto& c = r.by_array[i];
    if (c[profile::kLoad].requests + c[profile::kStore].requests == 0) continue;
    py::dict level;
    level["load"] = counters_dict(c[profile::kLoad]);
    level["store"] = counters_dict(c[profile::kStore]);
    by_arg[py::int_(positions[i])] = level;
  }
  d["global_by_arg"] = by_arg;
  return d;
}
#endif

void launch(const std::string& name, py::handle grid, py::handle block, py::handle args, py::handle shared_mem) {
  const KernelInfo* k = specsep::emu::find_kernel(name);
  if (!k) throw py::value_error(specsep::emu::unknown_kernel_message(name));
  const Dim3 g = parse_dims(name, "grid", grid);
  const Dim3 b = parse_dims(name, "block", block);
  const std::size_t smem = parse_shared_mem(name, shared_mem);
  try {
    specsep::emu::check_launch(name.c_str(), g, b, smem, k->static_shared());
  } catch (const specsep::emu::Error& e) {
    throw py::value_error(e.what());
  }
  if (!PyTuple_Check(args.ptr()) && !PyList_Check(args.ptr()))
    throw py::type_error(name + ": args must be a tuple (as for cupy.RawKernel); got " + type_of(args));
  const auto seq = py::reinterpret_borrow<py::sequence>(args);
  if (seq.size() != k->params.size())
    throw py::type_error(k->signature() + " takes " + std::to_string(k->params.size()) + " arguments; got " +
                         std::to_string(seq.size()));
  std::vector<Slot> slots(k->params.size());
  for (std::size_t i = 0; i < slots.size(); ++i) slots[i] = convert(*k, i, seq[i]);
  const py::object keep_alive = py::reinterpret_borrow<py::object>(args);  // the arrays outlive the grid
#if SPECSEP_EMU_PROFILE
  profiled_run(*k, seq, slots, g, b, smem);
#else
  py::gil_scoped_release release;
  k->run(*k, slots.data(), g, b, smem);
#endif
}

py::dict profile_dict(const specsep::emu::DeviceProfile& p) {
  py::dict d;
  d["name"] = p.name;
  d["max_threads_per_block"] = p.max_threads_per_block;
  d["max_grid"] = py::make_tuple(p.max_grid[0], p.max_grid[1], p.max_grid[2]);
  d["shared_default"] = p.shared_default;
  d["shared_optin"] = p.shared_optin;
  return d;
}

// A named profile, with any limit replaced: set_device_profile("T4", max_grid=(2**31 - 1, 3, 3)).
void set_device_profile(const std::string& name, py::object max_threads_per_block, py::object max_grid,
                        py::object shared_default, py::object shared_optin) {
  const specsep::emu::DeviceProfile* named = specsep::emu::find_profile(name);
  if (!named) {
    std::string known;
    for (auto n = specsep::emu::profile_names(); *n; ++n) known += std::string(known.empty() ? "" : ", ") + *n;
    throw py::value_error("no device profile named '" + name + "'; known: " + known);
  }
  specsep::emu::DeviceProfile p = *named;
  if (!max_threads_per_block.is_none()) p.max_threads_per_block = max_threads_per_block.cast<unsigned>();
  if (!max_grid.is_none()) {
    const auto grid = max_grid.cast<py::sequence>();
    if (grid.size() != 3) throw py::value_error("max_grid must hold 3 limits (x, y, z)");
    for (int d = 0; d < 3; ++d) p.max_grid[d] = grid[d].cast<unsigned>();
  }
  if (!shared_default.is_none()) p.shared_default = shared_default.cast<std::size_t>();
  if (!shared_optin.is_none()) p.shared_optin = shared_optin.cast<std::size_t>();
  try {
    specsep::emu::set_device_profile(p);
  } catch (const specsep::emu::Error& e) {
    throw py::value_error(e.what());
  }
}

}  // namespace

PYBIND11_MODULE(SPECSEP_EMU_MODULE_NAME, m) {
  m.doc() =
      "CUDA execution-model emulator: the kernels of the CUDA backend compiled by g++, launched by name "
      "with NumPy arrays and checked the way CuPy marshals arguments (tests only: runs the GPU path without a GPU).";
  m.def("launch", &launch, py::arg("name"), py::arg("grid"), py::arg("block"), py::arg("args"), py::kw_only(),
        py::arg("shared_mem") = 0,
        "Runs kernel `name` (a name expression, e.g. 'specsep::cuda::stft<float>') like "
        "cupy.RawKernel.__call__(grid, block, args, shared_mem=...): blocks one after another, the threads of a "
        "block as fibers. Raises TypeError/ValueError for arguments CuPy would mis-marshal or a bad launch "
        "configuration, RuntimeError for a fault while running (divergent barrier, bad warp mask, __trap, "
        "shared-memory overrun).");
  m.def("kernels", [] {
    py::list names;
    for (const auto& k : specsep::emu::kernels()) names.append(k->name);
    return py::tuple(names);
  }, "The registered name expressions, in instantiation-list order.");
  m.def("signature", [](const std::string& name) {
    const KernelInfo* k = specsep::emu::find_kernel(name);
    if (!k) throw py::value_error(specsep::emu::unknown_kernel_message(name));
    py::list types;
    for (const auto& p : k->params) types.append(p.ctype);
    return py::tuple(types);
  }, py::arg("name"), "The C++ parameter types of a kernel.");
  m.def("launches", [] {
    py::dict counts;
    for (const auto& k : specsep::emu::kernels()) counts[py::str(k->name)] = k->launches.load();
    return counts;
  }, "Launches per kernel since the module was loaded.");
  m.def("stats", [] {
    const specsep::emu::Stats s = specsep::emu::stats();
    py::dict d;
    d["launches"] = s.launches;
    d["blocks"] = s.blocks;
    d["threads"] = s.threads;
    d["switches"] = s.switches;
    d["block_barriers"] = s.block_barriers;
    d["warp_collectives"] = s.warp_collectives;
    return d;
  }, "Counters since the process started: launches, blocks, threads, context switches, completed block barriers "
     "and warp collectives.");
  m.def("max_shared_memory", [] { return specsep::emu::device_profile().shared_optin; },
        "Static + dynamic shared memory a block may have on the current device profile (bytes; the H100's "
        "232448 by default).");
  m.def("max_threads_per_block", [] { return specsep::emu::device_profile().max_threads_per_block; });
  m.def("device_profile", [] { return profile_dict(specsep::emu::device_profile()); },
        "The current device profile: name, max_threads_per_block, max_grid (x, y, z), shared_default and "
        "shared_optin (bytes per block).");
  m.def("device_profiles", [] {
    py::list names;
    for (auto n = specsep::emu::profile_names(); *n; ++n) names.append(*n);
    return py::tuple(names);
  }, "The named device profiles.");
  m.def("set_device_profile", &set_device_profile, py::arg("name"), py::kw_only(),
        py::arg("max_threads_per_block") = py::none(), py::arg("max_grid") = py::none(),
        py::arg("shared_default") = py::none(), py::arg("shared_optin") = py::none(),
        "Makes the launch checks those of device profile `name` ('T4', 'A100', 'RTX 4090', 'H100'), with any "
        "limit given replaced (tests lower them). Process-wide.");
  m.def("static_shared_size", [](const std::string& name) {
    const KernelInfo* k = specsep::emu::find_kernel(name);
    if (!k) throw py::value_error(specsep::emu::unknown_kernel_message(name));
    try {
      return k->static_shared();
    } catch (const specsep::emu::Error& e) {
      throw std::runtime_error(e.what());
    }
  }, py::arg("name"), "Bytes of static __shared__ memory of a kernel (cupy.RawKernel.shared_size_bytes on a GPU).");
#if SPECSEP_EMU_PROFILE
  m.def("profile_reports", [] {
    py::list out;
    for (const auto& r : profile_reports()) out.append(report_dict(r.first, r.second));
    profile_reports().clear();
    return out;
  }, "The access counts of the launches since the last call, oldest first (and forgets them): per launch kernel, "
     "grid, block, shared_mem, local_accesses, unique_sectors_load/_store, block_load_sectors, and for each of "
     "global_load, global_store, shared_load, shared_store: requests, bytes, units (global: 32-byte sectors; shared: "
     "wavefronts), ideal_units, lines (global: 128-byte lines) and by_width (requests per access width in bytes); "
     "global_by_arg: the global counts per argument position, {position: {'load': ..., 'store': ...}}.");
#endif
  m.def("flavour", [] { return std::string(specsep::emu::flavour()); }, "'plain', 'tsan' or 'asan'.");
  m.def("static_shared_bytes", [] { return specsep::emu::static_shared_bytes(); },
        "Bytes of static __shared__ storage that the scheduler poisons before every block (0 when the "
        "linker script was not used).");
}
