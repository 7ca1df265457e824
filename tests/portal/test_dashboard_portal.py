"""The dashboard's figures: live calls, today's calls and minutes, outcomes, callbacks."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from calls.models import Call
from tests.factories import make_call_delivery
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


def make_call(tenant, created_at: dt.datetime, **fields) -> Call:
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND, **fields)
    Call.unscoped.filter(pk=call.pk).update(created_at=created_at)
    return call


def make_delivery(tenant, call: Call, state: str, n: int) -> Delivery:
    return make_call_delivery(tenant, call, state=state, sequence=n)


@pytest.fixture
def dashboard(client, user):
    client.force_login(user)
    return lambda: client.get(reverse("portal:dashboard", kwargs={"tenant_slug": "acme"}))


@time_machine.travel(NOW, tick=False)
def test_the_dashboard_counts_live_calls_and_todays_calls_and_talk_minutes(tenant, dashboard):
    make_call(tenant, NOW - dt.timedelta(minutes=5), state=Call.State.CONNECTED,
              connected_at=NOW - dt.timedelta(minutes=4))  # fmt: skip
    make_call(tenant, NOW - dt.timedelta(hours=1), state=Call.State.DISCONNECTED,
              connected_at=NOW - dt.timedelta(hours=1), ended_at=NOW - dt.timedelta(minutes=50),
              end_code=0, end_message="Call ended.")  # fmt: skip
    make_call(tenant, NOW - dt.timedelta(days=1), state=Call.State.DISCONNECTED)

    figures = dashboard().context

    assert figures["active_calls"] == 1
    assert figures["calls_today"] == 2
    assert figures["minutes_today"] == 14.0  # 4 minutes still running + 10 ended


@time_machine.travel(NOW, tick=False)
def test_today_starts_at_the_tenants_midnight(tenant, dashboard):
    tenant.time_zone = "Asia/Tokyo"  # 15:00 UTC is 00:00 in Tokyo the next day
    tenant.save()
    make_call(tenant, NOW - dt.timedelta(minutes=1))

    assert dashboard().context["calls_today"] == 0


@time_machine.travel(NOW, tick=False)
def test_the_outcome_split_groups_todays_calls_by_state_and_end_code(tenant, dashboard):
    for _ in range(2):
        make_call(tenant, NOW, state=Call.State.DISCONNECTED, end_code=0, end_message="ended")
    make_call(tenant, NOW, state=Call.State.DISCONNECTED, end_code=408, end_message="no answer")
    make_call(tenant, NOW, state=Call.State.CONNECTING)

    outcomes = [(o["state"], o["end_code"], o["count"]) for o in dashboard().context["outcomes"]]

    assert outcomes == [("disconnected", 0, 2), ("connecting", None, 1), ("disconnected", 408, 1)]


def test_callback_health_counts_the_last_day_of_deliveries_by_state(tenant, dashboard):
    call = make_call(tenant, timezone.now())
    states = ["delivered", "delivered", "retrying", "dead", "pending"]
    for n, state in enumerate(states, start=1):
        make_delivery(tenant, call, state, n)
    old = make_delivery(tenant, call, "dead", 9)
    Delivery.unscoped.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))

    response = dashboard()

    assert response.context["callbacks"] == {"delivered": 2, "retrying": 1, "dead": 1}
    assert "reminders summary" not in response.content.decode()  # a template comment


def test_another_tenants_calls_are_not_counted(tenant, other_tenant, dashboard):
    make_call(other_tenant, timezone.now(), state=Call.State.CONNECTED)

    figures = dashboard().context

    assert (figures["active_calls"], figures["calls_today"]) == (0, 0)
