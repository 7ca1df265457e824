"""Metering real calls: legs driven through the gateway, then the task run by hand."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Count, Sum

from calls import call_verbs, incoming, incoming_verbs, media_verbs
from calls.identifiers import Identifier
from calls.models import Call, Participant
from carrier.media.play_sources import PlaySource
from tenants import services as tenant_services
from tenants.models import RatePlan
from usage import reports
from usage import services as usage_services
from usage.models import Category, DailyUsage, MeteringMark, UsageRecord
from usage.tasks import meter_usage

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+14255550100"
CALLEE = "+14255550123"
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def acme(tenant):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    return tenant


def talk(tenant, callbacks, gateway, traveller, seconds, *targets):
    """Place a call, let the callees answer (1 s), talk `seconds`, then hang up."""
    connection = call_verbs.create_call(
        tenant,
        targets=list(targets) or [Identifier.phone(CALLEE)],
        callback_uri=callbacks.url,
        source_caller_id=CALLER,
    )
    gateway.advance(2)  # the simulated callee answers after one second of ringing
    traveller.shift(seconds)
    call_verbs.terminate(tenant, connection.call_connection_id)
    gateway.advance(1)
    return connection.call


def test_an_outbound_pstn_leg_is_billed_in_whole_minutes_at_the_plan_rate(acme, callbacks, gateway):
    with time_machine.travel(START, tick=False) as traveller:
        call = talk(acme, callbacks, gateway, traveller, 61)

        meter_usage()

    record = UsageRecord.objects.for_tenant(acme).get()
    assert record.category == Category.PSTN_OUTBOUND
    assert record.call_id == call.pk
    assert record.seconds == 61
    assert record.billable_seconds == 120
    assert record.cost == Decimal("0.013") * 2  # Standard plan: 0.013 per minute


def test_a_per_second_plan_bills_the_exact_seconds(acme, callbacks, gateway):
    plan = RatePlan.objects.create(
        name="Per second",
        pstn_outbound_per_minute=Decimal("0.06"),
        pstn_inbound_per_minute=Decimal("0.06"),
        voip_per_minute=Decimal("0.06"),
        recording_per_minute=Decimal("0.06"),
        billing_increment_seconds=1,
    )
    acme.rate_plan = plan
    acme.save()
    with time_machine.travel(START, tick=False) as traveller:
        talk(acme, callbacks, gateway, traveller, 61)

        meter_usage()

    record = UsageRecord.objects.for_tenant(acme).get()
    assert record.billable_seconds == 61
    assert record.cost == Decimal("0.061")


def test_a_voip_leg_is_billed_as_voip(acme, callbacks, gateway):
    with time_machine.travel(START, tick=False) as traveller:
        talk(acme, callbacks, gateway, traveller, 30, Identifier.user("8:acs:u1"))

        meter_usage()

    record = UsageRecord.objects.for_tenant(acme).get()
    assert record.category == Category.VOIP
    assert record.cost == Decimal("0.004")


def test_an_answered_incoming_call_is_billed_as_pstn_inbound(acme, callbacks, gateway):
    with time_machine.travel(START, tick=False) as traveller:
        incoming_verbs.simulate_incoming_call(
            acme, to_number=CALLER, caller=Identifier.phone("+14255550999")
        )
        gateway.advance(0)
        ringing = Call.objects.for_tenant(acme).get()
        connection = incoming_verbs.answer_call(
            acme, incoming_call_context=incoming.make_context(ringing), callback_uri=callbacks.url
        )
        gateway.advance(1)
        traveller.shift(10)
        call_verbs.hang_up(acme, connection.call_connection_id)
        gateway.advance(1)

        meter_usage()

    record = UsageRecord.objects.for_tenant(acme).get()
    assert record.category == Category.PSTN_INBOUND
    assert record.seconds == 10
    assert record.billable_seconds == 60
    assert record.cost == Decimal("0.0085")


def test_a_leg_that_never_connected_is_not_billed(acme, callbacks, gateway):
    call_verbs.create_call(
        acme,
        targets=[Identifier.phone(CALLEE)],
        callback_uri=callbacks.url,
        source_caller_id=CALLER,
    )
    ringing = Participant.objects.for_tenant(acme).get()
    call_verbs.terminate(acme, ringing.requested_by.call_connection_id)

    meter_usage()

    assert not UsageRecord.objects.for_tenant(acme).exists()


def test_a_leg_still_in_the_call_is_not_billed_until_it_ends(acme, callbacks, gateway):
    call_verbs.create_call(
        acme,
        targets=[Identifier.phone(CALLEE)],
        callback_uri=callbacks.url,
        source_caller_id=CALLER,
    )
    gateway.advance(2)

    meter_usage()

    assert not UsageRecord.objects.for_tenant(acme).exists()


def test_running_the_task_twice_meters_each_leg_once(acme, callbacks, gateway):
    with time_machine.travel(START, tick=False) as traveller:
        talk(acme, callbacks, gateway, traveller, 30)
        talk(acme, callbacks, gateway, traveller, 90)

        first = meter_usage()
        second = meter_usage()

    assert first["legs"] == 2
    assert second["legs"] == 0
    assert UsageRecord.objects.for_tenant(acme).count() == 2
    [day] = DailyUsage.objects.for_tenant(acme)
    assert (day.count, day.billable_seconds) == (2, 60 + 120)


def test_the_daily_roll_up_matches_the_raw_records(acme, callbacks, gateway):
    with time_machine.travel(START, tick=False) as traveller:
        talk(acme, callbacks, gateway, traveller, 30)
        talk(acme, callbacks, gateway, traveller, 200, Identifier.user("8:acs:u1"))
        meter_usage()
        traveller.shift(timedelta(days=1))
        talk(acme, callbacks, gateway, traveller, 45)
        meter_usage()

    raw = (
        UsageRecord.objects.for_tenant(acme)
        .values("category")
        .annotate(n=Count("pk"), billable=Sum("billable_seconds"), cost=Sum("cost"))
    )
    rolled = (
        DailyUsage.objects.for_tenant(acme)
        .values("category")
        .annotate(n=Sum("count"), billable=Sum("billable_seconds"), cost=Sum("cost"))
    )
    assert sorted(map(dict.items, raw)) == sorted(map(dict.items, rolled))  # type: ignore
    assert DailyUsage.objects.for_tenant(acme).filter(category=Category.PSTN_OUTBOUND).count() == 2


def test_days_are_the_tenants_own(acme, callbacks, gateway):
    acme.time_zone = "America/Los_Angeles"
    acme.save()
    with time_machine.travel(datetime(2026, 11, 21, 3, 0, tzinfo=UTC), tick=False) as traveller:
        talk(acme, callbacks, gateway, traveller, 30)  # 19:00 on the 20th in Los Angeles

        meter_usage()

    assert DailyUsage.objects.for_tenant(acme).get().day.isoformat() == "2026-11-20"


def test_spoken_text_is_metered_in_characters(acme, callbacks, gateway):
    with time_machine.travel(START, tick=False) as traveller:
        connection = call_verbs.create_call(
            acme,
            targets=[Identifier.phone(CALLEE)],
            callback_uri=callbacks.url,
            source_caller_id=CALLER,
        )
        gateway.advance(2)
        media_verbs.play(
            acme,
            connection.call_connection_id,
            sources=[PlaySource(kind="text", text="Your appointment is on Tuesday.")],
            play_to=[],
        )
        gateway.advance(10)
        traveller.shift(10)

        meter_usage()

    tts = UsageRecord.objects.for_tenant(acme).get(category=Category.TTS)
    assert tts.quantity == len("Your appointment is on Tuesday.")
    assert DailyUsage.objects.for_tenant(acme).get(category=Category.TTS).quantity == tts.quantity


def test_a_recording_is_metered_once_per_source(acme):
    for _ in range(2):
        usage_services.meter_recording(acme, source_id="rec-1", started_at=START, seconds=95.5)

    record = UsageRecord.objects.for_tenant(acme).get()
    assert (record.category, record.billable_seconds) == (Category.RECORDING, 120)
    assert record.cost == Decimal("0.004")  # 2 minutes at 0.002
    assert DailyUsage.objects.for_tenant(acme).get().cost == Decimal("0.004")


def test_the_mark_skips_old_metered_legs_but_never_a_live_one(acme, callbacks, gateway):
    with time_machine.travel(START, tick=False) as traveller:
        talk(acme, callbacks, gateway, traveller, 30)
        live = call_verbs.create_call(
            acme,
            targets=[Identifier.phone("+14255550124")],
            callback_uri=callbacks.url,
            source_caller_id=CALLER,
        )
        gateway.advance(2)
        traveller.shift(timedelta(hours=2))
        meter_usage()
        live_leg = Participant.objects.for_tenant(acme).get(call=live.call)
        assert MeteringMark.objects.get(source="participants").position == live_leg.pk

        call_verbs.terminate(acme, live.call_connection_id)
        meter_usage()

    assert UsageRecord.objects.for_tenant(acme).count() == 2
    assert MeteringMark.objects.get(source="participants").position == live_leg.pk + 1


def test_a_recording_on_a_metered_day_joins_that_days_roll_up(acme, callbacks, gateway):
    with time_machine.travel(START, tick=False) as traveller:
        talk(acme, callbacks, gateway, traveller, 30)
        meter_usage()

        usage_services.meter_recording(acme, source_id="rec-2", started_at=START, seconds=30)
        meter_usage()

    days = DailyUsage.objects.for_tenant(acme).order_by("category")
    assert [(d.category, d.count, d.billable_seconds) for d in days] == [
        (Category.PSTN_OUTBOUND, 1, 60),
        (Category.RECORDING, 1, 60),
    ]


def test_a_calls_cost_adds_up_its_legs(acme, callbacks, gateway):
    with time_machine.travel(START, tick=False) as traveller:
        call = talk(
            acme,
            callbacks,
            gateway,
            traveller,
            30,
            Identifier.phone(CALLEE),
            Identifier.user("8:acs:u1"),
        )
        talk(acme, callbacks, gateway, traveller, 30)  # another call, not counted
        meter_usage()

    figures = reports.call_usage(acme, call.pk)

    assert figures.count == 2
    assert figures.cost == Decimal("0.013") + Decimal("0.004")


def test_a_calls_page_shows_what_the_call_cost(acme, callbacks, gateway, client, user):
    with time_machine.travel(START, tick=False) as traveller:
        call = talk(acme, callbacks, gateway, traveller, 61)
        meter_usage()
    client.force_login(user)

    page = client.get(f"/portal/t/{acme.slug}/calls/{call.pk}/").content.decode()

    assert "0.0260 USD" in page
    assert "120 billable s" in page
