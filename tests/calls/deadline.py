"""A time limit for code that must terminate: a regression of an endless loop then fails
the test instead of hanging the suite."""

import contextlib
import signal
from collections.abc import Iterator


class DeadlineExceeded(AssertionError):
    """The code under test ran past its deadline (most likely it never terminates)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DeadlineExceeded in the block if it runs longer than `seconds` of wall time.

    SIGALRM interrupts pure-Python loops between bytecodes, which is where the stalls
    this guards against spin. Main thread only (where pytest runs tests).
    """

    def expired(_signum: int, _frame: object) -> None:
        raise DeadlineExceeded(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
