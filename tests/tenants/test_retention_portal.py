"""Recording retention on the settings pages: admins change it, audited; others read it."""

import pytest
from django.urls import reverse

from tenants.models import AuditEntry, Membership

pytestmark = pytest.mark.django_db

PAGE = reverse("portal:retention", kwargs={"tenant_slug": "acme"})


def test_an_admin_changes_retention_and_the_change_is_audited(client, tenant, member_client):
    admin = member_client(Membership.Role.ADMIN)

    response = client.post(PAGE, {"recording_retention_days": "30"})

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.recording_retention_days == 30
    entry = AuditEntry.objects.for_tenant(tenant).get(action="tenant.retention")
    assert (entry.actor, entry.before, entry.after) == (
        admin.user,
        {"recording_retention_days": 90},
        {"recording_retention_days": 30},
    )


@pytest.mark.parametrize("days", ["0", "-3", "many", ""])
def test_a_bad_retention_is_refused_with_a_form_error(client, tenant, user, days):
    client.force_login(user)

    response = client.post(PAGE, {"recording_retention_days": days})

    assert response.status_code == 200
    assert response.context["form"].errors
    tenant.refresh_from_db()
    assert tenant.recording_retention_days == 90


def test_an_operator_reads_retention_but_cannot_change_it(client, tenant, member_client):
    member_client(Membership.Role.OPERATOR)

    page = client.get(PAGE)
    refused = client.post(PAGE, {"recording_retention_days": "5"})

    assert b"90 days" in page.content
    assert b'<form method="post" class="stack">' not in page.content
    assert refused.status_code == 403
    tenant.refresh_from_db()
    assert tenant.recording_retention_days == 90
