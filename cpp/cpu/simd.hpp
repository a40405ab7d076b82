// Frame lanes: the CPU drivers transform several frames at once, one per lane of a GCC vector
// (structure of arrays: cplx<Lanes<T>::type> holds sample j of every frame in the group). The
// width is fixed at 32 bytes for every instruction set, so results do not depend on which one
// the CPU has (contraction into FMA is off: -std=c++17 implies -ffp-contract=off).
#pragma once

namespace specsep {

template <typename T>
struct Lanes;
template <>
struct Lanes<float> {
  typedef float type __attribute__((vector_size(32)));
  static constexpr int count = 8;
};
template <>
struct Lanes<double> {
  typedef double type __attribute__((vector_size(32)));
  static constexpr int count = 4;
};

}  // namespace specsep
