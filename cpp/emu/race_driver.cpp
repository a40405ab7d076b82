// The sanitizer driver: runs every smoke launcher (smoke.hpp) against the kernels linked in, then
// fails if a registered kernel was never launched. Built with -fsanitize=thread (races: a report
// makes the process exit with TSan's exitcode, 66) or -fsanitize=address,undefined
// (tests/test_emu_race.py; CMake: -DSPECSEP_EMU_DRIVER=ON -DSPECSEP_SANITIZE=thread).
//
// usage: specsep_emu_driver [substring]   runs the smoke launchers whose name contains substring
//                                          (and then skips the coverage check)
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "smoke.hpp"

int main(int argc, char** argv) {
  using namespace specsep::emu;
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int ran = 0;
  for (const smoke::Entry& e : smoke::entries()) {
    if (filter && !std::strstr(e.name, filter)) continue;
    std::printf("smoke %s ...", e.name);
    std::fflush(stdout);
    try {
      e.fn();
    } catch (const std::exception& error) {
      std::printf(" FAILED\n");
      std::fprintf(stderr, "smoke %s: %s\n", e.name, error.what());
      return 2;
    }
    std::printf(" ok\n");
    ++ran;
  }
  int missing = 0;
  if (!filter) {
    for (const auto& k : kernels()) {
      if (k->launches.load() == 0) {
        std::fprintf(stderr, "kernel %s was never launched: add a smoke launcher (cpp/emu/smoke.hpp)\n",
                     k->name.c_str());
        ++missing;
      }
    }
  }
  const Stats s = stats();
  std::printf("emulator driver (%s): %d smoke launchers, %zu kernels registered, %llu launches, %llu blocks, "
              "%llu threads, %llu block barriers, %llu warp collectives\n",
              flavour(), ran, kernels().size(), static_cast<unsigned long long>(s.launches),
              static_cast<unsigned long long>(s.blocks), static_cast<unsigned long long>(s.threads),
              static_cast<unsigned long long>(s.block_barriers), static_cast<unsigned long long>(s.warp_collectives));
  if (missing) return 4;
  if (ran == 0) {
    std::fprintf(stderr, "no smoke launcher ran\n");
    return 5;
  }
  return 0;
}
