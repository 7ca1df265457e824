"""The portal shell: login, tenant switcher, settings pages, roles and tenant isolation."""

import pytest
from django.urls import reverse

from reminders import services as reminders
from tenants import services
from tenants.models import AccessKey, AuditEntry, Invitation, Membership, PhoneNumber
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Role = Membership.Role
PAGES = ["dashboard", "access_keys", "phone_numbers", "members", "rate_plan"]


def url(name: str, slug: str = "acme") -> str:
    return reverse(f"portal:{name}", kwargs={"tenant_slug": slug})


def test_login_with_a_password_lands_on_the_users_tenant(client, tenant, user):
    response = client.post(
        reverse("login"), {"username": "owner", "password": "correct horse battery"}, follow=True
    )

    assert response.redirect_chain[-1][0] == url("dashboard")
    assert b"Acme" in response.content


def test_a_wrong_password_is_refused(client, tenant, user):
    response = client.post(reverse("login"), {"username": "owner", "password": "nope"})

    assert response.status_code == 200
    assert b"match" in response.content
    assert "_auth_user_id" not in client.session


def test_portal_pages_require_login(client, tenant):
    response = client.get(url("dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_for_a_member(client, tenant, user, page):
    client.force_login(user)

    assert client.get(url(page)).status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_another_tenants_pages_are_404_for_a_member_of_a_different_tenant(
    client, tenant, other_tenant, user, page
):
    client.force_login(user)

    assert client.get(url(page, other_tenant.slug)).status_code == 404
    assert client.post(url(page, other_tenant.slug), {}).status_code == 404


def test_the_switcher_lists_each_tenant_the_user_belongs_to(client, tenant, other_tenant, user):
    Membership.unscoped.create(tenant=other_tenant, user=user, role=Role.VIEWER)
    client.force_login(user)

    page = client.get(url("dashboard")).content.decode()

    assert url("dashboard", "globex") in page
    assert client.get(url("dashboard", "globex")).status_code == 200


def test_a_user_without_tenants_sees_an_explanation(client, db):
    client.force_login(UserFactory(username="loner"))

    response = client.get(reverse("portal:home"))

    assert b"No tenant yet" in response.content


def test_the_owner_sees_connection_strings_and_regenerates_a_key(client, tenant, user):
    client.force_login(user)
    old = AccessKey.objects.for_tenant(tenant).get(name="primary").secret
    assert old in client.get(url("access_keys")).content.decode()

    response = client.post(url("access_keys"), {"name": "primary"})

    assert response.status_code == 302
    new = AccessKey.objects.for_tenant(tenant).get(name="primary").secret
    assert new != old
    assert AuditEntry.objects.for_tenant(tenant).filter(action="access_key.regenerate").exists()


def test_a_viewer_cannot_see_connection_strings(client, tenant, member_client):
    member_client(Role.VIEWER)
    secret = AccessKey.objects.for_tenant(tenant).get(name="primary").secret

    page = client.get(url("access_keys")).content.decode()

    assert secret not in page
    assert "hidden" in page


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_only_owners_regenerate_keys(client, tenant, member_client, role):
    member_client(role)
    before = AccessKey.objects.for_tenant(tenant).get(name="primary").secret

    assert client.post(url("access_keys"), {"name": "primary"}).status_code == 403

    assert AccessKey.objects.for_tenant(tenant).get(name="primary").secret == before


@pytest.mark.parametrize(
    ("page", "data", "status"),
    [
        ("phone_numbers", {"e164": "+14255550199"}, 403),
        ("members", {"email": "someone@example.com", "role": "viewer"}, 403),
        ("rate_plan", {}, 403),
        ("dashboard", {}, 405),  # a read-only page: no role may post to it
    ],
)
def test_a_viewers_post_is_refused_and_changes_nothing(
    client, tenant, member_client, page, data, status
):
    member_client(Role.VIEWER)
    audit_before = AuditEntry.objects.for_tenant(tenant).count()

    assert client.post(url(page), data).status_code == status

    assert AuditEntry.objects.for_tenant(tenant).count() == audit_before
    assert not PhoneNumber.objects.for_tenant(tenant).exists()


def test_an_admin_adds_and_removes_a_number(client, tenant, member_client):
    member_client(Role.ADMIN)

    client.post(url("phone_numbers"), {"e164": "+1 425 555 0199", "label": "Desk"})
    phone = PhoneNumber.objects.for_tenant(tenant).get()
    assert phone.e164 == "+14255550199"

    client.post(url("phone_numbers"), {"remove": phone.pk})
    assert not PhoneNumber.objects.for_tenant(tenant).exists()
    actions = set(AuditEntry.objects.for_tenant(tenant).values_list("action", flat=True))
    assert {"phone_number.add", "phone_number.remove"} <= actions


def test_a_number_a_reminder_plan_calls_from_is_kept_with_an_error(client, tenant, user):
    phone = services.add_phone_number(tenant, "+14255550100", actor=None)
    reminders.save_plan(
        tenant, actor=None, name="Clinic", offsets_minutes=[60], caller_id=phone,
        office_number="+14255550199", weekdays=[0, 1, 2, 3, 4],
    )  # fmt: skip
    client.force_login(user)

    response = client.post(url("phone_numbers"), {"remove": phone.pk}, follow=True)

    assert response.status_code == 200
    assert "still the caller ID of: Clinic" in response.content.decode()
    assert PhoneNumber.objects.for_tenant(tenant).filter(pk=phone.pk).exists()
    assert not AuditEntry.objects.for_tenant(tenant).filter(action="phone_number.remove").exists()


def test_an_invalid_number_shows_an_error_and_stores_nothing(client, tenant, user):
    client.force_login(user)

    response = client.post(url("phone_numbers"), {"e164": "555-0199"})

    assert response.status_code == 200
    assert b"E.164" in response.content
    assert not PhoneNumber.objects.for_tenant(tenant).exists()


def test_removing_another_tenants_number_from_the_portal_is_404(client, tenant, other_tenant, user):
    phone = services.add_phone_number(other_tenant, "+14255550100", actor=None)
    client.force_login(user)

    assert client.post(url("phone_numbers"), {"remove": phone.pk}).status_code == 404
    assert PhoneNumber.unscoped.filter(pk=phone.pk).exists()


def test_the_owner_changes_a_members_role(client, tenant, user):
    membership = Membership.unscoped.create(
        tenant=tenant, user=UserFactory(username="newbie"), role=Role.VIEWER
    )
    client.force_login(user)

    client.post(url("members"), {"change": membership.pk, "role": "operator"})

    membership.refresh_from_db()
    assert membership.role == Role.OPERATOR


def test_an_admin_cannot_manage_members(client, tenant, member_client):
    UserFactory(username="newbie")
    member_client(Role.ADMIN)

    response = client.post(url("members"), {"email": "newbie@example.com", "role": "owner"})

    assert response.status_code == 403
    assert not Invitation.objects.for_tenant(tenant).exists()


def test_the_rate_plan_is_shown_read_only(client, tenant, user):
    client.force_login(user)

    page = client.get(url("rate_plan")).content.decode()

    assert tenant.rate_plan.name in page
    assert "<form" not in page.split("<main>")[1]
