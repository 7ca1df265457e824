import pytest
from django.core.exceptions import ValidationError

from tenants import services
from tenants.models import AccessKey, AuditEntry, Membership, PhoneNumber, Tenant
from tests.factories import add_member

pytestmark = pytest.mark.django_db

Role = Membership.Role


def audit_actions(tenant: Tenant) -> list[str]:
    return list(AuditEntry.objects.for_tenant(tenant).values_list("action", flat=True))


def test_create_tenant_makes_two_distinct_keys_and_an_owner(user):
    tenant = services.create_tenant("Initech", "initech", actor=None, owner=user)

    secrets = {key.secret for key in AccessKey.objects.for_tenant(tenant)}
    assert len(secrets) == 2
    assert Membership.objects.for_tenant(tenant).get().role == Role.OWNER
    assert set(audit_actions(tenant)) == {"tenant.create", "member.add"}


def test_create_tenant_refuses_an_unknown_time_zone(user):
    with pytest.raises(ValidationError):
        services.create_tenant("Initech", "initech", actor=None, time_zone="Mars/Olympus")

    assert not Tenant.objects.filter(slug="initech").exists()


def test_regenerate_access_key_changes_only_that_key(tenant, user):
    before = {k.name: k.secret for k in AccessKey.objects.for_tenant(tenant)}

    services.regenerate_access_key(tenant, AccessKey.Name.SECONDARY, actor=user)

    after = {k.name: k.secret for k in AccessKey.objects.for_tenant(tenant)}
    assert after["primary"] == before["primary"]
    assert after["secondary"] != before["secondary"]
    entry = AuditEntry.objects.for_tenant(tenant).filter(action="access_key.regenerate").get()
    assert entry.actor == user
    assert before["secondary"] not in str(entry.before) + str(entry.after)


def test_add_phone_number_stores_e164_and_audits(tenant, user):
    phone = services.add_phone_number(tenant, "+1 425 555 0100", actor=user, label="Main")

    assert phone.e164 == "+14255550100"
    assert "phone_number.add" in audit_actions(tenant)


def test_a_number_owned_by_another_tenant_is_refused(tenant, other_tenant, user):
    services.add_phone_number(other_tenant, "+14255550100", actor=None)

    with pytest.raises(ValidationError, match="already in use"):
        services.add_phone_number(tenant, "+14255550100", actor=user)

    assert PhoneNumber.objects.for_tenant(other_tenant).count() == 1
    assert PhoneNumber.objects.for_tenant(tenant).count() == 0


def test_removing_another_tenants_number_is_not_found(tenant, other_tenant):
    phone = services.add_phone_number(other_tenant, "+14255550100", actor=None)

    with pytest.raises(PhoneNumber.DoesNotExist):
        services.remove_phone_number(tenant, phone.pk, actor=None)

    assert PhoneNumber.unscoped.filter(pk=phone.pk).exists()


def test_the_last_owner_cannot_be_demoted_or_removed(tenant, user):
    owner = Membership.objects.for_tenant(tenant).get(user=user)

    with pytest.raises(ValidationError):
        services.change_member_role(tenant, owner.pk, Role.ADMIN, actor=user)
    with pytest.raises(ValidationError):
        services.remove_member(tenant, owner.pk, actor=user)

    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_an_owner_can_step_down_once_another_owner_exists(tenant, user):
    add_member(tenant, Role.OWNER)
    owner = Membership.objects.for_tenant(tenant).get(user=user)

    services.change_member_role(tenant, owner.pk, Role.VIEWER, actor=user)

    owner.refresh_from_db()
    assert owner.role == Role.VIEWER


def test_suspending_a_tenant_is_audited(tenant, user):
    services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=user)

    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.SUSPENDED
    assert "tenant.suspend" in audit_actions(tenant)
