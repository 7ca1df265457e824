"""The demo: seed_demo leaves a "Planned outage" draft for 20 simulated households, and
launched it plays out with mixed outcomes (acknowledge, replay then acknowledge,
voicemail, busy and no answer retried once)."""

import io
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command

from notifications import dispatcher, services
from notifications.models import Notification, Recipient
from tenants.models import Tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clock")]


def test_seed_demo_twice_leaves_one_draft_for_20_households(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_demo", stdout=out)

    demo = Tenant.objects.get(slug="demo")
    notification = Notification.objects.for_tenant(demo).get()
    assert (notification.name, notification.status) == ("Planned outage", "draft")
    assert services.preview(notification)["audienceSize"] == 20
    assert "Planned outage" in out.getvalue()


@pytest.mark.usefixtures("wired")
def test_the_demo_plays_out_with_mixed_outcomes(settings, tmp_path, gateway, clock):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    demo = Tenant.objects.get(slug="demo")
    Tenant.objects.filter(pk=demo.pk).update(calls_per_second=20, max_concurrent_calls=20)
    notification = Notification.objects.for_tenant(demo).get()

    services.launch(demo, notification.pk, actor=None)
    assert dispatcher.tick(demo) == 20
    gateway.advance(120)
    clock.shift(timedelta(minutes=1, seconds=1))
    assert dispatcher.tick(demo) == 8  # busy and no answer: round 2
    gateway.advance(120)

    outcomes = Counter(Recipient.objects.for_tenant(demo).values_list("disposition", flat=True))
    assert outcomes == {"acknowledged": 8, "voicemail": 4, "busy": 4, "no-answer": 4}
    notification.refresh_from_db()
    assert notification.status == "completed"
