"""CSV import of contacts and appointments: validated whole first, row-level errors,
all-or-nothing unless bad rows are skipped, idempotent by external_id."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reminders.models import Appointment, Contact, ImportJob
from tests.calls.api_support import assert_error
from tests.reminders.test_api import api, targets

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

GOOD = """external_id,name,phone,starts_at,time_zone,provider
A-1,Ann Lee,+14255550123,2026-03-10T14:30:00-04:00,America/New_York,Dr. Smith
A-2,Bo Berg,+49 30 901820,2026-03-10 09:15,,Dr. Jones
"""
BAD = (
    GOOD
    + """A-3,Cy,not a number,2026-03-10T10:00:00Z,,
A-4,Di,+14255550124,next week,Moon/Base,
"""
)


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """POST the CSV text to the API; the import task runs when the request commits."""

    def send(client, tenant, plan, content: str, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            body = {"plan": plan.pk, "csv": content, **extra}
            return api(client, tenant, "POST", "imports", body)

    return send


def test_a_clean_file_imports_contacts_and_appointments(client, acme, plan, upload):
    response = upload(client, acme, plan, GOOD)

    assert response.status_code == 202, response.content
    job = ImportJob.objects.for_tenant(acme).get()
    assert (job.state, job.created_count, job.errors) == ("done", 2, [])
    berg = Contact.objects.for_tenant(acme).get(phone="+4930901820")
    assert berg.time_zone == "Europe/Berlin"
    local = Appointment.objects.for_tenant(acme).get(external_id="A-2").starts_at
    assert local.isoformat() == "2026-03-10T08:15:00+00:00"  # 09:15 in Berlin


def test_a_file_with_bad_rows_imports_nothing_and_reports_each_error(client, acme, plan, upload):
    upload(client, acme, plan, BAD)

    job = ImportJob.objects.for_tenant(acme).get()
    assert job.state == "failed"
    assert [(e["row"], e["field"]) for e in job.errors] == [
        (4, "phone"),
        (5, "time_zone"),
        (5, "starts_at"),
    ]
    assert not Appointment.objects.for_tenant(acme).exists()
    assert not Contact.objects.for_tenant(acme).exists()


def test_bad_rows_can_be_skipped(client, acme, plan, upload):
    response = upload(client, acme, plan, BAD, skipBadRows=True)

    body = api(client, acme, "GET", f"imports/{response.json()['id']}").json()
    assert (body["state"], body["created"], body["totalRows"]) == ("done", 2, 4)
    assert {e["row"] for e in body["errors"]} == {4, 5}
    assert Appointment.objects.for_tenant(acme).count() == 2


def test_importing_the_same_file_twice_updates_instead_of_duplicating(client, acme, plan, upload):
    upload(client, acme, plan, GOOD)
    upload(client, acme, plan, GOOD.replace("Dr. Smith", "Dr. Who"))

    second = ImportJob.objects.for_tenant(acme).order_by("-pk").first()
    assert (second.created_count, second.updated_count) == (0, 2)
    assert Appointment.objects.for_tenant(acme).count() == 2
    assert Appointment.objects.for_tenant(acme).get(external_id="A-1").provider == "Dr. Who"


def test_a_file_without_the_required_columns_is_a_400(client, acme, plan, upload):
    response = upload(client, acme, plan, "name,phone\nAnn,+14255550123\n")

    assert targets(assert_error(response, 400, mentions="external_id")) == {"file"}
    assert not ImportJob.objects.for_tenant(acme).exists()


def test_an_import_without_a_file_or_plan_is_a_400(client, acme):
    response = api(client, acme, "POST", "imports", {"skipBadRows": "maybe"})

    assert targets(assert_error(response, 400)) >= {"plan", "skipBadRows"}


def test_a_file_can_be_uploaded_as_multipart_by_a_portal_operator(
    client, acme, plan, member_client, django_capture_on_commit_callbacks
):
    member_client("operator")
    file = SimpleUploadedFile("list.csv", GOOD.encode(), content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/t/acme/api/v1/imports", {"plan": plan.pk, "file": file})

    assert response.status_code == 202, response.content
    assert Appointment.objects.for_tenant(acme).count() == 2
