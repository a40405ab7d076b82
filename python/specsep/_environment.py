"""The environment variables the ``cpu`` backend reads, parsed once and strictly.

``SPECSEP_BUFFER_CACHE_MB`` (a non-negative integer of megabytes, default 1024, 0 turns the
output-buffer cache off) and ``SPECSEP_NUM_THREADS`` (a positive integer, default every core).
Anything else, ``-1``, ``1e3``, ``" 8"``, an empty string, is refused with a ``ValueError`` naming
the variable when the ``cpu`` backend loads, rather than read as a wrapped or truncated number.
"""

from __future__ import annotations

import os
import re

_DIGITS = re.compile(r"[0-9]+")


def integer(name: str, minimum: int, meaning: str) -> int | None:
    """The value of the environment variable ``name`` as an int ``>= minimum``, or None if unset.

    Raises ``ValueError`` naming the variable unless the value is plain ASCII decimal digits.
    """
    raw = os.environ.get(name)
    if raw is None:
        return None
    if not _DIGITS.fullmatch(raw) or int(raw) < minimum:
        raise ValueError(f"environment variable {name}={raw!r} must be {meaning} (decimal digits only)")
    return int(raw)


def buffer_cache_bytes() -> int | None:
    """``SPECSEP_BUFFER_CACHE_MB`` in bytes, or None when unset."""
    megabytes = integer("SPECSEP_BUFFER_CACHE_MB", 0, "a non-negative integer number of megabytes")
    if megabytes is None:
        return None
    if megabytes >= 1 << 43:  # the byte count must fit the C++ size_t with room to add blocks
        raise ValueError(f"environment variable SPECSEP_BUFFER_CACHE_MB={megabytes} is too large "
                         f"(at most {(1 << 43) - 1})")
    return megabytes << 20


def num_threads() -> int | None:
    """``SPECSEP_NUM_THREADS``, or None when unset."""
    return integer("SPECSEP_NUM_THREADS", 1, "a positive integer")
