# The engine's harness: inline tasks and the gateway on a virtual clock the test moves.
from tests.calls.conftest import _tasks_run_inline, gateway  # noqa: F401
