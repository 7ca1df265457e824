# The engine's fixtures: tasks inline, the callback receiver, the gateway on a virtual clock.
from tests.calls.conftest import _tasks_run_inline, callbacks, gateway  # noqa: F401
