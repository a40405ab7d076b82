// Complex FFT of one sequence, run by a block of workers over shared scratch.
#pragma once
#include "passes.hpp"
#include "prime_pass.hpp"

namespace specsep {
namespace fft {

constexpr int kMaxFactors = 40;  // 2^40 points: more than any STFT frame

// The factorisation of a transform length: built on the host (specsep/fft/host_plan.hpp), read by
// every backend. Passes run in the order of `factors`.
struct Factors {
  index_t n;
  int count;
  int factors[kMaxFactors];
};

// The lengths a transform is compiled for: `any`, or only the `smooth` ones whose factors are all
// 2, 3, 4, 5, 8 or 16. The smooth code has no prime pass (nor, in frame.hpp, Bluestein's branch): a GPU
// kernel holds the registers of every path it contains, taken or not, so the CUDA kernels have a
// smooth instantiation for the usual lengths (docs/kernel-resources.md).
enum class Lengths { smooth, any };

// Entries of the passes' twiddle tables (fft/passes.hpp): (p - 1) * ido per pass.
SPECSEP_HD SPECSEP_INLINE index_t twiddle_count(const Factors& fact) {
  index_t count = 0, l1 = 1;
  for (int s = 0; s < fact.count; ++s) {
    const int p = fact.factors[s];
    count += (p - 1) * (fact.n / (l1 * p));
    l1 *= p;
  }
  return count;
}

SPECSEP_HD SPECSEP_INLINE bool is_smooth(const Factors& fact) {
  for (int s = 0; s < fact.count; ++s) {
    const int p = fact.factors[s];
    if (p != 2 && p != 3 && p != 4 && p != 5 && p != 8 && p != 16) return false;
  }
  return true;
}

// Pass dispatch on the radix of one stage; tw: the pass's twiddle table.
template <bool fwd, Lengths lengths, typename V, typename T, typename Block, typename Layout>
SPECSEP_HD SPECSEP_INLINE void run_pass(const Block& block, int p, index_t ido, index_t l1, index_t n,
                                        const cplx<V>* cc, cplx<V>* ch, Roots<T> roots, const cplx<T>* tw,
                                        Layout in, Layout out) {
  switch (p) {
    case 2: pass_small<2, fwd>(block, ido, l1, cc, ch, tw, in, out); break;
    case 3: pass_small<3, fwd>(block, ido, l1, cc, ch, tw, in, out); break;
    case 4: pass_small<4, fwd>(block, ido, l1, cc, ch, tw, in, out); break;
    case 5: pass_small<5, fwd>(block, ido, l1, cc, ch, tw, in, out); break;
    case 8: pass_small<8, fwd>(block, ido, l1, cc, ch, tw, in, out); break;
    case 16: pass_small<16, fwd>(block, ido, l1, cc, ch, tw, in, out); break;
    default:  // never reached by smooth code: its callers hold is_smooth(fact)
      if (lengths == Lengths::any) pass_prime<fwd>(block, p, ido, l1, n, cc, ch, roots, tw, in, out);
      break;
  }
}

// Unnormalised DFT of `a` (length fact.n), forward: sum_x a[x] exp(-2 pi i x k / n); backward
// with the opposite sign. `b` is scratch of the same length, Layout<Block>::room(fact.n) values
// each (the buffers between passes take the Block's layout, layout.hpp; a and the result are in
// order). `twiddles`: the passes' tables (twiddle_count(fact) entries, fft/passes.hpp); `roots`:
// the root table of the prime pass, unread by smooth code. Returns the buffer holding the result
// (a or b). Every worker of the block must call it; it ends with a barrier. Smooth code
// (lengths == Lengths::smooth) needs is_smooth(fact).
template <bool fwd, Lengths lengths = Lengths::any, typename V, typename T, typename Block>
SPECSEP_HD cplx<V>* transform(const Block& block, const Factors& fact, Roots<T> roots, const cplx<T>* twiddles,
                              cplx<V>* a, cplx<V>* b) {
  using L = Layout<Block>;
  const index_t n = fact.n;  // read once: `fact` may live in GPU shared memory
  const int count = fact.count;
  index_t l1 = 1;
  L in{};
  for (int s = 0; s < count; ++s) {
    const int p = fact.factors[s];
    const index_t ido = n / (l1 * p);
    const L out = s + 1 < count ? L::template before<V>(fact.factors[s + 1], ido / fact.factors[s + 1], n / p) : L{};
    run_pass<fwd, lengths>(block, p, ido, l1, n, a, b, roots, twiddles, in, out);
    twiddles += (p - 1) * ido;
    block.sync();
    cplx<V>* t = a;
    a = b;
    b = t;
    l1 *= p;
    in = out;
  }
  return a;
}

}  // namespace fft
}  // namespace specsep
