"""Recording tests: the engine's gateway and callback fixtures, recording files in a
temporary directory, and the support call of the issue's scenario."""

import pytest

from calls import services
from calls.identifiers import Identifier
from calls.models import Call
from tenants import services as tenant_services
from tests.calls.conftest import _tasks_run_inline, callbacks, gateway  # noqa: F401
from tests.receiver import CallbackReceiver
from tests.recordings.storage import temporary_recordings_storage

OUR_NUMBER = "+14255550100"
CUSTOMER = "8:acs:resource_customer"
AGENT = "8:acs:resource_agent"
EXPERT = "+14255550177"


@pytest.fixture(autouse=True)
def recordings_dir(tmp_path, settings, live_server):
    """Files go to a fresh directory; *Location URLs point at the live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"
    with temporary_recordings_storage(tmp_path / "recordings") as directory:
        yield directory


@pytest.fixture
def grid_receiver():
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def p2p(tenant, gateway, grid_receiver):  # noqa: F811  (the imported fixture)
    """A connected peer-to-peer support call (customer → agent), no app in it; the tenant's
    event webhook is subscribed (CallStarted, RecordingFileStatusUpdated)."""
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    services.subscribe_events(tenant, endpoint_url=grid_receiver.url, event_types=[], actor=None)
    call = services.simulate_p2p_call(
        tenant, caller=Identifier.user(CUSTOMER), callee=Identifier.user(AGENT)
    )
    gateway.advance(2)
    return Call.unscoped.get(pk=call.pk)
