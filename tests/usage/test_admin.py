"""Operators read metered usage in the admin but cannot change it."""

from datetime import UTC, datetime

import pytest

from tests.factories import UserFactory
from tests.usage.records import meter
from usage.models import Category

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))


@pytest.mark.parametrize("model", ["usagerecord", "dailyusage"])
def test_an_operator_lists_usage_in_the_admin(client, operator, tenant, model):
    meter(tenant, (datetime(2026, 11, 20, tzinfo=UTC), Category.VOIP, 60))

    response = client.get(f"/admin/usage/{model}/")

    assert response.status_code == 200
    assert b"Acme" in response.content


def test_usage_cannot_be_added_by_hand(client, operator):
    assert client.get("/admin/usage/usagerecord/add/").status_code == 403
