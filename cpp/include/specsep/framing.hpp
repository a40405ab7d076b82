// Framing: which signal sample feeds position j of frame t, with centre padding done in the
// index maths (no padded copy).
#pragma once
#include "hd.hpp"

namespace specsep {

enum PadMode : int { kPadConstant = 0, kPadReflect = 1, kPadEdge = 2 };

// Index into a signal of `len` samples for the padded position s (s may be < 0 or >= len), or
// -1 when the position reads a zero. Reflect is NumPy's: mirrored without repeating the edge,
// which for long pads is periodic with period 2 (len - 1).
SPECSEP_HD SPECSEP_INLINE index_t source_index(index_t s, index_t len, int mode) {
  if (s >= 0 && s < len) return s;
  if (mode == kPadConstant) return -1;
  if (mode == kPadEdge || len == 1) return s < 0 ? 0 : len - 1;
  const index_t period = 2 * (len - 1);
  index_t r = s % period;
  if (r < 0) r += period;
  return r < len ? r : period - r;
}

}  // namespace specsep
