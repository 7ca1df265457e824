import pytest
from django_q.conf import Conf

from calls.carrier import VirtualClock
from calls.carrier.simulated import SimulatedCarrier
from calls.gateway import Gateway
from tests.receiver import CallbackReceiver


@pytest.fixture(autouse=True)
def _tasks_run_inline(monkeypatch):
    # django-q2's own sync mode: async_task runs the real task code at once, in-process,
    # so a test sees callbacks delivered as soon as the transaction that made them commits.
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def callbacks():
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


class GatewayHarness:
    """The production Gateway and simulated carrier on a virtual clock the test moves."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.carrier = SimulatedCarrier(self.clock)
        self.gateway = Gateway(self.carrier)

    def advance(self, seconds: float = 0.0) -> None:
        end = self.clock.now() + seconds
        while True:
            while self.gateway.step():
                pass  # what an event led to (a queued play starting) runs at the same instant
            upcoming = self.carrier.next_event_at()
            if upcoming is None or upcoming > end:
                break
            self.clock.advance_to(upcoming)
        self.clock.advance_to(end)
        while self.gateway.step():
            pass


@pytest.fixture
def gateway():
    return GatewayHarness()
