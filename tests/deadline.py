"""A time limit for code that must terminate: a regression of an endless loop then fails
the test instead of hanging the suite."""

import _thread
import contextlib
import signal
import threading
from collections.abc import Iterator

# Not SIGALRM: django-q2's task timeout (tasks run inline in these tests) takes SIGALRM
# over and resets it, which would silently disarm the limit.
_SIGNAL = signal.SIGUSR1


class DeadlineExceeded(AssertionError):
    """The code under test ran past its deadline (most likely it never terminates)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DeadlineExceeded in the block if it runs longer than `seconds` of wall time.

    A watchdog thread interrupts the main thread (where pytest runs tests) between
    bytecodes, which is where the stalls this guards against spin.
    """

    def handler(_signum: int, _frame: object) -> None:
        raise DeadlineExceeded(f"still running after {seconds} s")

    previous = signal.signal(_SIGNAL, handler)
    watchdog = threading.Timer(seconds, _thread.interrupt_main, args=(_SIGNAL,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()
        signal.signal(_SIGNAL, previous)
