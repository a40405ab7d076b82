// The emulator's test kernels compiled against cuda_emu.hpp and registered as the "selftest" group
// (module specsep._emu_selftest; the sanitizer driver).
#include "registry.hpp"  // standard headers first: the CUDA keywords are macros from here on
#include "cuda_emu.hpp"
#include "selftest.cu"

namespace {
const bool registered = [] {
#define SPECSEP_INSTANTIATE(kernel, T) SPECSEP_EMU_INSTANTIATE_AS("selftest", kernel, T)
#include "selftest_instantiations.inc"
#undef SPECSEP_INSTANTIATE
  return true;
}();
}  // namespace
