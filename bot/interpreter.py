"""How often Python's threads take turns with the interpreter's lock."""

from __future__ import annotations

import functools
import sys

SWITCH_S = 0.001
"""Python's default is 5 ms. The database's thread needs the lock to start each trip and to
hand back its result; while the event loop's thread runs a broadcast's copies, it waited up
to that long each time, and a rider's answer makes about eight trips."""


@functools.cache
def hand_over_quickly() -> None:
    """Once for the process: a thread that waits for the lock gets it within ``SWITCH_S``."""
    sys.setswitchinterval(SWITCH_S)
