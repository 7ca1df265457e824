"""The notifications portal: create, preview (prompt playable, count, first rows), the
two-step launch, pause / resume / cancel, the live progress partial, CSV export,
audiences with CSV upload; viewers read only; another tenant's ids are 404."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from notifications import services
from notifications.models import Audience, Notification, Recipient
from tenants.models import AuditEntry, Membership, PhoneNumber
from tests.notifications.conftest import household

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def owner(client, user, acme):
    client.force_login(user)
    return client


def base(acme) -> str:
    return f"/portal/t/{acme.slug}/notifications"


def test_the_menu_leads_to_the_notifications_page(owner, acme):
    page = owner.get(f"/portal/t/{acme.slug}/").content.decode()

    assert f'href="{base(acme)}/"' in page
    assert owner.get(f"{base(acme)}/").status_code == 200


def test_a_notification_is_created_in_the_portal_and_previewed(owner, acme, audience):
    household(acme, 1)
    numbers = list(PhoneNumber.objects.for_tenant(acme).values_list("pk", flat=True))

    response = owner.post(
        f"{base(acme)}/new/",
        {
            "name": "Outage",
            "audience": audience.pk,
            "message": "Hello {name}, power is off in {area}.",
            "language": "en-US",
            "voice": "female",
            "ack_key": "1",
            "replay_key": "2",
            "opt_out_key": "9",
            "max_replays": 2,
            "caller_ids": numbers,
            "per_number_concurrency": 50,
            "priority": "on",
            "expires_after_minutes": 120,
            "max_rounds": 3,
            "retry_delay_minutes": 5,
        },
    )

    notification = Notification.objects.for_tenant(acme).get()
    assert response.status_code == 302
    assert notification.caller_ids.count() == 2
    page = owner.get(response["Location"]).content.decode()
    assert "Hello Household 1, power is off in zone-4." in page
    assert '<strong id="audience-size">1</strong>' in page
    audio = owner.get(f"{base(acme)}/{notification.pk}/prompt.wav")
    assert audio.status_code == 200
    assert audio["Content-Type"] == "audio/wav"
    assert audio.content[:4] == b"RIFF"


def test_the_launch_is_confirmed_in_a_second_step_with_size_and_eta(owner, acme, notify):
    for n in (1, 2, 3):
        household(acme, n)
    notification = notify(life_safety=True)
    url = f"{base(acme)}/{notification.pk}/launch/"

    confirm = owner.get(url).content.decode()
    assert '<strong id="confirm-size">3</strong>' in confirm
    assert "Life-safety" in confirm
    notification.refresh_from_db()
    assert notification.status == "draft"  # looking launches nothing

    owner.post(url, {"confirm": "1"})

    notification.refresh_from_db()
    assert notification.status == "running"
    assert Recipient.objects.for_tenant(acme).count() == 3
    assert AuditEntry.objects.for_tenant(acme).filter(action="notification.launch").exists()


def test_pause_resume_and_cancel_buttons(owner, acme, notify):
    household(acme, 1)
    notification = notify()
    services.launch(acme, notification.pk, actor=None)
    url = f"{base(acme)}/{notification.pk}/"

    owner.post(url, {"pause": "1"})
    assert Notification.objects.for_tenant(acme).get().status == "paused"
    owner.post(url, {"resume": "1"})
    assert Notification.objects.for_tenant(acme).get().status == "running"
    owner.post(url, {"cancel": "1", "hang_up": "on"})
    assert Notification.objects.for_tenant(acme).get().status == "cancelled"


def test_the_progress_page_and_its_partial_show_the_counts(owner, acme, notify):
    household(acme, 1)
    household(acme, 2, area="zone-5")
    notification = notify(audience=services.save_audience(acme, actor=None, name="All",
                                                          everyone=True))  # fmt: skip
    services.launch(acme, notification.pk, actor=None)

    page = owner.get(f"{base(acme)}/{notification.pk}/").content.decode()
    partial = owner.get(f"{base(acme)}/{notification.pk}/live/").content.decode()

    assert 'id="reach-chart"' in page
    assert "progress.js" in page
    assert 'data-refresh-url="' in partial
    assert '<td id="count-remaining">2</td>' in partial
    assert "<td>zone-5</td><td>1</td>" in partial


def test_the_outcomes_export_as_csv(owner, acme, notify):
    household(acme, 1)
    notification = notify()
    services.launch(acme, notification.pk, actor=None)

    response = owner.get(f"{base(acme)}/{notification.pk}/results.csv")

    lines = b"".join(response.streaming_content).decode().splitlines()
    assert response["Content-Type"].startswith("text/csv")
    assert lines[0].startswith("name,phone,area,state,disposition")
    assert lines[1].startswith("Household 1,+14255560001,zone-4,waiting")


def test_an_audience_is_created_and_filled_by_csv_upload(owner, acme):
    created = owner.post(
        f"{base(acme)}/audiences/", {"name": "Schools", "tags": "school", "areas": ""}
    )
    audience = Audience.objects.for_tenant(acme).get()
    assert created.status_code == 302

    csv = b"name,phone,area\nAnn,+14255560001,zone-9\n"
    owner.post(
        f"{base(acme)}/audiences/{audience.pk}/",
        {"upload": "1", "file": SimpleUploadedFile("a.csv", csv, content_type="text/csv")},
    )

    page = owner.get(f"{base(acme)}/audiences/{audience.pk}/").content.decode()
    assert '<strong id="audience-count">1</strong>' in page


def test_a_bad_csv_upload_shows_the_row(owner, acme, audience):
    csv = b"name,phone\nAnn,oops\n"

    page = owner.post(
        f"{base(acme)}/audiences/{audience.pk}/",
        {"upload": "1", "file": SimpleUploadedFile("a.csv", csv, content_type="text/csv")},
    ).content.decode()

    assert "row 2" in page


def test_a_viewer_reads_but_cannot_launch(client, acme, notify, member_client):
    household(acme, 1)
    notification = notify()
    member_client(Membership.Role.VIEWER)

    page = client.get(f"{base(acme)}/{notification.pk}/").content.decode()
    refused = client.post(f"{base(acme)}/{notification.pk}/launch/", {"confirm": "1"})

    assert "Launch…" not in page
    assert refused.status_code == 403


def test_another_tenants_notification_is_404(owner, acme, other_tenant):
    from tenants import services as tenant_services

    number = tenant_services.add_phone_number(other_tenant, "+14255550188", actor=None)
    theirs = services.save_audience(other_tenant, actor=None, name="T", everyone=True)
    notification = services.save_notification(
        other_tenant, actor=None, name="T", audience=theirs, message="Hi", caller_ids=[number]
    )

    for suffix in ("", "launch/", "live/", "prompt.wav", "results.csv", "edit/"):
        assert owner.get(f"{base(acme)}/{notification.pk}/{suffix}").status_code == 404
    assert owner.get(f"{base(acme)}/audiences/{theirs.pk}/").status_code == 404


# --- an uploaded WAV as the message ---


def _form(audience, numbers, **extra) -> dict:
    return {
        "name": "Outage", "audience": audience.pk if audience else "", "message": "",
        "language": "en-US",
        "voice": "female", "ack_key": "1", "replay_key": "2", "opt_out_key": "9",
        "max_replays": 2, "caller_ids": numbers, "per_number_concurrency": 50,
        "priority": "on", "expires_after_minutes": 120, "max_rounds": 3,
        "retry_delay_minutes": 5, **extra,
    }  # fmt: skip


def test_a_notification_is_created_with_an_uploaded_wav_and_previewed(
    owner, acme, audience, media_root
):
    from tests.notifications.test_audio import wav

    household(acme, 1)
    numbers = list(PhoneNumber.objects.for_tenant(acme).values_list("pk", flat=True))
    upload = SimpleUploadedFile("outage.wav", wav(2.0), content_type="audio/wav")

    response = owner.post(f"{base(acme)}/new/", _form(audience, numbers, audio_upload=upload))

    assert response.status_code == 302, response.content.decode()[-2000:]
    notification = Notification.objects.for_tenant(acme).get()
    assert (notification.message, notification.audio_name) == ("", "outage.wav")
    page = owner.get(response["Location"]).content.decode()
    assert "The uploaded WAV “outage.wav” (2 s)" in page
    prompt = owner.get(f"{base(acme)}/{notification.pk}/prompt.wav")
    assert prompt.status_code == 200
    # The 2 s upload (8 kHz, 16-bit) and then the spoken keys.
    assert len(prompt.content) > 2 * 16000 + 44
    assert AuditEntry.objects.for_tenant(acme).filter(action="notification.audio").count() == 1


def test_a_bad_upload_is_a_form_error_and_nothing_is_saved(owner, acme, audience, media_root):
    numbers = list(PhoneNumber.objects.for_tenant(acme).values_list("pk", flat=True))
    upload = SimpleUploadedFile("notes.wav", b"not audio at all", content_type="audio/wav")

    response = owner.post(f"{base(acme)}/new/", _form(audience, numbers, audio_upload=upload))

    assert response.status_code == 200
    assert "not a WAV" in response.content.decode()
    assert not Notification.objects.for_tenant(acme).exists()


# --- the quick path of an emergency: dashboard, zones, defaults ---


def test_the_dashboard_offers_new_notification_and_lists_the_live_ones(
    owner, acme, notify, client, member_client
):
    household(acme, 1)
    notification = notify(life_safety=True)
    services.launch(acme, notification.pk, actor=None)

    page = owner.get(f"/portal/t/{acme.slug}/").content.decode()

    assert f'id="new-notification" href="{base(acme)}/new/"' in page
    assert f'href="{base(acme)}/{notification.pk}/">Planned outage</a> (running)' in page
    member_client(Membership.Role.VIEWER)
    seen = client.get(f"/portal/t/{acme.slug}/").content.decode()
    assert "new-notification" not in seen  # a viewer cannot create one
    assert "Planned outage" in seen


def test_a_new_notification_calls_zones_typed_on_the_form_from_every_number(owner, acme):
    household(acme, 1, area="zone-4")
    household(acme, 2, area="zone-9")
    form = owner.get(f"{base(acme)}/new/").content.decode()
    assert form.count("checked") >= 2  # every number of the tenant, by default
    assert "Known: zone-4, zone-9" in form
    numbers = list(PhoneNumber.objects.for_tenant(acme).values_list("pk", flat=True))
    fields = _form(None, numbers, message="Power is off in {area}.", zones="zone-4")
    del fields["audience"]

    response = owner.post(f"{base(acme)}/new/", fields)

    assert response.status_code == 302
    notification = Notification.objects.for_tenant(acme).get()
    assert (notification.audience.name, notification.audience.areas) == ("Zones zone-4", ["zone-4"])
    again = owner.post(f"{base(acme)}/new/", {**fields, "name": "Second"})
    assert again.status_code == 302
    assert Audience.objects.for_tenant(acme).count() == 1  # the same zones: the same audience


def test_neither_an_audience_nor_zones_is_a_form_error(owner, acme):
    numbers = list(PhoneNumber.objects.for_tenant(acme).values_list("pk", flat=True))
    fields = _form(None, numbers, message="Hi")
    del fields["audience"]

    response = owner.post(f"{base(acme)}/new/", fields)

    assert response.status_code == 200
    assert "Pick an audience, or give the zones to call." in response.content.decode()
