#include "buffer_cache.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>

namespace specsep {
namespace {

constexpr std::size_t kHeader = 64;              // keeps the payload 64-byte aligned
constexpr std::size_t kSmallest = 1 << 20;       // smaller blocks are cheap: plain malloc/free
constexpr std::size_t kHugePage = 2 << 20;

std::size_t limit_from_environment() {
  const char* env = std::getenv("SPECSEP_BUFFER_CACHE_MB");
  if (!env) return std::size_t(1024) << 20;
  return static_cast<std::size_t>(std::strtoull(env, nullptr, 10)) << 20;
}

struct Cache {
  std::mutex mutex;
  std::multimap<std::size_t, void*> blocks;  // payload bytes -> raw block
  std::size_t held = 0;
  const std::size_t limit = limit_from_environment();
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: buffers may be released during interpreter exit
  return *c;
}

std::size_t& size_of(void* raw) { return *static_cast<std::size_t*>(raw); }

}  // namespace

void* acquire_buffer(std::size_t bytes) {
  if (bytes >= kSmallest) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.blocks.find(bytes);
    if (it != c.blocks.end()) {
      void* raw = it->second;
      c.blocks.erase(it);
      c.held -= bytes;
      return static_cast<char*>(raw) + kHeader;
    }
  }
  const std::size_t total = ((bytes + kHeader + 63) / 64) * 64;
  void* raw = std::aligned_alloc(64, total);
  if (!raw) throw std::bad_alloc();
  if (total >= kHugePage) madvise(raw, total, MADV_HUGEPAGE);  // fewer page faults on first touch
  size_of(raw) = bytes;
  return static_cast<char*>(raw) + kHeader;
}

void release_buffer(void* block) {
  void* raw = static_cast<char*>(block) - kHeader;
  const std::size_t bytes = size_of(raw);
  if (bytes >= kSmallest) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.held + bytes <= c.limit) {
      c.blocks.emplace(bytes, raw);
      c.held += bytes;
      return;
    }
  }
  std::free(raw);
}

std::size_t clear_buffer_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& entry : c.blocks) std::free(entry.second);
  c.blocks.clear();
  const std::size_t freed = c.held;
  c.held = 0;
  return freed;
}

std::size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.held;
}

}  // namespace specsep
