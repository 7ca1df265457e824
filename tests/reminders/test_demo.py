import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from reminders.models import Appointment, ReminderPlan
from tenants.models import Tenant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_seed_demo_twice_leaves_one_plan_and_three_appointments_due_within_minutes(
    settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())

    demo = Tenant.objects.get(slug="demo")
    assert ReminderPlan.objects.for_tenant(demo).count() == 1
    due = list(Appointment.objects.for_tenant(demo).values_list("next_attempt_at", flat=True))
    assert len(due) == 3
    assert all(timezone.now() < when <= timezone.now() + timedelta(minutes=3) for when in due)


def test_the_demo_office_answers_on_the_softphone(settings, tmp_path):
    from calls import softphone

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())

    demo = Tenant.objects.get(slug="demo")
    office = ReminderPlan.objects.for_tenant(demo).get().office_number
    assert [i.raw_id for i in softphone.identities(demo)] == [f"4:{office}"]
