"""Tenant URLs pass the SSRF guard: refused when given, and again when used."""

import pytest

from calls import call_verbs
from calls.identifiers import Identifier
from calls.models import Call
from tenants import services as tenant_services
from tests.callauto.test_hmac_auth import send
from tests.conftest import key_of
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

CREATE = "/t/acme/calling/callConnections?api-version=2026-03-12"


@pytest.fixture
def acme(tenant, settings):
    settings.OUTBOUND_ALLOWLIST = []
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    return tenant


@pytest.mark.parametrize(
    "callback", ["http://127.0.0.1:8080/cb", "http://169.254.169.254/cb", "http://[::1]/cb"]
)
def test_a_callback_uri_to_a_forbidden_address_is_refused_at_create(client, acme, callback):
    body = (
        '{"targets": [{"rawId": "4:+14255550123"}], "sourceCallerIdNumber": '
        f'{{"value": "+14255550100"}}, "callbackUri": "{callback}"}}'
    ).encode()

    response = send(client, "POST", CREATE, key=key_of(acme), body=body)

    assert response.status_code == 400
    assert "callbackUri" in response.json()["error"]["message"]
    assert Call.unscoped.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_callback_that_became_forbidden_is_not_delivered(acme, settings, gateway):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.0/8"]
    call_verbs.create_call(
        acme,
        targets=[Identifier.phone("+14255550123")],
        callback_uri="http://127.0.0.1:9/cb",
        source_caller_id="+14255550100",
    )
    settings.OUTBOUND_ALLOWLIST = []

    gateway.advance(2)

    delivery = Delivery.unscoped.first()
    assert delivery.state == Delivery.State.DEAD
    assert "loopback" in delivery.last_error
