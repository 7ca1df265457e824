"""Issue 17, item 14: test callees, the event webhook and "ring a number" through the
tenant API (no portal login, no CSRF scraping): happy paths, bad input in the ACS shape,
another tenant's ids answering 404, audit entries."""

import pytest

from calls.models import CarrierCommand, SimulatedCallee
from tenants import services as tenant_services
from tenants.models import AuditEntry
from tests.calls.api_support import assert_error
from tests.reminders.test_api import api
from webhooks.models import EventSubscription

pytestmark = pytest.mark.django_db

NUMBER = "+14255550100"


def test_a_test_callee_is_added_changed_listed_and_removed(client, tenant):
    added = api(
        client, tenant, "POST", "test-callees",
        {"rawId": "+14255550123", "answerAfter": 2, "keys": [[1, "1", "prompt"]]},
    )  # fmt: skip
    assert added.status_code == 201, added.content
    callee = added.json()
    assert callee["rawId"] == "4:+14255550123"
    assert callee["keys"] == [[1.0, "1", "prompt"]]

    changed = api(client, tenant, "PATCH", f"test-callees/{callee['id']}", {"outcome": "busy"})
    assert changed.json()["outcome"] == "busy"
    assert api(client, tenant, "GET", "test-callees").json()["results"][0]["outcome"] == "busy"
    assert api(client, tenant, "DELETE", f"test-callees/{callee['id']}").status_code == 204
    assert not SimulatedCallee.unscoped.exists()
    actions = set(AuditEntry.objects.for_tenant(tenant).values_list("action", flat=True))
    assert {"simulated_callee.add", "simulated_callee.change", "simulated_callee.remove"} <= actions


@pytest.mark.parametrize(
    "body",
    [
        {"rawId": "not a number"},
        {"rawId": "+14255550123", "keys": [[1, "X"]]},
        {"rawId": "+14255550123", "answerAfter": -1},
        {"rawId": "+14255550123", "outcome": "explode"},
        {},
    ],
)
def test_a_bad_test_callee_is_refused_in_the_acs_shape(client, tenant, body):
    assert_error(api(client, tenant, "POST", "test-callees", body), 400, "BadRequest")
    assert not SimulatedCallee.unscoped.exists()


def test_another_tenants_test_callee_answers_404(client, tenant, other_tenant):
    theirs = SimulatedCallee.unscoped.create(tenant=other_tenant, raw_id="4:+14255550123")

    for method in ("GET", "PATCH", "DELETE"):
        response = api(client, tenant, method, f"test-callees/{theirs.pk}", {"outcome": "busy"})
        assert_error(response, 404)
    assert SimulatedCallee.unscoped.get().outcome == "answer"


def test_an_event_webhook_is_added_listed_and_removed(client, tenant, grid_receiver):
    added = api(
        client, tenant, "POST", "event-webhooks",
        {"endpointUrl": grid_receiver.url, "eventTypes": ["Microsoft.Communication.IncomingCall"]},
    )  # fmt: skip
    assert added.status_code == 201, added.content
    hook = added.json()
    assert hook["state"] in {"pending", "active"}

    assert [h["id"] for h in api(client, tenant, "GET", "event-webhooks").json()["results"]] == [
        hook["id"]
    ]
    assert api(client, tenant, "DELETE", f"event-webhooks/{hook['id']}").status_code == 204
    assert not EventSubscription.unscoped.exists()
    assert AuditEntry.objects.for_tenant(tenant).filter(action="event_subscription.add").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"endpointUrl": "not a url"},
        {"endpointUrl": "http://169.254.169.254/latest"},  # the SSRF guard refuses it
        {"endpointUrl": "https://example.com/hook", "eventTypes": "IncomingCall"},
    ],
)
def test_a_bad_event_webhook_is_refused_in_the_acs_shape(client, tenant, body):
    assert_error(api(client, tenant, "POST", "event-webhooks", body), 400, "BadRequest")


def test_another_tenants_event_webhook_answers_404(client, tenant, other_tenant):
    theirs = EventSubscription.unscoped.create(tenant=other_tenant, endpoint_url="https://x.test")

    assert_error(api(client, tenant, "GET", f"event-webhooks/{theirs.pk}"), 404)
    assert_error(api(client, tenant, "DELETE", f"event-webhooks/{theirs.pk}"), 404)
    assert EventSubscription.unscoped.count() == 1


def test_ringing_a_number_simulates_an_incoming_call_and_is_audited(client, tenant):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)

    response = api(client, tenant, "POST", "incoming-calls", {"to": NUMBER, "from": "+14255550199"})

    assert response.status_code == 202, response.content
    command = CarrierCommand.unscoped.get(kind=CarrierCommand.Kind.ORIGINATE)
    assert command.payload["leg_id"] == response.json()["legId"]
    assert command.payload["caller"] == "4:+14255550199"
    assert AuditEntry.objects.for_tenant(tenant).filter(action="incoming_call.simulate").exists()


@pytest.mark.parametrize(
    "body",
    [{"to": NUMBER}, {"to": "+14255550111", "from": "+14255550199"}, {"to": NUMBER, "from": "x"}],
)
def test_ringing_with_bad_input_is_refused_in_the_acs_shape(client, tenant, body):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)

    assert_error(api(client, tenant, "POST", "incoming-calls", body), 400)
    assert not CarrierCommand.unscoped.exists()


def test_ringing_another_tenants_number_is_refused(client, tenant, other_tenant):
    tenant_services.add_phone_number(other_tenant, NUMBER, actor=None)

    response = api(client, tenant, "POST", "incoming-calls", {"to": NUMBER, "from": "+1425555"})

    assert_error(response, 400)
    assert not CarrierCommand.unscoped.exists()
