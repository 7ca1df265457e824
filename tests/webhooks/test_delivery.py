"""Durable callback delivery: retries on schedule, dead letters, 410, redelivery, sweeper,
signing-key rotation; with a real HTTP receiver and virtual time."""

from datetime import timedelta
from itertools import pairwise

import jwt
import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf
from standardwebhooks import Webhook

from calls import call_verbs, participant_verbs
from calls.identifiers import Identifier
from calls.models import CallConnection
from tenants import services as tenant_services
from tenants.models import Membership
from tests.callauto.test_hmac_auth import send
from tests.conftest import key_of
from webhooks import delivery, signing
from webhooks.models import Delivery, DisabledEndpoint

pytestmark = pytest.mark.django_db(transaction=True)

D = Delivery.State


@pytest.fixture
def connected(tenant, callbacks, gateway):
    """A connected call whose callbacks go to the receiver; returns its connection."""
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    connection = call_verbs.create_call(
        tenant,
        targets=[Identifier.phone("+14255550123")],
        callback_uri=callbacks.url,
        source_caller_id="+14255550100",
    )
    gateway.advance(2)
    return CallConnection.unscoped.get(pk=connection.pk)


def fail_next(connection, callbacks, *statuses):
    """Make the receiver answer `statuses` first, then emit one more event (a hang-up)."""
    callbacks.script = list(statuses)
    call_verbs.hang_up(connection.tenant, connection.call_connection_id)
    return Delivery.unscoped.filter(event_type="CallDisconnected").get()


def test_a_failing_receiver_gets_retries_on_the_schedule_until_it_answers(connected, callbacks):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        dead_end = fail_next(connected, callbacks, 500, 500, 500)
        # The first try ran at once (task in sync mode, no inline retries): now retrying.
        dead_end.refresh_from_db()
        assert (dead_end.state, dead_end.attempts) == (D.RETRYING, 1)
        first_gap = (dead_end.next_attempt_at - timezone.now()).total_seconds()

        for _ in range(3):
            dead_end.refresh_from_db()
            traveller.move_to(dead_end.next_attempt_at + timedelta(seconds=1))
            delivery.sweep()

    dead_end.refresh_from_db()
    attempts = list(dead_end.attempt_log.all())
    assert dead_end.state == D.DELIVERED
    assert [a.status_code for a in attempts] == [500, 500, 500, 200]
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(attempts)]
    assert 4.5 <= first_gap <= 5.5
    assert [round(g / s, 1) for g, s in zip(gaps, [5, 300, 1800], strict=True)] == pytest.approx(
        [1.0, 1.0, 1.0], abs=0.35
    )
    ids = {r["headers"]["webhook-id"] for r in callbacks.requests[-4:]}
    assert ids == {dead_end.webhook_id}  # the same id on every attempt


def test_quick_retries_are_waited_for_in_order(connected, callbacks, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # leave the event queued for "a worker"
    callbacks.script = [503]
    participant_verbs.mute_participant(
        connected.tenant, connected.call_connection_id, target=Identifier.phone("+14255550123")
    )
    slept = []
    with time_machine.travel(timezone.now(), tick=False) as traveller:

        def sleep(seconds):
            slept.append(seconds)
            traveller.shift(seconds)

        delivery.deliver_key(f"connection:{connected.pk}", inline_retry=10, sleep=sleep)

    assert len(slept) == 1
    assert 4.5 <= slept[0] <= 5.5
    assert set(Delivery.unscoped.values_list("state", flat=True)) == {D.DELIVERED}
    assert [r["body"][0]["type"] for r in callbacks.requests[-2:]] == [
        "Microsoft.Communication.ParticipantsUpdated"
    ] * 2


def test_retry_after_is_honoured(connected, callbacks):
    callbacks.extra_headers = {"Retry-After": "120"}

    dead_end = fail_next(connected, callbacks, 503)

    dead_end.refresh_from_db()
    assert 119 <= (dead_end.next_attempt_at - timezone.now()).total_seconds() <= 121


def test_a_timeout_is_retried(connected, callbacks, settings):
    settings.DELIVERY_TIMEOUT_SECONDS = 0.3
    callbacks.delay = 1.0

    dead_end = fail_next(connected, callbacks)

    dead_end.refresh_from_db()
    assert dead_end.state == D.RETRYING
    assert dead_end.attempt_log.get().error_class == "ReadTimeout"


def test_a_redirect_is_a_failure_and_is_not_followed(connected, callbacks):
    callbacks.extra_headers = {"Location": "http://169.254.169.254/"}

    dead_end = fail_next(connected, callbacks, 302)

    dead_end.refresh_from_db()
    assert (dead_end.state, dead_end.last_status) == (D.RETRYING, 302)


def test_410_disables_the_endpoint_and_kills_what_was_queued_for_it(connected, callbacks):
    dead_end = fail_next(connected, callbacks, 410)

    dead_end.refresh_from_db()
    assert dead_end.state == D.DEAD
    assert DisabledEndpoint.objects.for_tenant(connected.tenant).get().url == callbacks.url


def test_an_exhausted_schedule_leaves_the_delivery_dead(connected, callbacks):
    callbacks.status = 500
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        dead_end = fail_next(connected, callbacks)
        for _ in range(8):
            dead_end.refresh_from_db()
            if dead_end.state == D.DEAD:
                break
            traveller.move_to(dead_end.next_attempt_at + timedelta(seconds=1))
            delivery.sweep()

    dead_end.refresh_from_db()
    assert (dead_end.state, dead_end.attempts) == (D.DEAD, 8)


def test_the_sweeper_resends_what_a_killed_worker_left_claimed(connected, callbacks):
    sent_before = len(callbacks.requests)
    stuck = Delivery.unscoped.order_by("pk").first()
    Delivery.unscoped.filter(pk=stuck.pk).update(
        state=D.DELIVERING, claimed_at=timezone.now() - timedelta(minutes=5)
    )

    counts = delivery.sweep()

    stuck.refresh_from_db()
    assert counts["released"] == 1
    assert stuck.state == D.DELIVERED
    assert len(callbacks.requests) == sent_before + 1


def test_two_workers_never_hold_the_same_connection(connected, callbacks):
    Delivery.unscoped.update(state=D.PENDING)

    first = delivery.claim_next(f"connection:{connected.pk}")

    assert first is not None
    assert delivery.claim_next(f"connection:{connected.pk}") is None


def test_dead_deliveries_are_redelivered_from_the_api(client, connected, callbacks):
    dead_end = fail_next(connected, callbacks, 410)
    DisabledEndpoint.unscoped.all().delete()  # the receiver is back

    listed = send(
        client, "GET", "/t/acme/api/v1/deliveries?state=dead", key=key_of(connected.tenant)
    )
    response = send(
        client,
        "POST",
        f"/t/acme/api/v1/deliveries/{dead_end.pk}/redeliver",
        key=key_of(connected.tenant),
    )

    assert [row["id"] for row in listed.json()["results"]] == [dead_end.pk]
    assert response.status_code == 202
    dead_end.refresh_from_db()
    assert dead_end.state == D.DELIVERED
    detail = send(
        client, "GET", f"/t/acme/api/v1/deliveries/{dead_end.pk}", key=key_of(connected.tenant)
    )
    assert [a["statusCode"] for a in detail.json()["attemptLog"]] == [410, 200]


def test_all_dead_since_a_time_are_redelivered_from_the_api(client, connected, callbacks):
    since = timezone.now() - timedelta(minutes=1)
    fail_next(connected, callbacks, 410)
    DisabledEndpoint.unscoped.all().delete()
    body = f'{{"since": "{since.isoformat()}"}}'.encode()

    response = send(
        client,
        "POST",
        "/t/acme/api/v1/deliveries/redeliver",
        key=key_of(connected.tenant),
        body=body,
    )

    assert response.json() == {"count": 1}
    assert not Delivery.unscoped.filter(state=D.DEAD).exists()


def test_the_deliveries_api_refuses_bad_filters_and_hides_other_tenants(
    client, connected, callbacks, other_tenant
):
    ours = Delivery.unscoped.first()
    key = key_of(connected.tenant)

    assert send(client, "GET", "/t/acme/api/v1/deliveries?state=lost", key=key).status_code == 400
    assert (
        send(client, "GET", "/t/acme/api/v1/deliveries?since=yesterday", key=key).status_code == 400
    )
    theirs = key_of(other_tenant)
    assert (
        send(
            client,
            "GET",
            f"/t/globex/api/v1/deliveries/{ours.pk}",
            key=theirs,
            host="testserver/t/globex",
        ).status_code
        == 404
    )
    assert (
        send(
            client,
            "POST",
            f"/t/globex/api/v1/deliveries/{ours.pk}/redeliver",
            key=theirs,
            host="testserver/t/globex",
        ).status_code
        == 404
    )


def test_an_operator_redelivers_from_the_portal(client, connected, callbacks, member_client):
    dead_end = fail_next(connected, callbacks, 410)
    member_client(Membership.Role.OPERATOR)
    page = reverse("portal:deliveries", kwargs={"tenant_slug": "acme"})
    assert dead_end.webhook_id in client.get(page).content.decode()

    client.post(page, {"enable": DisabledEndpoint.unscoped.get().pk})
    client.post(page, {"redeliver": dead_end.pk})

    dead_end.refresh_from_db()
    assert dead_end.state == D.DELIVERED


def test_a_viewer_cannot_redeliver(client, connected, callbacks, member_client):
    dead_end = fail_next(connected, callbacks, 410)
    member_client(Membership.Role.VIEWER)
    page = reverse("portal:deliveries", kwargs={"tenant_slug": "acme"})

    assert client.post(page, {"redeliver": dead_end.pk}).status_code == 403
    assert client.post(page, {"since": "2026-01-01 00:00"}).status_code == 403


def test_signatures_verify_with_both_secrets_while_a_rotation_overlaps(connected, callbacks):
    [old] = signing.webhook_secrets(connected.tenant)
    new = signing.rotate_webhook_secret(connected.tenant, actor=None)

    request = (fail_next(connected, callbacks), callbacks.requests[-1])[1]
    headers = {k.lower(): v for k, v in request["headers"].items()}

    assert len(headers["webhook-signature"].split()) == 2
    Webhook(old).verify(request["raw"], headers)
    Webhook(new).verify(request["raw"], headers)


def test_jwt_key_rotation_keeps_old_tokens_valid_during_the_overlap(
    connected, callbacks, live_server
):
    old_token = signing.bearer_token(connected.tenant)
    signing.rotate_jwt_key()
    new_token = signing.bearer_token(connected.tenant)
    keys = jwt.PyJWKClient(f"{live_server.url}/calling/keys")

    for token in (old_token, new_token):
        claims = jwt.decode(
            token,
            keys.get_signing_key_from_jwt(token).key,
            algorithms=["RS256"],
            audience=signing.audience(connected.tenant),
            issuer=signing.issuer(),
        )
        assert claims["aud"] == signing.audience(connected.tenant)
    assert (
        jwt.get_unverified_header(old_token)["kid"] != jwt.get_unverified_header(new_token)["kid"]
    )


def test_the_sweeper_leaves_fresh_work_to_its_own_task(connected, callbacks, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # the event's own task stays queued
    participant_verbs.mute_participant(
        connected.tenant, connected.call_connection_id, target=Identifier.phone("+14255550123")
    )

    assert delivery.sweep()["keys"] == 0  # its task is still in the queue
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert delivery.sweep()["keys"] == 1  # now it looks lost
