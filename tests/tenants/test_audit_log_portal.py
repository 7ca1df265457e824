"""The audit log page and its CSV export: filters, paging, isolation, CSV hygiene."""

import csv
import datetime as dt
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from tenants import audit, services
from tenants.models import Membership
from tests.factories import add_member
from tests.paging import pager_links

pytestmark = pytest.mark.django_db

PAGE = reverse("portal:audit_log", kwargs={"tenant_slug": "acme"})
CSV = reverse("portal:audit_log_csv", kwargs={"tenant_slug": "acme"})


def shown(client, **query: str) -> list[str]:
    response = client.get(PAGE, query)
    assert response.status_code == 200
    return [e.action for e in response.context["page"]]


def exported(client, **query: str) -> list[dict]:
    response = client.get(CSV, query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def history(tenant, user):
    """Changes by the owner and by a second admin; tenant creation is in the log too."""
    admin = add_member(tenant, Membership.Role.ADMIN, username="ada").user
    services.add_phone_number(tenant, "+14255550100", actor=user)
    services.add_phone_number(tenant, "+14255550101", actor=admin)
    services.regenerate_access_key(tenant, "secondary", actor=admin)
    return admin


def test_the_log_lists_who_did_what_newest_first(client, tenant, user, history):
    client.force_login(user)

    page = client.get(PAGE).content.decode()

    assert shown(client)[:3] == ["access_key.regenerate", "phone_number.add", "phone_number.add"]
    assert "ada" in page
    assert "+14255550101" in page


def test_the_log_filters_by_actor_action_and_target_type(client, tenant, user, history):
    client.force_login(user)

    assert shown(client, actor="ad") == ["access_key.regenerate", "phone_number.add"]
    assert shown(client, actor="ada", action="phone_number.add") == ["phone_number.add"]
    assert shown(client, target_type="tenants.accesskey") == ["access_key.regenerate"]


def test_the_log_filters_by_day(client, tenant, user, history):
    today = timezone.now().date()
    yesterday = today - dt.timedelta(days=1)
    client.force_login(user)

    assert shown(client, until=str(yesterday)) == []
    assert len(shown(client, since=str(today), until=str(today))) == len(shown(client))


def test_a_bad_filter_shows_an_error_and_no_entries(client, tenant, user, history):
    client.force_login(user)

    response = client.get(PAGE, {"action": "nonsense", "since": "soon"})

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"action", "since"}
    assert list(response.context["page"]) == []


def test_the_csv_export_has_the_same_filtered_entries_oldest_first(client, tenant, user, history):
    client.force_login(user)

    rows = exported(client, action="phone_number.add")

    assert [(r["actor"], r["action"]) for r in rows] == [
        ("owner", "phone_number.add"),
        ("ada", "phone_number.add"),
    ]
    assert set(rows[0]) == {"time", "actor", "action", "target_type", "target_id", "target",
                            "before", "after"}  # fmt: skip
    assert json.loads(rows[0]["after"]) == {"e164": "+14255550100"}


def test_the_csv_export_defuses_cells_a_spreadsheet_would_run(client, tenant, user):
    number = services.add_phone_number(tenant, "+14255550100", actor=user)
    audit.record(tenant, actor=user, action="=HYPERLINK(1)", target=number)
    client.force_login(user)

    rows = exported(client)

    assert "'=HYPERLINK(1)" in [r["action"] for r in rows]
    assert "'+14255550100" in [r["target"] for r in rows]


def test_the_log_never_shows_another_tenants_entries(client, tenant, other_tenant, user):
    services.add_phone_number(other_tenant, "+14255550999", actor=None)
    client.force_login(user)

    assert "+14255550999" not in client.get(PAGE).content.decode()
    assert "+14255550999" not in str(exported(client))
    other = {"tenant_slug": "globex"}
    assert client.get(reverse("portal:audit_log", kwargs=other)).status_code == 404
    assert client.get(reverse("portal:audit_log_csv", kwargs=other)).status_code == 404


def test_the_log_is_paginated(client, tenant, user):
    for n in range(55):
        services.add_phone_number(tenant, f"+142555501{n:02d}", actor=user)
    client.force_login(user)

    first = client.get(PAGE)
    older = pager_links(first)["next"]

    assert len(first.context["page"]) == 50
    assert len(client.get(PAGE + older).context["page"]) >= 5
