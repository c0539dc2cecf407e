"""A test helper: what other processes answer, polled until it is what the test waits for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(read: Callable[[], T], wanted: T, timeout: float = 5.0) -> T:
    """`read()` again until it gives `wanted` or `timeout` seconds have passed; its last value.

    For changes that servers in other processes pick up on their own clock, which a test
    cannot move: the test waits as long as they take, not a fixed time.
    """
    deadline = time.monotonic() + timeout
    value = read()
    while value != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value
