#include "registry.hpp"

#include <elf.h>
#include <link.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

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

namespace {

// The loaded object whose segments hold `address` (the main program: /proc/self/exe), and the
// address its symbol values are relative to.
struct LoadedObject {
  std::string file;
  std::uintptr_t base = 0;
};

LoadedObject object_of(const void* address) {
  struct Query {
    std::uintptr_t address = 0;
    LoadedObject object;
    bool found = false;
  } q;
  q.address = reinterpret_cast<std::uintptr_t>(address);
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto& q = *static_cast<Query*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& ph = info->dlpi_phdr[i];
          const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && q.address >= begin && q.address < begin + ph.p_memsz) {
            q.object.file = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "/proc/self/exe";
            q.object.base = info->dlpi_addr;
            q.found = true;
            return 1;
          }
        }
        return 0;
      },
      &q);
  if (!q.found) throw Error("static shared memory: no loaded object holds the kernels");
  return q.object;
}

// The symbols of an ELF file that size a kernel's static shared memory: the mangled name of every
// function by its value, and the size of every function-local static object ("_ZZ..." symbols) by
// its mangled name; from .symtab, or .dynsym where the file is stripped (template kernels and
// their statics are exported).
struct Symbols {
  std::map<std::uintptr_t, std::string> functions;
  std::map<std::string, std::size_t> statics;
};

Symbols read_symbols(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < sizeof(Elf64_Ehdr) || bytes.compare(0, 4, ELFMAG) != 0 || bytes[EI_CLASS] != ELFCLASS64)
    throw Error("static shared memory: " + file + " is not a readable 64-bit ELF file");
  const char* base = bytes.data();
  const auto& eh = *reinterpret_cast<const Elf64_Ehdr*>(base);
  const auto* sections = reinterpret_cast<const Elf64_Shdr*>(base + eh.e_shoff);
  const Elf64_Shdr* table = nullptr;
  for (int pass = 0; pass < 2 && !table; ++pass)
    for (int i = 0; i < eh.e_shnum; ++i)
      if (sections[i].sh_type == (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM)) table = &sections[i];
  if (!table) throw Error("static shared memory: " + file + " has no symbol table");
  const char* names = base + sections[table->sh_link].sh_offset;
  const auto* symbols = reinterpret_cast<const Elf64_Sym*>(base + table->sh_offset);
  Symbols found;
  for (std::size_t i = 0; i < table->sh_size / sizeof(Elf64_Sym); ++i) {
    const Elf64_Sym& sym = symbols[i];
    const char* mangled = names + sym.st_name;
    if (ELF64_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_value != 0)
      found.functions.emplace(sym.st_value, mangled);
    else if (ELF64_ST_TYPE(sym.st_info) == STT_OBJECT && std::strncmp(mangled, "_ZZ", 3) == 0)
      found.statics[mangled] = sym.st_size;
  }
  return found;
}

}  // namespace

std::size_t KernelInfo::static_shared() const {
  static std::mutex mutex;
  static std::map<std::string, std::size_t> of_kernel;
  static std::map<std::string, Symbols> of_file;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto known = of_kernel.find(name); known != of_kernel.end()) return known->second;
  const LoadedObject object = object_of(reinterpret_cast<const void*>(fn));
  auto symbols = of_file.find(object.file);
  if (symbols == of_file.end()) symbols = of_file.emplace(object.file, read_symbols(object.file)).first;
  // The kernel by its address, not its name expression, whose default template arguments (fft::Lengths)
  // its symbol spells out; its statics are "_ZZ" <its mangled name less "_Z"> "E" <the static's name>.
  const auto kernel = symbols->second.functions.find(reinterpret_cast<std::uintptr_t>(fn) - object.base);
  if (kernel == symbols->second.functions.end() || kernel->second.rfind("_Z", 0) != 0)
    throw Error("static shared memory: no symbol of " + object.file + " names the kernel " + name);
  const std::string prefix = "_ZZ" + kernel->second.substr(2) + "E";
  const auto& statics = symbols->second.statics;
  std::size_t bytes = 0;
  for (auto s = statics.lower_bound(prefix); s != statics.end() && s->first.rfind(prefix, 0) == 0; ++s)
    bytes += s->second;
  return of_kernel[name] = bytes;
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
