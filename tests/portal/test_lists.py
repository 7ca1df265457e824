"""Every portal list (issue 17 item 8): filters in the query string, keyset pages whose
statement count does not grow with the rows, bad filter values answered with a message,
another tenant's rows never found, and the live poll (`?live=1`, item 9)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calls.models import Call
from recordings.models import Recording
from tests.paging import pager_links
from tests.portal import seeds
from tests.portal.seeds import T0

pytestmark = pytest.mark.django_db

# name: (url name, seeding function, context name of the page)
LISTS = {
    "calls": ("portal:calls", seeds.calls, "page"),
    "appointments": ("portal:reminder_appointments", seeds.appointments, "page"),
    "recordings": ("portal:recordings", seeds.recordings, "page"),
    "deliveries": ("portal:deliveries", seeds.deliveries, "deliveries"),
    "audit": ("portal:audit_log", seeds.audit_entries, "page"),
}


def url(name: str, slug: str = "acme") -> str:
    return reverse(name, kwargs={"tenant_slug": slug})


def statements(client, path: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries), response


@pytest.mark.parametrize("name", LISTS)
def test_a_page_costs_the_same_statements_however_many_rows(client, tenant, user, name):
    route, seed, _ = LISTS[name]
    client.force_login(user)
    path = url(route)
    seed(tenant, 3)
    few, _ = statements(client, path)
    few_live, _ = statements(client, path + "?live=1")

    seed(tenant, 120)
    many, first = statements(client, path)
    deeper, _ = statements(client, path + pager_links(first)["next"])
    many_live, _ = statements(client, path + "?live=1")

    assert many == few
    assert deeper == few
    assert many_live == few_live
    if name != "audit":  # the audit log is not a live list
        assert few_live < few


# Per list, values its filter form must refuse with a message (or a damaged cursor).
BAD = {
    "calls": [{"state": "exploded"}, {"end_code": "4O8"}, {"number": "+1" * 40}],
    "appointments": [{"status": "x"}, {"plan": "abc"}, {"contact": "a" * 300}],
    "recordings": [{"call": "9" * 80}, {"number": "+1" * 40}],
    "deliveries": [{"state": "exploded"}, {"url": "h" * 3000}, {"call": "-1"}],
    "audit": [{"action": "nothing.such"}, {"actor": "a" * 300}],
}
EVERY_LIST = [{"older": "garbage"}, {"newer": "20261399T000000.000000_1"}]
DAYS = [
    {"since": "yesterday", "until": "2026-02-30"},
    {"since": "2026-03-05", "until": "2026-03-01"},
]
CASES = [
    (name, query)
    for name, queries in BAD.items()
    for query in queries + EVERY_LIST + (DAYS if name != "deliveries" else [])
]


@pytest.mark.parametrize(("name", "query"), CASES)
def test_bad_filter_values_give_a_message_never_a_500(client, tenant, user, name, query):
    route, seed, _ = LISTS[name]
    seed(tenant, 2)
    client.force_login(user)

    response = client.get(url(route), query)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="errorlist' in page or "page link is damaged" in page


def listed(client, name: str, **query: str) -> set[int]:
    route, _, context_name = LISTS[name]
    response = client.get(url(route), query)
    assert response.status_code == 200
    return {row.pk for row in response.context[context_name]}


def test_calls_filter_by_end_code_number_state_and_days(client, tenant, user):
    busy = seeds.dialled(tenant, "+14255550123", state="disconnected", end_code=486)
    timeout = seeds.call(tenant, state="disconnected", end_code=408, to_number="+14255550199")
    live = seeds.call(tenant, state="connected")
    Call.unscoped.filter(pk=live.pk).update(created_at=T0)
    client.force_login(user)

    assert listed(client, "calls", end_code="486") == {busy.pk}
    assert listed(client, "calls", end_code="408", state="disconnected") == {timeout.pk}
    assert listed(client, "calls", number="(425) 555-0123") == {busy.pk}
    assert listed(client, "calls", since="2026-03-03", until="2026-03-03") == {live.pk}


def test_appointments_filter_by_contact_status_plan_and_days(client, tenant, user):
    clinic, dentist = seeds.plan(tenant), seeds.plan(tenant, "Dentist")
    ann = seeds.appointment(tenant, clinic, "A-1", name="Ann Lee")
    bob = seeds.appointment(
        tenant, dentist, "B-1", name="Bob Roe", phone="+14255550177", status="confirmed",
        starts_at=T0 + dt.timedelta(days=2),
    )  # fmt: skip
    client.force_login(user)

    assert listed(client, "appointments", contact="ann") == {ann.pk}
    assert listed(client, "appointments", contact="555 0177") == {bob.pk}
    assert listed(client, "appointments", contact="B-1") == {bob.pk}
    assert listed(client, "appointments", status="confirmed") == {bob.pk}
    assert listed(client, "appointments", plan=str(clinic.pk)) == {ann.pk}
    assert listed(client, "appointments", since="2026-03-04") == {bob.pk}


def test_recordings_filter_by_call_number_and_days(client, tenant, user):
    first = seeds.recording(tenant, seeds.dialled(tenant, "+14255550123"))
    second_call = seeds.call(tenant, source_caller_id="+14255550177")
    second = seeds.recording(tenant, second_call)
    Recording.unscoped.filter(pk=first.pk).update(started_at=T0)
    client.force_login(user)

    assert listed(client, "recordings", call=second_call.server_call_id) == {second.pk}
    assert listed(client, "recordings", call=str(second_call.pk)) == {second.pk}
    assert listed(client, "recordings", number="5550123") == {first.pk}
    assert listed(client, "recordings", number="+14255550177") == {second.pk}
    assert listed(client, "recordings", until="2026-03-03") == {first.pk}


def test_deliveries_filter_by_event_type_and_masked_endpoint_group(client, tenant, user):
    call = seeds.call(tenant)
    token_url = "https://app.example.com/cb/Zk3v9sQ1x8?sig=s3cr3t"
    connected = seeds.make_call_delivery(tenant, call, url=token_url, state="dead")
    other = seeds.make_call_delivery(
        tenant, call, url="https://other.example.com/hook", state="dead",
        event_type="PlayCompleted", sequence=2,
    )  # fmt: skip
    client.force_login(user)

    response = client.get(url("portal:deliveries"))
    page = response.content.decode()

    assert "Zk3v9sQ1x8" not in page
    assert "s3cr3t" not in page
    assert "https://app.example.com/cb/…" in page
    assert listed(client, "deliveries", url="https://app.example.com/cb/…") == {connected.pk}
    assert listed(client, "deliveries", event_type="PlayCompleted") == {other.pk}
    assert listed(client, "deliveries", event_type="Microsoft.Communication.PlayCompleted") == {
        other.pk
    }


def test_another_tenants_rows_are_never_found_by_any_filter(client, tenant, user, other_tenant):
    theirs = seeds.dialled(other_tenant, "+14255550123", end_code=486)
    seeds.recording(other_tenant, theirs)
    seeds.make_call_delivery(other_tenant, theirs, state="dead")
    seeds.appointment(other_tenant, seeds.plan(other_tenant), "A-1")
    their_plan = seeds.plan(other_tenant, "Theirs")
    client.force_login(user)

    assert listed(client, "calls", number="+14255550123") == set()
    assert listed(client, "calls", end_code="486") == set()
    assert listed(client, "recordings", call=theirs.server_call_id) == set()
    assert listed(client, "recordings", call=str(theirs.pk)) == set()
    assert listed(client, "recordings", number="+14255550123") == set()
    assert listed(client, "deliveries", call=str(theirs.pk)) == set()
    assert listed(client, "deliveries", url="https://app.example.com/cb") == set()
    assert listed(client, "appointments", contact="A-1") == set()
    response = client.get(url("portal:reminder_appointments"), {"plan": their_plan.pk})
    assert "plan" in response.context["form"].errors


def test_the_live_poll_answers_the_newest_rows_with_the_same_filters(client, tenant, user):
    seeds.call(tenant, state="connected", source_caller_id="+14255550111")
    seeds.call(tenant, state="disconnected", source_caller_id="+14255550122")
    client.force_login(user)

    rows = client.get(url("portal:calls"), {"state": "connected", "live": "1"}).content.decode()

    assert rows.lstrip().startswith('<tbody id="calls-rows"')
    assert "+14255550111" in rows
    assert "+14255550122" not in rows
    assert "live=1" in rows  # it goes on polling with the same query


def test_only_the_newest_page_polls(client, tenant, user):
    seeds.calls(tenant, 60)
    client.force_login(user)

    first = client.get(url("portal:calls"))
    older = client.get(url("portal:calls") + pager_links(first)["next"])

    assert "data-live-url" in first.content.decode()
    assert "data-live-url" not in older.content.decode()


def test_an_ended_calls_recording_rows_poll_until_the_file_is_ready(client, tenant, user):
    ended = seeds.call(tenant, state="disconnected")
    recording = seeds.recording(tenant, ended)
    client.force_login(user)
    detail = reverse("portal:call_detail", kwargs={"tenant_slug": "acme", "call_id": ended.pk})

    page = client.get(detail).content.decode()
    assert f"call={ended.server_call_id}&amp;bare=1&amp;live=1" in page
    polled = client.get(
        url("portal:recordings"), {"call": ended.server_call_id, "bare": "1", "live": "1"}
    )
    assert "data-live-url" in polled.content.decode()
    assert "Legal hold" not in polled.content.decode()  # the panel's rows have no buttons

    Recording.unscoped.filter(pk=recording.pk).update(state=Recording.State.FAILED)
    assert "data-live-url" not in client.get(detail).content.decode()
