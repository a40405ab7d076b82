#include "registry.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace specsep {
namespace emu {

namespace {
std::vector<std::unique_ptr<KernelInfo>>& table() {
  static std::vector<std::unique_ptr<KernelInfo>> t;
  return t;
}
}  // namespace

const std::vector<std::unique_ptr<KernelInfo>>& kernels() { return table(); }

const KernelInfo* find_kernel(const std::string& name) {
  for (const auto& k : table())
    if (k->name == name) return k.get();
  return nullptr;
}

void add_kernel(std::unique_ptr<KernelInfo> kernel) {
  if (find_kernel(kernel->name)) {
    std::fprintf(stderr, "specsep emulator: kernel %s is registered twice\n", kernel->name.c_str());
    std::abort();
  }
  table().push_back(std::move(kernel));
}

std::string KernelInfo::signature() const {
  std::string s = name + "(";
  for (std::size_t i = 0; i < params.size(); ++i) s += (i ? ", " : "") + params[i].ctype;
  return s + ")";
}

std::string unknown_kernel_message(const std::string& name) {
  std::string s = "no kernel named '" + name + "' in this emulator; registered:";
  if (table().empty()) s += " none";
  for (const auto& k : table()) s += " " + k->name;
  return s;
}

void argument_error(const KernelInfo& k, std::size_t i, const std::string& what) {
  throw Error(k.name + ": args[" + std::to_string(i) + "] (" + k.params[i].ctype + ") " + what);
}

}  // namespace emu
}  // namespace specsep
