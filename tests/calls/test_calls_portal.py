"""Portal calls pages: the filtered list, the call detail with its timeline, redelivery."""

import datetime as dt

import pytest
from django.urls import reverse

from calls import call_verbs, participant_verbs
from calls.identifiers import Identifier
from calls.models import Call, CallConnection, CallEvent
from tenants import services as tenant_services
from tenants.models import AuditEntry, Membership
from tests.factories import make_call_delivery
from tests.paging import pager_links
from webhooks.delivery import enable_endpoint
from webhooks.models import Delivery, DisabledEndpoint

pytestmark = pytest.mark.django_db(transaction=True)

Role = Membership.Role


def url(name: str, slug: str = "acme", **kwargs: object) -> str:
    return reverse(f"portal:{name}", kwargs={"tenant_slug": slug, **kwargs})


def make_call(tenant, **fields) -> Call:
    fields.setdefault("direction", Call.Direction.OUTBOUND)
    return Call.unscoped.create(tenant=tenant, **fields)


@pytest.fixture
def connected(tenant, callbacks, gateway) -> CallConnection:
    """A connected outbound call placed through the engine, callbacks to the receiver."""
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    connection = call_verbs.create_call(
        tenant,
        targets=[Identifier.phone("+14255550123")],
        callback_uri=callbacks.url,
        source_caller_id="+14255550100",
    )
    gateway.advance(2)
    return CallConnection.unscoped.get(pk=connection.pk)


def listed(client, **query: str) -> set[int]:
    response = client.get(url("calls"), query)
    assert response.status_code == 200
    return {call.pk for call in response.context["page"]}


def test_the_calls_list_filters_by_state_and_direction(client, tenant, user):
    live = make_call(tenant, state=Call.State.CONNECTED)
    make_call(tenant, state=Call.State.DISCONNECTED)
    incoming = make_call(tenant, direction=Call.Direction.INBOUND, state=Call.State.CONNECTED)
    client.force_login(user)

    assert listed(client, state="connected") == {live.pk, incoming.pk}
    assert listed(client, state="connected", direction="inbound") == {incoming.pk}


def test_the_number_filter_matches_caller_id_called_number_and_participants(
    client, connected, tenant, user
):
    incoming = make_call(tenant, direction=Call.Direction.INBOUND, to_number="+14255550199")
    make_call(tenant, source_caller_id="+33100000000")
    client.force_login(user)

    assert listed(client, number="+1 (425) 555-0123") == {connected.call_id}
    assert listed(client, number="5550100") == {connected.call_id}
    assert listed(client, number="+14255550199") == {incoming.pk}


def test_the_date_range_is_read_in_the_tenants_time_zone(client, tenant, user):
    tenant.time_zone = "America/Los_Angeles"
    tenant.save()
    late_evening = make_call(tenant)  # 2026-03-10 23:30 in Los Angeles is 03-11 06:30 UTC
    Call.unscoped.filter(pk=late_evening.pk).update(
        created_at=dt.datetime(2026, 3, 11, 6, 30, tzinfo=dt.UTC)
    )
    client.force_login(user)

    assert listed(client, since="2026-03-10", until="2026-03-10") == {late_evening.pk}
    assert listed(client, since="2026-03-11") == set()


def test_bad_filters_show_errors_instead_of_failing(client, tenant, user):
    make_call(tenant)
    client.force_login(user)

    response = client.get(url("calls"), {"state": "nonsense", "since": "yesterday", "page": "x"})

    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"state", "since"}
    assert len(response.context["page"]) == 1


def test_the_list_is_paginated_and_pages_keep_the_filters(client, tenant, user):
    for _ in range(51):
        make_call(tenant, state=Call.State.CONNECTED)
    client.force_login(user)

    first = client.get(url("calls"), {"state": "connected"})
    older = pager_links(first)["next"]
    second = client.get(url("calls") + older)

    assert len(first.context["page"]) == 50
    assert older.startswith("?state=connected&older=")
    assert len(second.context["page"]) == 1
    assert "prev" in pager_links(second)
    assert "next" not in pager_links(second)


def test_the_detail_shows_participants_every_event_with_its_payload_and_deliveries(
    client, connected, user
):
    client.force_login(user)

    page = client.get(url("call_detail", call_id=connected.call_id)).content.decode()

    for event in CallEvent.unscoped.filter(call_id=connected.call_id):
        assert f'id="event-{event.event_id}"' in page
    assert "CallConnected" in page
    assert "&quot;callConnectionId&quot;: &quot;" in page  # the payload, pretty-printed
    assert "4:+14255550123" in page
    assert "Redeliver" in page
    assert 'data-refresh-url="' in page  # a live call refreshes itself


def test_the_timeline_fragment_follows_the_call_and_stops_refreshing_when_it_ends(
    client, connected, user, gateway
):
    client.force_login(user)
    fragment = url("call_timeline", call_id=connected.call_id)
    assert "CallDisconnected" not in client.get(fragment).content.decode()

    call_verbs.hang_up(connected.tenant, connected.call_connection_id)
    gateway.advance(1)
    after = client.get(fragment).content.decode()

    assert "CallDisconnected" in after
    assert "Redeliver" in after  # the callbacks and their attempts are live too
    assert 'data-state="disconnected"' in after
    assert "data-refresh-url" not in after


def test_an_operator_redelivers_a_dead_callback_from_the_call_detail(
    client, connected, callbacks, member_client
):
    callbacks.script = [410]  # gone: the delivery dies at once and the endpoint is disabled
    call_verbs.hang_up(connected.tenant, connected.call_connection_id)
    dead = Delivery.unscoped.get(event_type="CallDisconnected")
    assert dead.state == Delivery.State.DEAD
    enable_endpoint(connected.tenant, DisabledEndpoint.unscoped.get().pk, actor=None)
    member_client(Role.OPERATOR)

    response = client.post(url("call_detail", call_id=connected.call_id), {"redeliver": dead.pk})

    assert response.status_code == 302
    dead.refresh_from_db()
    assert dead.state == Delivery.State.DELIVERED


def test_a_viewer_cannot_redeliver_from_the_call_detail(client, connected, member_client):
    delivery = Delivery.unscoped.filter(call_event__call_id=connected.call_id).first()
    member_client(Role.VIEWER)

    detail = url("call_detail", call_id=connected.call_id)
    response = client.post(detail, {"redeliver": delivery.pk})

    assert response.status_code == 403


def test_another_tenants_call_is_404_on_every_calls_page(client, tenant, other_tenant, user):
    theirs = make_call(other_tenant)
    mine = make_call(tenant)
    client.force_login(user)

    assert client.get(url("call_detail", call_id=theirs.pk)).status_code == 404
    assert client.get(url("call_timeline", call_id=theirs.pk)).status_code == 404
    assert client.post(url("call_detail", call_id=theirs.pk), {"redeliver": 1}).status_code == 404
    assert client.get(url("call_detail", "globex", call_id=theirs.pk)).status_code == 404
    assert client.get(url("calls", "globex")).status_code == 404
    assert theirs.pk not in listed(client)
    assert mine.pk in listed(client)


def test_redelivering_another_tenants_delivery_from_my_call_is_404(
    client, connected, other_tenant, user
):
    theirs = make_call(other_tenant)
    delivery = make_call_delivery(
        other_tenant, theirs, state="dead", url="http://127.0.0.1:1/", event_type="X"
    )
    client.force_login(user)

    detail = url("call_detail", call_id=connected.call_id)
    response = client.post(detail, {"redeliver": delivery.pk})

    assert response.status_code == 404
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DEAD


def test_the_list_shows_whom_an_outbound_call_dialled(client, connected, user):
    client.force_login(user)

    row = client.get(url("calls")).context["page"][0]

    assert (row.source_caller_id, row.target) == ("+14255550100", "4:+14255550123")
    assert "<td>+14255550123</td>" in client.get(url("calls")).content.decode()


def test_a_call_page_redelivers_only_its_own_callbacks(client, connected, tenant, user):
    other_call = make_call(tenant)
    client.force_login(user)
    delivery = Delivery.unscoped.filter(call_event__call_id=connected.call_id).first()

    response = client.post(url("call_detail", call_id=other_call.pk), {"redeliver": delivery.pk})

    assert response.status_code == 404
    assert not AuditEntry.objects.for_tenant(tenant).filter(action="delivery.redeliver").exists()


# --- Terminate (issue 12, defect 9): the same verb as the API's hang-up for everyone ------


def test_an_operator_terminates_a_live_call_from_its_page(
    client, connected, callbacks, member_client, gateway
):
    membership = member_client(Role.OPERATOR)
    detail = url("call_detail", call_id=connected.call_id)
    assert "Terminate call" in client.get(detail).content.decode()

    response = client.post(detail, {"terminate": "1"})
    gateway.advance(1)

    assert response.status_code == 302
    call = Call.unscoped.get(pk=connected.call_id)
    assert call.state == Call.State.DISCONNECTED
    assert call.end_message == call_verbs.TERMINATED_FROM_PORTAL
    assert not gateway.carrier.live_legs()  # the callee's leg was hung up
    disconnected = callbacks.of_type("CallDisconnected")[0]["data"]["resultInformation"]
    assert disconnected["message"] == call_verbs.TERMINATED_FROM_PORTAL
    [entry] = AuditEntry.objects.for_tenant(connected.tenant).filter(action="call.terminate")
    assert (entry.actor, entry.target_id) == (membership.user, str(call.pk))
    assert (entry.before, entry.after) == ({"state": "connected"}, {"state": "disconnected"})
    assert "Terminate call" not in client.get(detail).content.decode()


def test_a_call_the_app_has_left_can_still_be_terminated_from_the_portal(
    client, connected, member_client, gateway, tenant
):
    # The app hands the callee over to a second person and leaves (a press-3 transfer).
    participant_verbs.add_participant(
        tenant, connected.call_connection_id, target=Identifier.phone("+14255550124")
    )
    gateway.advance(2)
    call_verbs.hang_up(tenant, connected.call_connection_id)
    member_client(Role.ADMIN)

    client.post(url("call_detail", call_id=connected.call_id), {"terminate": "1"})
    gateway.advance(1)

    assert Call.unscoped.get(pk=connected.call_id).state == Call.State.DISCONNECTED
    assert not gateway.carrier.live_legs()


def test_a_viewer_sees_no_terminate_button_and_cannot_post_it(client, connected, member_client):
    member_client(Role.VIEWER)
    detail = url("call_detail", call_id=connected.call_id)

    assert "Terminate call" not in client.get(detail).content.decode()
    assert client.post(detail, {"terminate": "1"}).status_code == 403
    assert Call.unscoped.get(pk=connected.call_id).state == Call.State.CONNECTED
    assert not AuditEntry.unscoped.filter(action="call.terminate").exists()


def test_terminating_a_call_that_already_ended_only_says_so(client, connected, member_client):
    call_verbs.terminate(connected.tenant, connected.call_connection_id)
    member_client(Role.OPERATOR)

    response = client.post(
        url("call_detail", call_id=connected.call_id), {"terminate": "1"}, follow=True
    )

    assert "The call had already ended." in response.content.decode()
    assert not AuditEntry.unscoped.filter(action="call.terminate").exists()


def test_another_tenants_call_cannot_be_terminated(client, tenant, other_tenant, user):
    theirs = make_call(other_tenant, state=Call.State.CONNECTED)
    client.force_login(user)

    response = client.post(url("call_detail", call_id=theirs.pk), {"terminate": "1"})

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == Call.State.CONNECTED


def test_the_transcript_shows_on_the_call_page_and_the_list_searches_it(
    client, tenant, other_tenant, user
):
    from calls.models import TranscriptLine

    heard = make_call(tenant)
    other = make_call(tenant)
    TranscriptLine.unscoped.create(
        tenant=tenant,
        call=heard,
        raw_id="4:+14255550123",
        text="please call me back",
        confidence=0.8,
        offset=3.2,
        duration=1.5,
    )
    theirs = make_call(other_tenant)
    TranscriptLine.unscoped.create(
        tenant=other_tenant,
        call=theirs,
        raw_id="4:+1",
        text="call me back",
        offset=1,
        duration=1,
    )
    client.force_login(user)

    page = client.get(url("call_detail", call_id=heard.pk)).content.decode()

    assert "Transcript" in page
    assert "please call me back" in page
    assert "3.2 s" in page
    assert listed(client, transcript="CALL ME back") == {heard.pk}  # not theirs, not `other`
    assert listed(client, transcript="weather") == set()
    assert other.pk in listed(client)
