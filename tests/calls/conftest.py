import pytest
from django_q.conf import Conf

from calls.gateway import Gateway
from carrier.interface import VirtualClock
from carrier.simulated.driver import SimulatedCarrier
from tests.receiver import CallbackReceiver
from webhooks import subscriptions


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


@pytest.fixture
def grid_receiver():
    """The tenant's event webhook (Event Grid deliveries), a second real receiver."""
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


# The support call of the out-of-call scenario (issue 6): a customer calls an agent, peer to
# peer, with no app in the call; an expert may be brought in.
OUR_NUMBER = "+14255550100"
CUSTOMER = "8:acs:resource_customer"
AGENT = "8:acs:resource_agent"
EXPERT = "+14255550177"


@pytest.fixture
def p2p(tenant, gateway, grid_receiver):
    """A connected peer-to-peer support call, customer → agent; the tenant's event webhook
    (grid_receiver) is subscribed, so CallStarted and recording files reach it."""
    from calls import server_call_verbs
    from calls.identifiers import Identifier
    from calls.models import Call
    from tenants import services as tenant_services

    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    subscriptions.subscribe_events(
        tenant, endpoint_url=grid_receiver.url, event_types=[], actor=None
    )
    call = server_call_verbs.simulate_p2p_call(
        tenant, caller=Identifier.user(CUSTOMER), callee=Identifier.user(AGENT)
    )
    gateway.advance(2)
    return Call.unscoped.get(pk=call.pk)


@pytest.fixture
def sip_settings(settings, tmp_path):
    """What a test against SIPp needs: any free SIP port, RTP ports from a range of their
    own, and a media cache of the test's own (a test file asks for it in `pytestmark`)."""
    settings.SIP_PORT_BASE = 0
    settings.SIP_RTP_PORT_MIN, settings.SIP_RTP_PORT_MAX = 30000, 40000
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def sip_gateway(sip_settings):
    """The production Gateway carrying SIP trunks in real time (tests/calls/sip_gateway.py)."""
    from tests.calls.sip_gateway import SipGateway

    harness = SipGateway()
    yield harness
    harness.close()
