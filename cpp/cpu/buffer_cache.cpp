#include "buffer_cache.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <iterator>
#include <list>
#include <map>
#include <new>
#include <set>
#include <utility>

namespace specsep {
namespace {

constexpr std::size_t kHeader = 64;         // keeps the payload 64-byte aligned
constexpr std::size_t kSmallest = 1 << 20;  // smaller blocks are cheap: plain malloc/free
constexpr std::size_t kHugePage = 2 << 20;

std::size_t& size_of(void* raw) { return *static_cast<std::size_t*>(raw); }

// Blocks of kSmallest bytes and more are mappings of their own: munmap returns them to the
// system whatever the allocator's heap looks like.
std::size_t mapped_bytes(std::size_t bytes) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + kHeader + page - 1) / page * page;
}

void* map_block(std::size_t bytes) {
  const std::size_t total = mapped_bytes(bytes);
  void* raw = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  if (total >= kHugePage) madvise(raw, total, MADV_HUGEPAGE);  // fewer page faults on first touch
  return raw;
}

void unmap_block(void* raw) { munmap(raw, mapped_bytes(size_of(raw))); }

// Released blocks, least recently released first, and an index by payload size into that list.
struct Cache {
  std::mutex mutex;
  std::list<std::pair<std::size_t, void*>> by_age;
  std::multimap<std::size_t, std::list<std::pair<std::size_t, void*>>::iterator> by_size;
  std::size_t held = 0;
  std::size_t limit = std::size_t(1024) << 20;

  // The smallest cached block of bytes .. bytes + bytes / 4: signals whose lengths vary a little
  // reuse each other's blocks instead of filling the cache with sizes that never come back.
  void* take(std::size_t bytes) {
    auto it = by_size.lower_bound(bytes);
    if (it == by_size.end() || it->first > bytes + bytes / 4) return nullptr;
    const std::size_t size = it->first;
    void* raw = it->second->second;
    by_age.erase(it->second);
    by_size.erase(it);
    held -= size;
    return raw;
  }
  void evict_oldest() {
    const auto [bytes, raw] = by_age.front();
    auto range = by_size.equal_range(bytes);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == by_age.begin()) {
        by_size.erase(it);
        break;
      }
    by_age.pop_front();
    held -= bytes;
    unmap_block(raw);
  }
  void shrink_to(std::size_t budget) {
    while (held > budget) evict_oldest();
  }
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: buffers may be released during interpreter exit
  return *c;
}

}  // namespace

void* acquire_buffer(std::size_t bytes) {
  if (bytes >= kSmallest) {
    {
      Cache& c = cache();
      std::lock_guard<std::mutex> lock(c.mutex);
      if (void* raw = c.take(bytes)) return static_cast<char*>(raw) + kHeader;
    }
    void* raw = map_block(bytes);
    size_of(raw) = bytes;
    return static_cast<char*>(raw) + kHeader;
  }
  void* raw = std::aligned_alloc(64, ((bytes + kHeader + 63) / 64) * 64);
  if (!raw) throw std::bad_alloc();
  size_of(raw) = bytes;
  return static_cast<char*>(raw) + kHeader;
}

void release_buffer(void* block) {
  void* raw = static_cast<char*>(block) - kHeader;
  const std::size_t bytes = size_of(raw);
  if (bytes < kSmallest) {
    std::free(raw);
    return;
  }
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (bytes > c.limit) {
    unmap_block(raw);
    return;
  }
  c.shrink_to(c.limit - bytes);
  c.by_size.emplace(bytes, c.by_age.insert(c.by_age.end(), {bytes, raw}));
  c.held += bytes;
}

std::size_t clear_buffer_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  const std::size_t freed = c.held;
  c.shrink_to(0);
  return freed;
}

std::size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.held;
}

void set_buffer_cache_limit(std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.limit = bytes;
  c.shrink_to(bytes);
}

std::size_t buffer_cache_limit() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.limit;
}

// ---- scratch registry ---------------------------------------------------------------------------
namespace {

struct Registry {
  std::mutex mutex;
  std::set<ScratchMemory*> scratches;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: worker threads may exit after it
  return *r;
}

}  // namespace

ScratchMemory::ScratchMemory() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.scratches.insert(this);
}

ScratchMemory::~ScratchMemory() { unregister(); }

void ScratchMemory::unregister() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.scratches.erase(this);
}

std::size_t clear_scratch() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::size_t freed = 0;
  for (ScratchMemory* s : r.scratches) {
    std::lock_guard<std::mutex> busy(s->in_use);
    freed += s->bytes_.exchange(0);
    s->release();
  }
  return freed;
}

std::size_t scratch_bytes() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::size_t total = 0;
  for (const ScratchMemory* s : r.scratches) total += s->bytes();
  return total;
}

}  // namespace specsep
