"""Joining a tenant by invitation (the members page, the link, sign-up): nobody is added
without acting themselves, and the inviter learns nothing about which accounts exist."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from tenants import invitations, services
from tenants.models import AuditEntry, Invitation, Membership, Tenant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Role = Membership.Role
LINK = re.compile(r"https?://\S+/portal/invitations/[\w-]+/")


def members_url(slug: str = "acme") -> str:
    return reverse("portal:members", kwargs={"tenant_slug": slug})


def invite(client, email: str, role: str = Role.OPERATOR):
    return client.post(members_url(), {"email": email, "role": role}, follow=True)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def flash(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


@pytest.fixture
def owner_client(client, tenant, user):
    client.force_login(user)
    return client


def test_inviting_answers_the_same_for_an_existing_and_an_unknown_address(
    owner_client, tenant, django_capture_on_commit_callbacks
):
    existing = UserFactory(username="known", email="known@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        known = invite(owner_client, "known@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        unknown = invite(owner_client, "stranger@example.com")

    def shape(response, email: str) -> str:
        return LINK.sub("<link>", flash(response).replace(email, "<email>"))

    assert known.status_code == unknown.status_code == 200
    assert shape(known, "known@example.com") == shape(unknown, "stranger@example.com")
    assert "Invitation sent to <email>" in shape(known, "known@example.com")
    # Consent: the existing account was not added; both addresses got the same e-mail.
    assert not Membership.objects.for_tenant(tenant).filter(user=existing).exists()
    assert sorted(m.to[0] for m in mail.outbox) == ["known@example.com", "stranger@example.com"]


def test_the_invited_person_accepts_after_logging_in(
    client, tenant, user, django_capture_on_commit_callbacks
):
    bob = UserFactory(username="bob", email="bob@example.com")
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, "bob@example.com", Role.OPERATOR)
    [message] = mail.outbox
    link = LINK.search(message.body).group(0)
    client.logout()

    anonymous = client.get(path_of(link))
    client.force_login(bob)
    shown = client.get(path_of(link))
    accepted = client.post(path_of(link))

    assert anonymous.status_code == 200
    assert "Log in to accept" in anonymous.content.decode()
    assert "Acme" in shown.content.decode()
    assert accepted.status_code == 302
    assert accepted["Location"] == reverse("portal:dashboard", args=["acme"])
    assert Membership.objects.for_tenant(tenant).get(user=bob).role == Role.OPERATOR
    invitation = Invitation.objects.for_tenant(tenant).get()
    assert invitation.accepted_by == bob
    actions = set(AuditEntry.objects.for_tenant(tenant).values_list("action", flat=True))
    assert {"invitation.create", "invitation.accept"} <= actions


def test_accepting_needs_a_signed_in_account(client, tenant, user):
    _, link = invitations.invite_member(tenant, "bob@example.com", Role.VIEWER, actor=user)

    response = client.post(path_of(link))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Membership.objects.for_tenant(tenant).count() == 1


def test_signing_up_on_the_link_creates_the_account_and_joins(client, tenant, user):
    _, link = invitations.invite_member(tenant, "carol@example.com", Role.VIEWER, actor=user)
    signup = path_of(link) + "signup/"

    page = client.get(signup)
    response = client.post(
        signup,
        {
            "username": "carol",
            "password1": "a long pass phrase 9",
            "password2": "a long pass phrase 9",
        },
        follow=True,
    )

    assert page.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("portal:dashboard", args=["acme"])
    carol = Membership.objects.for_tenant(tenant).get(user__username="carol")
    assert carol.role == Role.VIEWER
    assert carol.user.email == "carol@example.com"
    assert response.context["user"].get_username() == "carol"  # signed in


def test_a_link_works_once(client, tenant, user):
    _, link = invitations.invite_member(tenant, "bob@example.com", Role.ADMIN, actor=user)
    client.force_login(UserFactory(username="bob"))
    client.post(path_of(link))
    client.force_login(UserFactory(username="mallory"))

    again = client.post(path_of(link))

    assert again.status_code == 404
    assert not Membership.objects.for_tenant(tenant).filter(user__username="mallory").exists()


def test_an_expired_link_is_refused(client, tenant, user, settings):
    _, link = invitations.invite_member(tenant, "bob@example.com", Role.ADMIN, actor=user)
    client.force_login(UserFactory(username="bob"))

    later = timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS, minutes=1)
    with time_machine.travel(later):
        response = client.post(path_of(link))

    assert response.status_code == 404
    assert not Membership.objects.for_tenant(tenant).filter(user__username="bob").exists()


def test_the_owner_revokes_an_invitation_and_its_link_stops_working(owner_client, tenant, user):
    invitation, link = invitations.invite_member(tenant, "bob@example.com", "admin", actor=user)

    listed = owner_client.get(members_url())
    revoked = owner_client.post(members_url(), {"revoke": invitation.pk})

    assert "bob@example.com" in listed.content.decode()
    assert revoked.status_code == 302
    assert "bob@example.com" not in owner_client.get(members_url()).content.decode()
    assert AuditEntry.objects.for_tenant(tenant).filter(action="invitation.revoke").exists()
    assert owner_client.get(path_of(link)).status_code == 404


def test_inviting_an_address_again_replaces_the_earlier_link(tenant, user, client):
    _, first = invitations.invite_member(tenant, "bob@example.com", Role.VIEWER, actor=user)
    _, second = invitations.invite_member(tenant, "bob@example.com", Role.ADMIN, actor=user)

    assert client.get(path_of(first)).status_code == 404
    assert client.get(path_of(second)).status_code == 200


def test_the_link_itself_is_not_stored(tenant, user):
    invitation, link = invitations.invite_member(tenant, "bob@example.com", "viewer", actor=user)
    token = link.rstrip("/").rsplit("/", 1)[1]

    assert token not in invitation.token_hash
    assert len(token) >= 40


def test_the_inviter_sees_the_link_on_the_page(owner_client, tenant):
    response = invite(owner_client, "bob@example.com")

    assert LINK.search(flash(response))


def test_a_bad_address_is_refused_and_nothing_is_sent(owner_client, tenant):
    response = invite(owner_client, "not an address")

    assert response.status_code == 200
    assert not Invitation.objects.for_tenant(tenant).exists()
    assert mail.outbox == []


def test_nobody_joins_a_suspended_tenant(client, tenant, user):
    _, link = invitations.invite_member(tenant, "bob@example.com", Role.VIEWER, actor=user)
    services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=None)
    client.force_login(UserFactory(username="bob"))

    response = client.post(path_of(link), follow=True)

    assert "suspended" in flash(response)
    assert not Membership.objects.for_tenant(tenant).filter(user__username="bob").exists()


def test_another_tenants_invitation_cannot_be_revoked_from_my_page(
    owner_client, tenant, other_tenant
):
    theirs, link = invitations.invite_member(other_tenant, "x@example.com", "viewer", actor=None)

    assert owner_client.post(members_url(), {"revoke": theirs.pk}).status_code == 404
    assert owner_client.get(path_of(link)).status_code == 200  # still valid


def test_there_is_no_sign_up_without_an_invitation(client, db):
    response = client.get("/portal/invitations/made-up-token/signup/")

    assert response.status_code == 404
