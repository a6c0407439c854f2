"""Waiting in tests: for a condition, with a deadline, never for a fixed time.

The machines that run the suite are small and shared; a deadline is how long to keep
trying before calling it a failure, so it is generous. A condition that holds returns at
once."""
import time

DEADLINE_SECONDS = 120


def wait_for(condition, *, what, timeout=DEADLINE_SECONDS, interval=0.1):
    """Poll `condition()` until it returns something truthy, and return that; fail with
    `what` in the message when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(interval)
