"""Wait for a condition, not for a time: the one polling loop of the lab."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str = "the condition",
    *,
    interval: float = 0.02,
    give_up: Callable[[], bool] | None = None,
) -> T:
    """Call `condition` until it returns something truthy, and return that.

    Raises TimeoutError after `timeout` seconds, or at once when `give_up()` is true
    (e.g. the process we wait for has exited). The condition gets one last call at the end,
    so a slow machine that meets it just in time is not failed.
    """
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline or (give_up and give_up()):
            if result := condition():
                return result
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        time.sleep(interval)
