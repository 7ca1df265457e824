"""`atomic_verb`: a verb's transaction without a savepoint when its caller has one open.

A campaign app calls play / recognize / hang_up from its callback handler inside the
transaction that locks its own row, so `transaction.atomic` added a SAVEPOINT and a
RELEASE SAVEPOINT to every verb: two of a recognize's nine round trips (issue 15's
profile of the callback endpoints). A savepoint is only needed to undo a verb's partial
writes when it refuses after writing; the verbs wrapped with this refuse (raise AcsError)
only before their first write, so a caller that catches the refusal and goes on keeps a
clean transaction. Any other error propagates to the caller's transaction, which rolls
back as a whole. Called outside a transaction, a verb runs in its own, as before.

`atomic_writes` is for a verb that refuses after writing (create_call takes its slot
last): it keeps its savepoint, except inside `rolled_back_whole`, the API's
repeatability transaction, which any refusal rolls back whole anyway.
"""

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from django.db import transaction

Params = ParamSpec("Params")
Result = TypeVar("Result")


def atomic_verb(func: Callable[Params, Result]) -> Callable[Params, Result]:
    @functools.wraps(func)
    def run(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        if transaction.get_connection().in_atomic_block:
            return func(*args, **kwargs)
        with transaction.atomic():
            return func(*args, **kwargs)

    return run


# Set while a caller runs code in a transaction that any error rolls back whole (the
# API's repeatability wrapper): a verb that refuses after writing needs no savepoint
# there. Anywhere else (a test's transaction, a caller that catches and goes on) it
# keeps one, so its refusal undoes only its own writes.
_rolled_back_whole: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "rolled_back_whole", default=False
)


@contextlib.contextmanager
def rolled_back_whole() -> Iterator[None]:
    """Inside `transaction.atomic()`: promise that an error leaving this block leaves
    the atomic block too (so it rolls back everything done in it)."""
    token = _rolled_back_whole.set(True)
    try:
        yield
    finally:
        _rolled_back_whole.reset(token)


def atomic_writes(func: Callable[Params, Result]) -> Callable[Params, Result]:
    """The transaction of a verb that may refuse after writing: a savepoint only where
    the enclosing transaction would otherwise keep its partial writes."""

    @functools.wraps(func)
    def run(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        with transaction.atomic(savepoint=not _rolled_back_whole.get()):
            return func(*args, **kwargs)

    return run
