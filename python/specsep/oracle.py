"""``specsep.oracle``: the name under which :mod:`specsep.tools.oracle` is public.

The module object is the tool's own (not a copy), so that ``specsep.oracle.evaluate`` and
``specsep.tools.oracle.evaluate`` are one function.
"""

import sys

from .tools import oracle

sys.modules[__name__] = oracle
