# The engine's harness (inline tasks, callback receivers, the gateway on a virtual clock).
from tests.calls.conftest import (  # noqa: F401
    _tasks_run_inline,
    callbacks,
    gateway,
    grid_receiver,
    p2p,
)
