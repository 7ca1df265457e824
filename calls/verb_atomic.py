"""`atomic_verb`: a verb's transaction without a savepoint when its caller has one open.

A campaign app calls play / recognize / hang_up from its callback handler inside the
transaction that locks its own row, so `transaction.atomic` added a SAVEPOINT and a
RELEASE SAVEPOINT to every verb: two of a recognize's nine round trips (issue 15's
profile of the callback endpoints). A savepoint is only needed to undo a verb's partial
writes when it refuses after writing; the verbs wrapped with this refuse (raise AcsError)
only before their first write, so a caller that catches the refusal and goes on keeps a
clean transaction. Any other error propagates to the caller's transaction, which rolls
back as a whole. Called outside a transaction, a verb runs in its own, as before.
"""

import functools
from collections.abc import Callable
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
