"""Give the memory of large temporaries back to the system when they are freed.

glibc serves an allocation from the heap, not from its own mapping, once it is below the
"mmap threshold", and it raises that threshold up to 32 MB the first time a mapped block is
freed. From then on the blocks a pass over a lab model's vocabulary allocates (a few tens of MB
each) come from the heap, where the small objects allocated around them (token strings) keep
the freed space from being returned: 1.8 GB stayed resident after one pass over a
256k x 2304 bfloat16 vocabulary. Fixing the threshold at 1 MB keeps every large block mapped,
so it is unmapped when freed. Elsewhere (macOS, Windows, musl) there is nothing to do.
"""

from __future__ import annotations

import ctypes
import sys

_M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h
THRESHOLD = 1 << 20


def return_large_frees() -> bool:
    """Fix glibc's mmap threshold for this process; False where it cannot be (not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):  # another C library: its defaults stand
        return False
