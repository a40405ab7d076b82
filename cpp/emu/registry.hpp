// The emulator's kernel table: every instantiation of cpp/cuda/instantiations.inc registered under
// its NVRTC name expression ("specsep::cuda::stft<float>"), with its parameter types, so that a
// kernel can be launched by name with type-checked arguments: from Python (module.cpp, CuPy's
// marshalling rules) or from C++ (the smoke launchers of the sanitizer driver, smoke.hpp).
//
// Include it before cuda_emu.hpp (it pulls in standard headers, which must not see the CUDA
// keyword macros).
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "runtime.hpp"
#include "vector_types.hpp"

// Every emulator unit lays specsep::cplx out as the device does (aligned to its size,
// specsep/complex.hpp); included before any specsep header, so the whole binary agrees.
#define SPECSEP_EMU_DEVICE_LAYOUT 1
namespace specsep {
template <typename V>
struct cplx;
}  // namespace specsep

namespace specsep {
namespace emu {

// NumPy's view of a C++ type: dtype kind ('b' bool, 'i' signed, 'u' unsigned, 'f' float, 'c'
// complex; 'V' = any, for void*) and item size. CuPy passes an array as its data pointer and a
// NumPy scalar as its bytes, unconverted, so kind and size must match exactly.
struct DType {
  char kind = 0;
  int itemsize = 0;
};
inline bool operator==(DType a, DType b) { return a.kind == b.kind && a.itemsize == b.itemsize; }
inline bool operator!=(DType a, DType b) { return !(a == b); }

template <typename T>
struct is_cplx : std::false_type {};
template <typename V>
struct is_cplx<specsep::cplx<V>> : std::true_type {};

template <typename T>
constexpr DType dtype_of() {
  using U = typename std::remove_cv<T>::type;
  if constexpr (std::is_void<U>::value) {
    return {'V', 0};
  } else if constexpr (std::is_same<U, bool>::value) {
    return {'b', 1};
  } else if constexpr (std::is_integral<U>::value) {
    return {std::is_signed<U>::value ? 'i' : 'u', static_cast<int>(sizeof(U))};
  } else if constexpr (std::is_floating_point<U>::value) {
    return {'f', static_cast<int>(sizeof(U))};
  } else if constexpr (is_cplx<U>::value || std::is_same<U, float2>::value || std::is_same<U, double2>::value) {
    return {'c', static_cast<int>(sizeof(U))};
  } else {
    return {0, static_cast<int>(sizeof(U))};
  }
}

template <typename T>
std::string type_name() {
  using U = typename std::remove_cv<T>::type;
  if constexpr (std::is_pointer<U>::value) {
    using P = typename std::remove_pointer<U>::type;
    return std::string(std::is_const<P>::value ? "const " : "") + type_name<typename std::remove_cv<P>::type>() + "*";
  } else if constexpr (std::is_void<U>::value) {
    return "void";
  } else if constexpr (std::is_same<U, bool>::value) {
    return "bool";
  } else if constexpr (std::is_same<U, char>::value) {
    return "char";
  } else if constexpr (std::is_same<U, signed char>::value) {
    return "signed char";
  } else if constexpr (std::is_same<U, unsigned char>::value) {
    return "unsigned char";
  } else if constexpr (std::is_same<U, short>::value) {
    return "short";
  } else if constexpr (std::is_same<U, unsigned short>::value) {
    return "unsigned short";
  } else if constexpr (std::is_same<U, int>::value) {
    return "int";
  } else if constexpr (std::is_same<U, unsigned>::value) {
    return "unsigned int";
  } else if constexpr (std::is_same<U, long>::value) {
    return "long";
  } else if constexpr (std::is_same<U, unsigned long>::value) {
    return "unsigned long";
  } else if constexpr (std::is_same<U, long long>::value) {
    return "long long";
  } else if constexpr (std::is_same<U, unsigned long long>::value) {
    return "unsigned long long";
  } else if constexpr (std::is_same<U, float>::value) {
    return "float";
  } else if constexpr (std::is_same<U, double>::value) {
    return "double";
  } else if constexpr (std::is_same<U, float2>::value) {
    return "float2";
  } else if constexpr (std::is_same<U, double2>::value) {
    return "double2";
  } else if constexpr (is_cplx<U>::value) {
    return "specsep::cplx<" + type_name<decltype(std::declval<U>().re)>() + ">";
  } else {
    return typeid(U).name();
  }
}

// A kernel parameter: a pointer (to a pointee of `dtype`, writable unless the pointee is const)
// or a scalar of `dtype`.
struct ParamInfo {
  bool pointer = false;
  bool writable = false;
  DType dtype;
  std::size_t align = 1;  // of the pointee: a pointer argument must be aligned to it
  std::string ctype;      // "const float*", "long long", ...
};

// One argument as the kernel receives it: a pointer or a scalar's bytes.
struct Slot {
  alignas(16) unsigned char bytes[16];
  void* ptr;
};

template <typename P>
P slot_value(const Slot& s) {
  if constexpr (std::is_pointer<P>::value) {
    return static_cast<P>(s.ptr);
  } else {
    P v;
    std::memcpy(&v, s.bytes, sizeof(P));
    return v;
  }
}

template <typename P>
ParamInfo param_info() {
  static_assert(!std::is_reference<P>::value, "kernel parameters are pointers or scalars, not references");
  ParamInfo p;
  p.ctype = type_name<P>();
  if constexpr (std::is_pointer<P>::value) {
    using E = typename std::remove_pointer<P>::type;
    static_assert(dtype_of<E>().kind != 0,
                  "a pointer parameter must point to a NumPy-representable type (bool, integers, float, double, "
                  "specsep::cplx<float/double>, float2/double2) or void");
    p.pointer = true;
    p.writable = !std::is_const<E>::value;
    p.dtype = dtype_of<E>();
    if constexpr (!std::is_void<E>::value) p.align = alignof(E);
  } else {
    static_assert(std::is_trivially_copyable<P>::value && sizeof(P) <= sizeof(Slot::bytes) &&
                      dtype_of<P>().kind != 0 && dtype_of<P>().kind != 'c',
                  "a scalar parameter must be a bool, an integer, float or double (CuPy passes NumPy scalars)");
    p.dtype = dtype_of<P>();
    p.align = alignof(P);
  }
  return p;
}

struct KernelInfo {
  std::string name;   // the NVRTC name expression
  std::string group;  // "specsep" for cpp/cuda, "selftest" for cpp/emu/tests
  std::vector<ParamInfo> params;
  void (*fn)() = nullptr;  // the kernel, type-erased
  void (*run)(const KernelInfo&, const Slot* args, Dim3 grid, Dim3 block, std::size_t shared_mem) = nullptr;
  mutable std::atomic<std::uint64_t> launches{0};

  std::string signature() const;  // "name(const float*, int, ...)"
  // Bytes of its static __shared__ variables (what CUDA's cudaFuncAttributes::sharedSizeBytes
  // reports): in the emulator they are the kernel's function-local statics, sized from the
  // binary's symbol table. Throws Error when the table cannot be read.
  std::size_t static_shared() const;
};

const std::vector<std::unique_ptr<KernelInfo>>& kernels();
const KernelInfo* find_kernel(const std::string& name);
void add_kernel(std::unique_ptr<KernelInfo> kernel);  // aborts on a duplicate name
std::string unknown_kernel_message(const std::string& name);

template <typename... P, std::size_t... I>
void run_typed(const KernelInfo& k, const Slot* args, Dim3 grid, Dim3 block, std::size_t shared_mem,
               std::index_sequence<I...>) {
  struct Call {
    void (*fn)(P...);
    std::tuple<typename std::remove_cv<P>::type...> args;
  };
  const Call call{reinterpret_cast<void (*)(P...)>(k.fn),
                  std::tuple<typename std::remove_cv<P>::type...>(slot_value<typename std::remove_cv<P>::type>(args[I])...)};
  (void)args;
  k.launches.fetch_add(1, std::memory_order_relaxed);
  run_grid(
      k.name.c_str(), grid, block, shared_mem, k.static_shared(),
      [](const void* c) {
        const Call& x = *static_cast<const Call*>(c);
        std::apply(x.fn, x.args);
      },
      &call);
}

template <typename... P>
bool register_kernel(const char* name, const char* group, void (*fn)(P...)) {
  auto k = std::make_unique<KernelInfo>();
  k->name = name;
  k->group = group;
  k->params = {param_info<P>()...};
  k->fn = reinterpret_cast<void (*)()>(fn);
  k->run = [](const KernelInfo& kernel, const Slot* args, Dim3 grid, Dim3 block, std::size_t shared_mem) {
    run_typed<P...>(kernel, args, grid, block, shared_mem, std::index_sequence_for<P...>{});
  };
  add_kernel(std::move(k));
  return true;
}

// ---- launch by name from C++ (the smoke launchers) ----------------------------------------------
// The arguments follow the Python rules: a pointer of exactly the pointee type (a non-const
// pointer may go to a const parameter), a scalar of exactly the parameter's type (write
// (long long)n, not n, for a long long parameter, as the Python side writes np.int64(n)).

[[noreturn]] void argument_error(const KernelInfo& k, std::size_t i, const std::string& what);

template <typename A>
void pack_argument(const KernelInfo& k, std::size_t i, const A& a, Slot& s) {
  const ParamInfo& p = k.params[i];
  if constexpr (std::is_pointer<A>::value) {
    using E = typename std::remove_pointer<A>::type;
    if (!p.pointer) argument_error(k, i, "is a pointer (" + type_name<A>() + ") for a scalar parameter");
    if (p.dtype.kind != 'V' && dtype_of<E>() != p.dtype)
      argument_error(k, i, "is " + type_name<A>() + ", which points to another type");
    if (std::is_const<E>::value && p.writable)
      argument_error(k, i, "is " + type_name<A>() + ", a pointer to const, but the kernel writes through it");
    if (a == nullptr) argument_error(k, i, "is a null pointer");
    if (reinterpret_cast<std::uintptr_t>(a) % p.align != 0)
      argument_error(k, i, "is not aligned to " + std::to_string(p.align) + " bytes");
    s.ptr = const_cast<void*>(static_cast<const void*>(a));
  } else {
    static_assert(std::is_trivially_copyable<A>::value && sizeof(A) <= sizeof(Slot::bytes), "scalar arguments only");
    if (p.pointer) argument_error(k, i, "is a scalar (" + type_name<A>() + ") for a pointer parameter");
    if (dtype_of<A>() != p.dtype)
      argument_error(k, i, "is a " + type_name<A>() + " (" + std::to_string(sizeof(A)) +
                               " bytes), passed unconverted as by CuPy: cast it to " + p.ctype);
    std::memcpy(s.bytes, &a, sizeof(A));
  }
}

template <typename... A, std::size_t... I>
void launch_impl(const KernelInfo& k, Dim3 grid, Dim3 block, std::size_t shared_mem, std::index_sequence<I...>,
                 const A&... args) {
  std::array<Slot, sizeof...(A)> slots{};
  (pack_argument(k, I, args, slots[I]), ...);
  k.run(k, slots.data(), grid, block, shared_mem);
}

template <typename... A>
void launch(const std::string& name, Dim3 grid, Dim3 block, std::size_t shared_mem, const A&... args) {
  const KernelInfo* k = find_kernel(name);
  if (!k) throw Error(unknown_kernel_message(name));
  if (sizeof...(A) != k->params.size())
    throw Error(k->signature() + " takes " + std::to_string(k->params.size()) + " arguments, got " +
                std::to_string(sizeof...(A)));
  launch_impl(*k, grid, block, shared_mem, std::index_sequence_for<A...>{}, args...);
}

}  // namespace emu
}  // namespace specsep

// Registers one line SPECSEP_INSTANTIATE(kernel, T, ...) of an instantiation list under its name
// expression "specsep::cuda::kernel<T, ...>", the template arguments as the line spells them (see
// kernels.cpp):
//   #define SPECSEP_INSTANTIATE(kernel, ...) SPECSEP_EMU_INSTANTIATE_AS("specsep", kernel, __VA_ARGS__)
#define SPECSEP_EMU_INSTANTIATE_AS(group, kernel, ...)                                      \
  ::specsep::emu::register_kernel("specsep::cuda::" #kernel "<" #__VA_ARGS__ ">", group, \
                                  &::specsep::cuda::kernel<__VA_ARGS__>);
