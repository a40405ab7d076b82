// The emulator's copy of the CUDA backend: cpp/cuda/kernels.cu compiled by g++ against
// cuda_emu.hpp, and every line of cpp/cuda/instantiations.inc registered under its NVRTC name
// expression (the `_emu` module registers exactly this list).
#include "registry.hpp"  // standard headers first: the CUDA keywords are macros from here on
#include "cuda_emu.hpp"
#include "kernels.cu"

namespace {
const bool registered = [] {
#define SPECSEP_INSTANTIATE(kernel, ...) SPECSEP_EMU_INSTANTIATE_AS("specsep", kernel, __VA_ARGS__)
#include "instantiations.inc"
#undef SPECSEP_INSTANTIATE
  return true;
}();
}  // namespace
