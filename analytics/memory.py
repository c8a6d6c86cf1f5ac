"""Give freed memory back to the system between the stages of a large build.

glibc's malloc keeps memory a program has freed for its next allocations (each thread's
arena, the top of the heap), and pyarrow's pool does the same: after a block of a million
customers' events is linked and dropped, the process still holds hundreds of MB it does not
use, which the next stage's peak stands on. `release()` collects reference cycles and asks
both allocators to return what is free (`malloc_trim`, a few ms); it changes nothing of how
memory is allocated while the app serves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
        try:
            _LIBC = ctypes.CDLL(name) if name else False
            if _LIBC is not False and not hasattr(_LIBC, "malloc_trim"):   # not glibc
                _LIBC = False
        except OSError:
            _LIBC = False
    return _LIBC


def release() -> None:
    """Collect cycles and return freed memory to the system (where the platform can)."""
    gc.collect()
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    libc = _libc()
    if libc:
        libc.malloc_trim(0)
