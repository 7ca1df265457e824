"""The deliveries routes of the tenant REST API for events that belong to no call
connection (out-of-call operations, recording state sent to its own URL)."""

import pytest

from tests.callauto.test_hmac_auth import send
from tests.calls.api_support import assert_error, phone, signed
from tests.calls.conftest import EXPERT, OUR_NUMBER
from tests.conftest import key_of
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def out_of_call_delivery(client, tenant, p2p, callbacks, gateway) -> Delivery:
    """An expert added to a peer-to-peer call by serverCallId: its events go to the
    callback URL with no call connection."""
    body = {
        "participantToAdd": phone(EXPERT),
        "sourceCallerIdNumber": {"value": OUR_NUMBER},
        "callbackUri": callbacks.url,
    }
    path = f"serverCalls/{p2p.server_call_id}/participants:add"
    assert signed(client, tenant, "POST", path, body).status_code == 202
    gateway.advance(2)
    delivery = Delivery.unscoped.filter(tenant=tenant, call_event__connection=None).first()
    assert delivery is not None
    return delivery


def test_a_delivery_without_a_call_connection_is_listed_with_a_null_connection_id(
    client, tenant, out_of_call_delivery
):
    response = send(client, "GET", "/t/acme/api/v1/deliveries", key=key_of(tenant))

    assert response.status_code == 200, response.content
    rows = {row["id"]: row for row in response.json()["results"]}
    row = rows[out_of_call_delivery.pk]
    assert row["callConnectionId"] is None
    assert row["serverCallId"] == out_of_call_delivery.labels["serverCallId"]


def test_a_delivery_without_a_call_connection_is_shown_with_its_attempts(
    client, tenant, out_of_call_delivery
):
    path = f"/t/acme/api/v1/deliveries/{out_of_call_delivery.pk}"

    response = send(client, "GET", path, key=key_of(tenant))

    assert response.status_code == 200, response.content
    assert response.json()["callConnectionId"] is None
    assert response.json()["attemptLog"][0]["statusCode"] == 200


@pytest.mark.parametrize(
    ("since", "status"),
    [
        ("2020-01-01T00:00:00%2B23:30", 200),  # PostgreSQL itself takes at most ±15:59
        ("9999-12-31T23:59:59-23:00", 400),  # later than UTC can say
        ("0001-01-01T00:00:00%2B01:00", 400),  # earlier than UTC can say
        ("2026-02-30T00:00Z", 400),  # no such day
    ],
)
def test_the_since_filter_takes_any_offset_and_refuses_times_utc_cannot_hold(
    client, tenant, since, status
):
    response = send(client, "GET", f"/t/acme/api/v1/deliveries?since={since}", key=key_of(tenant))

    assert response.status_code == status, response.content
    if status == 400:
        assert_error(response, 400, "BadRequest", mentions="since")
