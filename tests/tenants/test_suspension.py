"""A suspended tenant: its members may look at the portal (with a banner) but change
nothing, and every API path refuses it (session or key)."""

import pytest
from django.urls import reverse

from tenants import services
from tenants.models import AuditEntry, Membership, PhoneNumber, Tenant

pytestmark = pytest.mark.django_db

Role = Membership.Role


def url(name: str) -> str:
    return reverse(f"portal:{name}", kwargs={"tenant_slug": "acme"})


@pytest.fixture
def suspended(tenant) -> Tenant:
    return services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=None)


@pytest.mark.parametrize("page", ["dashboard", "phone_numbers", "members", "recordings"])
def test_a_suspended_tenants_pages_are_readable_with_a_banner(client, user, suspended, page):
    client.force_login(user)

    response = client.get(url(page))

    assert response.status_code == 200
    assert "Acme is suspended" in response.content.decode()


@pytest.mark.parametrize(
    ("page", "data"),
    [
        ("phone_numbers", {"e164": "+14255550177"}),
        ("members", {"email": "bob@example.com", "role": "viewer"}),
        ("access_keys", {"name": "primary"}),
        ("retention", {"recording_retention_days": "30"}),
        ("deliveries", {"since": "2026-01-01 00:00"}),
    ],
)
def test_even_the_owner_of_a_suspended_tenant_changes_nothing(client, user, suspended, page, data):
    client.force_login(user)
    audit_before = AuditEntry.unscoped.count()

    response = client.post(url(page), data)

    assert response.status_code == 403
    assert AuditEntry.unscoped.count() == audit_before
    assert not PhoneNumber.unscoped.exists()


def test_a_suspended_tenants_pages_offer_no_changes(client, user, suspended):
    client.force_login(user)

    members = client.get(url("members")).content.decode()
    keys = client.get(url("access_keys")).content.decode()

    assert "Invite someone" not in members
    assert "Regenerate" not in keys
    assert "endpoint=" not in keys  # connection strings are hidden: keys are refused


def test_a_reactivated_tenant_can_be_changed_again(client, user, suspended):
    services.set_tenant_status(suspended, Tenant.Status.ACTIVE, actor=None)
    client.force_login(user)

    response = client.post(url("phone_numbers"), {"e164": "+14255550177"})

    assert response.status_code == 302
    assert PhoneNumber.unscoped.filter(tenant=suspended).exists()
    assert "is suspended" not in client.get(url("dashboard")).content.decode()
