"""Giving memory back to the system after a large photo is decoded, and keeping the garbage
collector off what lives as long as the process.

Pillow holds a decoded picture in blocks of 16 MB. glibc serves blocks that large with their
own mappings, returned to the system when freed, until the first one is freed: then it raises
its threshold above them and serves later blocks from its heaps, which keep the memory after
it is freed. Six large photos left a process holding gigabytes that way. A fixed threshold
keeps large blocks in mappings of their own, so memory goes back when a photo is done.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter (malloc.h); setting it also stops its dynamic adjustment."""
THRESHOLD = 1024 * 1024


@functools.cache
def keep_large_blocks_apart() -> None:
    """Sets glibc's mapping threshold, once for the process; where the C library has no
    ``mallopt`` (musl, macOS), its allocator already behaves and nothing is done."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    if not mallopt(M_MMAP_THRESHOLD, THRESHOLD):
        log.debug("mallopt(M_MMAP_THRESHOLD) was refused")


def settle_heap() -> None:
    """Moves every object that exists now (modules, the catalogue, the transport's client)
    out of the garbage collector's view: each full collection walked them all, a pause of
    50-80 ms on the event loop about once a second while a broadcast drains. Called once the
    bot is running; what it makes later is collected as before."""
    gc.collect()
    gc.freeze()
