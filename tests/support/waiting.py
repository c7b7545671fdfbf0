"""Waiting for a condition with a deadline, instead of sleeping a fixed time before asserting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold in time; the message says what was awaited and the last value."""


def wait_until(
    what: str,
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.25,
    retry_on: tuple[type[BaseException], ...] = (OSError,),
) -> T:
    """Call ``probe()`` until ``done(value)``; return that value. A probe raising one of ``retry_on``
    (a server not listening yet) is tried again. On timeout, raise :class:`WaitTimeout`."""
    deadline = time.monotonic() + timeout_s
    last: object = "nothing: every probe failed"
    while True:
        try:
            value = probe()
        except retry_on as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if done(value):
                return value
            last = value
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout_s:.0f} s waiting for {what}; last: {str(last)[:500]}")
        time.sleep(interval_s)
