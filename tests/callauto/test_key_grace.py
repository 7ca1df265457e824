"""Issue 17, item 3: a regenerated key's old secret keeps signing for the grace period
chosen when regenerating, and not a moment longer."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from tenants import services
from tenants.models import AccessKey
from tests.callauto.test_hmac_auth import UNKNOWN_CALL, assert_rejected, send
from tests.conftest import key_of

pytestmark = pytest.mark.django_db


def test_the_old_secret_works_during_the_grace_period_and_not_after(client, tenant):
    old = key_of(tenant)
    start = timezone.now()

    key = services.regenerate_access_key(
        tenant, AccessKey.Name.PRIMARY, actor=None, grace=timedelta(hours=1)
    )

    assert key.previous_expires_at == pytest.approx(start + timedelta(hours=1), abs=timedelta(1))
    with time_machine.travel(start + timedelta(minutes=59), tick=False):
        assert send(client, "GET", UNKNOWN_CALL, key=old).status_code == 404
        assert send(client, "GET", UNKNOWN_CALL, key=key_of(tenant)).status_code == 404
    with time_machine.travel(start + timedelta(minutes=61), tick=False):
        assert_rejected(send(client, "GET", UNKNOWN_CALL, key=old))


def test_regenerating_again_ends_the_previous_grace_at_once(client, tenant):
    first = key_of(tenant)
    services.regenerate_access_key(tenant, "primary", actor=None, grace=timedelta(hours=1))

    services.regenerate_access_key(tenant, "primary", actor=None, grace=timedelta(0))

    assert_rejected(send(client, "GET", UNKNOWN_CALL, key=first))
    assert AccessKey.objects.for_tenant(tenant).get(name="primary").previous_expires_at is None


def test_a_grace_period_over_seven_days_is_refused(tenant):
    with pytest.raises(ValidationError):
        services.regenerate_access_key(tenant, "primary", actor=None, grace=timedelta(days=8))
