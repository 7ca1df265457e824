"""An access key acts with the role it is given (tenants.permissions): the Keys page shows
and sets it, and nobody can give a key more than their own role."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tenants import services
from tenants.models import AccessKey, AuditEntry, Membership
from tests.callauto.test_hmac_auth import send
from tests.calls.api_support import signed
from tests.conftest import key_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Role = Membership.Role


def keys_url() -> str:
    return reverse("portal:access_keys", kwargs={"tenant_slug": "acme"})


def role_of(tenant, name: str = "primary") -> str:
    return AccessKey.objects.for_tenant(tenant).get(name=name).role


def test_the_owner_sets_a_keys_role_on_the_keys_page(client, tenant, user):
    client.force_login(user)

    response = client.post(keys_url(), {"name": "secondary", "role": "viewer"})

    assert response.status_code == 302
    assert role_of(tenant, "secondary") == Role.VIEWER
    assert role_of(tenant, "primary") == Role.ADMIN
    entry = AuditEntry.objects.for_tenant(tenant).get(action="access_key.role")
    assert (entry.before, entry.after) == ({"role": "admin"}, {"role": "viewer"})
    page = client.get(keys_url()).content.decode()
    assert 'aria-label="Role of the secondary key"' in page


def test_a_key_cannot_be_made_an_owner(client, tenant, user):
    client.force_login(user)
    secret = key_of(tenant)

    client.post(keys_url(), {"name": "primary", "role": "owner"})

    assert role_of(tenant) == Role.ADMIN
    assert key_of(tenant) == secret  # nor was the key regenerated instead


def test_an_admin_sees_each_keys_role_but_cannot_change_it(client, tenant, member_client):
    member_client(Role.ADMIN)

    page = client.get(keys_url()).content.decode()
    response = client.post(keys_url(), {"name": "primary", "role": "viewer"})

    assert "<td>admin</td>" in page
    assert response.status_code == 403
    assert role_of(tenant) == Role.ADMIN


def test_nobody_gives_a_key_more_than_their_own_role(tenant):
    operator = Membership.unscoped.create(
        tenant=tenant, user=UserFactory(username="op"), role=Role.OPERATOR
    ).user

    with pytest.raises(ValidationError, match="more than your own role"):
        services.set_access_key_role(tenant, "primary", Role.ADMIN, actor=operator)
    services.set_access_key_role(tenant, "primary", Role.OPERATOR, actor=operator)

    assert role_of(tenant) == Role.OPERATOR


def test_a_non_member_cannot_set_a_keys_role(tenant, other_tenant):
    stranger = other_tenant.memberships.get().user

    with pytest.raises(ValidationError):
        services.set_access_key_role(tenant, "primary", Role.VIEWER, actor=stranger)


def test_a_viewer_key_reads_calls_but_cannot_place_one(client, tenant):
    AccessKey.unscoped.filter(tenant=tenant, name="primary").update(role=Role.VIEWER)

    read = signed(client, tenant, "GET", "callConnections/no-such-call")
    create = signed(client, tenant, "POST", "callConnections", {})

    assert read.status_code == 404  # allowed to look: the call just does not exist
    assert create.status_code == 403
    assert create.json()["error"]["code"] == "Forbidden"


def test_an_operator_key_drives_calls(client, tenant):
    AccessKey.unscoped.filter(tenant=tenant, name="primary").update(role=Role.OPERATOR)

    create = signed(client, tenant, "POST", "callConnections", {})

    assert create.status_code == 400  # past the role check, refused for its empty body


def test_an_operator_key_cannot_delete_a_recording_through_its_delete_location(client, tenant):
    AccessKey.unscoped.filter(tenant=tenant, name="primary").update(role=Role.OPERATOR)
    target = "/t/acme/recordings/v1/objects/no-such-document"

    response = send(client, "DELETE", target, key=key_of(tenant))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Forbidden"
