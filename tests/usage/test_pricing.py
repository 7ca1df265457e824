"""Rounding and pricing, the rules every record is billed by."""

from decimal import Decimal

import pytest
from django_q.models import Schedule

from tenants.models import RatePlan
from usage.models import Category
from usage.services import billable_seconds, cost_of


@pytest.mark.parametrize(
    ("seconds", "increment", "billable"),
    [(0, 60, 0), (0.2, 60, 60), (60, 60, 60), (60.001, 60, 120), (61, 1, 61), (61, 6, 66)],
)
def test_seconds_are_rounded_up_to_whole_increments(seconds, increment, billable):
    assert billable_seconds(seconds, increment) == billable


def test_cost_is_the_per_minute_rate_times_billable_minutes():
    plan = RatePlan(
        pstn_outbound_per_minute=Decimal("0.013"),
        pstn_inbound_per_minute=Decimal("0.0085"),
        voip_per_minute=Decimal("0.004"),
        recording_per_minute=Decimal("0.002"),
    )

    assert cost_of(plan, Category.PSTN_OUTBOUND, 90) == Decimal("0.019500")
    assert cost_of(plan, Category.RECORDING, 60) == Decimal("0.002000")


def test_text_to_speech_costs_nothing_on_a_plan_without_a_tts_price():
    plan = RatePlan(voip_per_minute=Decimal("0.004"))

    assert cost_of(plan, Category.TTS, 0, 1000) == Decimal(0)


def test_text_to_speech_is_billed_by_the_characters_spoken():
    plan = RatePlan(tts_per_million_characters=Decimal("16"))

    assert cost_of(plan, Category.TTS, 0, 250_000) == Decimal("4")


@pytest.mark.django_db
def test_migrate_schedules_the_metering_task_every_minute():
    schedule = Schedule.objects.get(name="usage.meter_usage")

    assert schedule.func == "usage.tasks.meter_usage"
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 1)
