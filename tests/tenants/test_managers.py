import pytest
from django.core.exceptions import ValidationError

from tenants.managers import TenantScopeError
from tenants.models import AccessKey, AuditEntry, Membership, PhoneNumber, Tenant
from tenants.phone import normalize_e164

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Membership, AccessKey, PhoneNumber, AuditEntry])
def test_the_bare_manager_refuses_to_query_without_a_tenant(model):
    with pytest.raises(TenantScopeError):
        list(model.objects.all())


def test_for_tenant_sees_only_that_tenants_rows(tenant, other_tenant):
    keys = AccessKey.objects.for_tenant(tenant)

    assert {key.tenant_id for key in keys} == {tenant.id}
    assert keys.count() == 2


def test_for_tenant_refuses_no_tenant():
    with pytest.raises(TenantScopeError):
        AccessKey.objects.for_tenant(None)


def test_an_unsaved_tenant_cannot_scope_a_query():
    with pytest.raises(TenantScopeError):
        AccessKey.objects.for_tenant(Tenant(slug="ghost"))


def test_audit_entries_cannot_be_changed_or_deleted(tenant):
    entry = AuditEntry.objects.for_tenant(tenant).first()

    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.for_tenant(tenant).update(action="forged")
    with pytest.raises(TypeError):
        AuditEntry.unscoped.filter(tenant=tenant).delete()
    assert AuditEntry.objects.for_tenant(tenant).filter(action="forged").count() == 0


def test_access_key_secrets_are_encrypted_at_rest(tenant):
    key = AccessKey.objects.for_tenant(tenant).first()

    assert key.secret not in key.secret_encrypted
    assert len(key.secret_bytes) == 64


@pytest.mark.parametrize(
    ("given", "expected"),
    [("+14255550123", "+14255550123"), (" +1 (425) 555-0123 ", "+14255550123")],
)
def test_phone_numbers_normalize_to_e164(given, expected):
    assert normalize_e164(given) == expected


@pytest.mark.parametrize("bad", ["", "4255550123", "+1555123456", "+1 425 555", "+abc", "+999"])
def test_invalid_phone_numbers_are_refused(bad):
    with pytest.raises(ValidationError):
        normalize_e164(bad)
