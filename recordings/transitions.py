"""A recording's allowed state changes, registered with the engine's transition table so
`calls.transitions.transition` guards them like every other state (one table each)."""

from calls.transitions import TABLES, can_transition, transition
from recordings.models import Recording

R = Recording.State
RECORDING: dict[str, set[str]] = {
    R.ACTIVE: {R.PAUSED, R.STOPPED, R.FAILED},
    R.PAUSED: {R.ACTIVE, R.STOPPED, R.FAILED},
}
TABLES[Recording] = RECORDING

__all__ = ["RECORDING", "can_transition", "transition"]
