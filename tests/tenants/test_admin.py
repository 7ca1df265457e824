"""Platform operators create and suspend tenants in Django's admin."""

import pytest

from tenants.models import AccessKey, AuditEntry, RatePlan, Tenant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_an_operator_creates_a_tenant_with_both_access_keys(client, operator):
    response = client.post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Initech",
            "slug": "initech",
            "status": "active",
            "time_zone": "UTC",
            "max_concurrent_calls": 5,
            "calls_per_second": 1,
            "rate_plan": RatePlan.default().pk,
            "recording_retention_days": 90,
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
            "phone_numbers-TOTAL_FORMS": 0,
            "phone_numbers-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302, response.content
    tenant = Tenant.objects.get(slug="initech")
    assert AccessKey.objects.for_tenant(tenant).count() == 2
    assert AuditEntry.objects.for_tenant(tenant).filter(action="tenant.create").exists()


def test_an_operator_suspends_a_tenant(client, operator, tenant):
    client.post(
        "/admin/tenants/tenant/",
        {"action": "suspend", "_selected_action": [tenant.pk]},
    )

    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.SUSPENDED
    entry = AuditEntry.objects.for_tenant(tenant).get(action="tenant.suspend")
    assert entry.actor == operator


def test_tenant_users_cannot_reach_the_admin(client, user):
    client.force_login(user)

    assert client.get("/admin/tenants/tenant/").status_code == 302
