// Output buffers that are recycled instead of returned to the kernel.
//
// Large NumPy arrays are fresh mmap'ed pages, and the kernel zeroes every page on first touch:
// for an STFT that writes 200 MB, zeroing costs more than the transforms. specsep's outputs are
// allocated here instead; when Python frees one, its block waits in a bounded cache for the next
// call that needs the same number of bytes (pipelines call with the same shapes over and over).
// The cache holds at most SPECSEP_BUFFER_CACHE_MB megabytes (default 1024; 0 turns it off).
#pragma once
#include <cstddef>

namespace specsep {

// A block of at least `bytes` bytes, 64-byte aligned; throws std::bad_alloc.
void* acquire_buffer(std::size_t bytes);
// Gives a block from acquire_buffer back (to the cache or to the system).
void release_buffer(void* block);
// Frees every cached block; returns the bytes freed.
std::size_t clear_buffer_cache();
// Bytes held by the cache now.
std::size_t cached_bytes();

}  // namespace specsep
