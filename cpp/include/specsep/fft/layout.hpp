// Where the values of an FFT work buffer live between two passes: in order on the CPU, padded
// against shared-memory bank conflicts on the GPU. A Block names its choice (block.hpp: `banked`).
//
// A pass of radix p reads CC(i, m, k) = cc[i + ido*(m + p*k)] (passes.hpp), items (k, i) on
// consecutive workers, i fastest. Shared memory serves a warp request in phases of B lanes, B =
// 128 bytes / sizeof(cplx<V>) (16 complex floats, 8 complex doubles; the 32 banks hold B values):
// with ido < B the lanes of a phase read ido values from each of B/ido rows S = p*ido apart, and
// with S a multiple of B every row starts in the same banks (up to p-way conflicts). The previous
// pass writes ch[i + S*(k + l1*j)], i < S: runs of consecutive values, conflict-free.
//
// The padded layout keeps value x at x + (x / P) * ido, P = max(S, B): each row (S >= B), or each
// run of B values holding B/S rows (S < B), starts ido values further along the banks than the one
// before, so the rows a phase reads tile the B bank groups, and a writer's phase (B consecutive
// values, B dividing P) never straddles a pad. That is conflict-free for power-of-two S, the only
// ones padded. The pad is at most P/8 (checked; radix-8 and radix-16 passes: ido = S/8 or S/16,
// the last: ido = 1 <= B/8), so a padded buffer of n values fits in room(n) = n + n/8; the first
// pass reads and the last writes the plain layout (fft.hpp), the one every caller fills and reads.
//
// P is a multiple of the reader's rows S and of the writer's outputs j apart (`run`, or the buffer
// stays plain), so the passes address whole rows and add the offsets within them: CC(i, m, k) at
// in(S*k) + i + ido*m, and the writer's output j at out(x) + j*out(run): one shift per item, not
// one per value (each costs the kernels registers).
#pragma once
#include "../complex.hpp"

namespace specsep {
namespace fft {

// The plain layout: value x at x (one CPU worker has no banks to spread).
struct Plain {
  SPECSEP_HD SPECSEP_INLINE index_t operator()(index_t x) const { return x; }
  template <typename V>
  SPECSEP_HD SPECSEP_INLINE static Plain before(int, index_t, index_t) { return {}; }
  SPECSEP_HD SPECSEP_INLINE static index_t room(index_t n) { return n; }
};

// The padded layout of GPU shared memory: value x at x + (x >> shift) * pad.
struct Padded {
  int shift;    // log2 P
  index_t pad;  // values left out after every P; 0: the plain layout

  SPECSEP_HD SPECSEP_INLINE index_t operator()(index_t x) const { return x + (x >> shift) * pad; }

  // The layout of the buffer that a pass of radix p with this ido reads, and the pass before it
  // writes with outputs `run` values apart.
  template <typename V>
  SPECSEP_HD SPECSEP_INLINE static Padded before(int p, index_t ido, index_t run) {
    const index_t banks = 128 / sizeof(cplx<V>), rows = p * ido;
    const index_t period = rows > banks ? rows : banks;
    if (ido >= banks || (rows & (rows - 1)) != 0 || 8 * ido > period || run % period != 0) return {0, 0};
    int shift = 0;
    while ((index_t(1) << shift) < period) ++shift;
    return {shift, ido};
  }
  SPECSEP_HD SPECSEP_INLINE static index_t room(index_t n) { return n + n / 8; }
};

// The layout type of a Block's work buffers.
template <bool banked>
struct LayoutOf {
  using type = Plain;
};
template <>
struct LayoutOf<true> {
  using type = Padded;
};
template <typename Block>
using Layout = typename LayoutOf<Block::banked>::type;

}  // namespace fft
}  // namespace specsep
