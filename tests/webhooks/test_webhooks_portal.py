"""Portal: event webhooks (IncomingCall) and ringing a number from the browser."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from calls.models import Call, CarrierCommand
from tenants import services as tenant_services
from tenants.models import AuditEntry, Membership
from webhooks import signing, subscriptions
from webhooks.models import EventSubscription

pytestmark = pytest.mark.django_db(transaction=True)

Role = Membership.Role


def url(slug: str = "acme") -> str:
    return reverse("portal:webhooks", kwargs={"tenant_slug": slug})


def tools_url(slug: str = "acme") -> str:
    """The page with the test-call forms (ring a number, peer-to-peer): test callees."""
    return reverse("portal:callees", kwargs={"tenant_slug": slug})


def test_an_admin_adds_a_webhook_that_passes_validation(client, tenant, member_client, callbacks):
    member_client(Role.ADMIN)

    response = client.post(url(), {"endpoint_url": callbacks.url})

    assert response.status_code == 302
    subscription = EventSubscription.objects.for_tenant(tenant).get()
    assert subscription.state == EventSubscription.State.ACTIVE
    assert AuditEntry.objects.for_tenant(tenant).filter(action="event_subscription.add").exists()
    assert callbacks.url in client.get(url()).content.decode()


def test_a_webhook_that_does_not_answer_the_handshake_shows_as_failed(
    client, tenant, user, callbacks
):
    callbacks.validate = False
    client.force_login(user)

    client.post(url(), {"endpoint_url": callbacks.url})

    assert EventSubscription.objects.for_tenant(tenant).get().state == "failed"
    assert "Failed" in client.get(url()).content.decode()


def test_a_bad_url_is_refused_with_a_form_error(client, tenant, user):
    client.force_login(user)

    response = client.post(url(), {"endpoint_url": "ftp://example.com/x"})

    assert response.status_code == 200
    assert not EventSubscription.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_viewers_and_operators_cannot_change_webhooks(client, tenant, member_client, role):
    member_client(role)

    assert client.post(url(), {"endpoint_url": "https://example.com/x"}).status_code == 403
    assert client.post(url(), {"ring": "1", "to_number": "+14255550100"}).status_code == 403
    assert not EventSubscription.objects.for_tenant(tenant).exists()


def test_removing_another_tenants_webhook_is_404(client, tenant, other_tenant, user, callbacks):
    theirs = subscriptions.subscribe_events(
        other_tenant, endpoint_url=callbacks.url, event_types=[], actor=None
    )
    client.force_login(user)

    assert client.post(url(), {"remove": theirs.pk}).status_code == 404
    assert client.get(url("globex")).status_code == 404
    assert EventSubscription.unscoped.filter(pk=theirs.pk).exists()


def test_ringing_a_number_asks_the_carrier_to_place_an_incoming_call(client, tenant, user):
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    client.force_login(user)

    response = client.post(
        tools_url(), {"ring": "1", "to_number": "+14255550100", "caller": "+1 425 555 0199"}
    )

    assert response.status_code == 302
    command = CarrierCommand.unscoped.get(tenant=tenant)
    assert command.kind == CarrierCommand.Kind.ORIGINATE
    assert command.payload["caller"] == "4:+14255550199"


def test_ringing_a_number_the_tenant_does_not_own_is_refused(client, tenant, other_tenant, user):
    tenant_services.add_phone_number(other_tenant, "+14255550100", actor=None)
    client.force_login(user)

    response = client.post(
        tools_url(), {"ring": "1", "to_number": "+14255550100", "caller": "+14255550199"}
    )

    assert response.status_code == 200
    assert not CarrierCommand.unscoped.exists()


def test_an_admin_sees_and_rotates_the_signing_secret(client, tenant, user):
    client.force_login(user)
    [old] = signing.webhook_secrets(tenant)
    assert old in client.get(url()).content.decode()

    client.post(url(), {"rotate_secret": "1"})

    secrets = signing.webhook_secrets(tenant)
    assert len(secrets) == 2
    assert secrets[1] == old


def test_a_viewer_sees_no_signing_secret(client, tenant, member_client):
    [secret] = signing.webhook_secrets(tenant)
    member_client(Role.VIEWER)

    assert secret not in client.get(url()).content.decode()
    assert client.post(url(), {"rotate_secret": "1"}).status_code == 403


def test_an_admin_places_a_peer_to_peer_call_and_sees_its_server_call_id(
    client, tenant, user, gateway
):
    client.force_login(user)

    response = client.post(
        tools_url(), {"peer": "1", "caller": "8:acs:res_customer", "callee": "8:acs:res_agent"}
    )
    gateway.advance(2)

    assert response.status_code == 302
    call = Call.objects.for_tenant(tenant).get()
    assert call.direction == Call.Direction.PEER_TO_PEER
    assert call.state == Call.State.CONNECTED
    assert call.server_call_id in client.get(tools_url()).content.decode()


def test_a_peer_call_needs_two_valid_endpoints(client, tenant, user):
    client.force_login(user)

    same = client.post(tools_url(), {"peer": "1", "caller": "8:acs:res_a", "callee": "8:acs:res_a"})
    bad = client.post(tools_url(), {"peer": "1", "caller": "not-an-id", "callee": "8:acs:res_b"})

    assert same.status_code == 200
    assert bad.status_code == 200
    assert not Call.objects.for_tenant(tenant).exists()


def test_a_viewer_cannot_place_a_peer_call(client, tenant, member_client):
    member_client(Role.VIEWER)

    response = client.post(url(), {"peer": "1", "caller": "8:acs:res_a", "callee": "8:acs:res_b"})

    assert response.status_code == 403
    assert not Call.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://localhost:8080/hook",  # a name that resolves to loopback
    ],
)
def test_a_webhook_to_a_forbidden_address_is_refused_when_saved(
    client, tenant, user, settings, endpoint
):
    settings.OUTBOUND_ALLOWLIST = []
    client.force_login(user)

    response = client.post(url(), {"endpoint_url": endpoint})

    assert response.status_code == 200
    assert "This URL is not allowed" in response.content.decode()
    assert not EventSubscription.unscoped.exists()
    assert (
        not AuditEntry.objects.for_tenant(tenant).filter(action="event_subscription.add").exists()
    )


def test_the_subscribe_service_refuses_a_forbidden_address_whoever_calls_it(tenant, settings):
    settings.OUTBOUND_ALLOWLIST = []

    with pytest.raises(ValidationError, match="not allowed"):
        subscriptions.subscribe_events(
            tenant, endpoint_url="http://169.254.169.254/x", event_types=[], actor=None
        )

    assert not EventSubscription.unscoped.exists()
