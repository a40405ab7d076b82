// Memory the CPU backend keeps between calls: output buffers recycled instead of returned to the
// kernel, and the per-thread FFT scratch of the drivers. Both are counted and can be released.
//
// Large NumPy arrays are fresh mmap'ed pages, and the kernel zeroes every page on first touch:
// for an STFT that writes 200 MB, zeroing costs more than the transforms. specsep's outputs are
// allocated here instead; when Python frees one, its block waits in a cache for the next call
// that needs as many bytes, or up to a quarter fewer (pipelines call with the same shapes over and
// over; lengths that vary a little share blocks). The
// cache holds at most set_buffer_cache_limit() bytes (default 1 GiB; 0 turns it off; Python sets
// it from SPECSEP_BUFFER_CACHE_MB), evicting the least recently released blocks first, so that a
// workload whose sizes change keeps the recent sizes, not the first ones. Cached blocks are
// mapped pages of their own (mmap), so a freed or evicted block goes back to the system at once
// rather than staying in the allocator's heap.
#pragma once
#include <atomic>
#include <cstddef>
#include <mutex>

namespace specsep {

// A block of at least `bytes` bytes, 64-byte aligned; throws std::bad_alloc.
void* acquire_buffer(std::size_t bytes);
// Gives a block from acquire_buffer back (to the cache or to the system).
void release_buffer(void* block);
// Frees every cached block; returns the bytes freed.
std::size_t clear_buffer_cache();
// Bytes held by the cache now.
std::size_t cached_bytes();
// Sets the cache's budget in bytes, evicting blocks down to it.
void set_buffer_cache_limit(std::size_t bytes);
std::size_t buffer_cache_limit();

// Per-thread scratch registers itself here so that it can be counted and released between calls.
// A task holds `in_use` while it works with the buffers; clear_scratch() takes it before freeing.
class ScratchMemory {
 public:
  ScratchMemory();
  virtual ~ScratchMemory();
  ScratchMemory(const ScratchMemory&) = delete;
  ScratchMemory& operator=(const ScratchMemory&) = delete;
  std::size_t bytes() const { return bytes_.load(); }

  std::mutex in_use;

 protected:
  // Leaves the registry; a derived class calls it first in its destructor, so that clear_scratch()
  // never calls release() on a half-destroyed object (idempotent).
  void unregister();
  std::atomic<std::size_t> bytes_{0};

 private:
  virtual void release() = 0;  // frees the buffers; called with in_use held
  friend std::size_t clear_scratch();
};

// Frees the scratch of every thread (waiting for tasks that use theirs); returns the bytes freed.
std::size_t clear_scratch();
// Bytes of scratch held by all threads now.
std::size_t scratch_bytes();

}  // namespace specsep
