"""Roles on every mutating portal view (viewer < operator < admin < owner), and another
tenant's objects answering 404 on every page that takes an id."""

from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from calls.models import Call, SimulatedCallee
from tenants.models import Membership, PhoneNumber
from tests.factories import add_member, make_call_delivery
from webhooks.models import Delivery, EventSubscription

pytestmark = pytest.mark.django_db

Role = Membership.Role
ROLES = list(Role.values)


@dataclass(frozen=True)
class Change:
    """One mutating portal form: where it posts, what, and the least role allowed."""

    name: str
    minimum: str
    data: dict = field(default_factory=dict)
    needs: str = ""  # an object of the tenant the URL names ("callee", "call")

    def __str__(self) -> str:
        return f"{self.name}:{'+'.join(self.data) or 'post'}"


CHANGES = [
    Change("access_keys", Role.OWNER, {"name": "secondary"}),
    Change("members", Role.OWNER, {"email": "newcomer@example.com", "role": "viewer"}),
    Change("phone_numbers", Role.ADMIN, {"e164": "+14255550177"}),
    Change("callees", Role.ADMIN, {"raw_id": "+14255550188", "outcome": "answer"}),
    Change("edit_callee", Role.ADMIN, {"raw_id": "+14255550199", "outcome": "busy"}, "callee"),
    Change("webhooks", Role.ADMIN, {"rotate_secret": "1"}),
    Change("retention", Role.ADMIN, {"recording_retention_days": "30"}),
    Change("deliveries", Role.OPERATOR, {"since": "2026-01-01 00:00"}),
    Change("call_detail", Role.OPERATOR, {"redeliver": "0"}, "call"),
]


def below(minimum: str) -> list[str]:
    return ROLES[: ROLES.index(minimum)]


def at_or_above(minimum: str) -> list[str]:
    return ROLES[ROLES.index(minimum) :]


def cases(pick) -> list:
    return [
        pytest.param(change, role, id=f"{change}-{role}")
        for change in CHANGES
        for role in pick(change.minimum)
    ]


def url_of(change: Change, tenant) -> str:
    kwargs = {"tenant_slug": tenant.slug}
    if change.needs == "callee":
        callee = SimulatedCallee.unscoped.create(tenant=tenant, raw_id="4:+14255550111")
        kwargs["callee_id"] = callee.pk
    if change.needs == "call":
        call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
        kwargs["call_id"] = call.pk
    return reverse(f"portal:{change.name}", kwargs=kwargs)


@pytest.mark.parametrize(("change", "role"), cases(below))
def test_a_role_below_the_minimum_is_refused(client, tenant, change, role):
    url = url_of(change, tenant)
    client.force_login(add_member(tenant, role).user)
    audit_before = tenant.audit_entries.count()

    response = client.post(url, change.data)

    assert response.status_code == 403
    assert tenant.audit_entries.count() == audit_before  # nothing was changed


@pytest.mark.parametrize(("change", "role"), cases(at_or_above))
def test_the_minimum_role_and_above_get_past_the_role_check(client, tenant, change, role):
    url = url_of(change, tenant)
    client.force_login(add_member(tenant, role).user)

    response = client.post(url, change.data)

    # A redirect after the change, a form re-rendered, or 404 for the made-up delivery 0.
    assert response.status_code in (200, 302, 404)


def test_the_rate_plan_is_read_only_even_for_owners(client, tenant, user):
    client.force_login(user)

    response = client.post(reverse("portal:rate_plan", args=["acme"]), {"name": "Free"})

    assert response.status_code == 403


@pytest.fixture
def theirs(other_tenant) -> dict:
    """One object of each kind owned by another tenant."""
    call = Call.unscoped.create(tenant=other_tenant, direction=Call.Direction.OUTBOUND)
    return {
        "call": call,
        "delivery": make_call_delivery(
            other_tenant, call, state="dead", url="https://globex.example.com/cb"
        ),
        "callee": SimulatedCallee.unscoped.create(tenant=other_tenant, raw_id="4:+14255550111"),
        "number": PhoneNumber.unscoped.create(tenant=other_tenant, e164="+14255550122"),
        "member": Membership.unscoped.get(tenant=other_tenant),
        "webhook": EventSubscription.unscoped.create(
            tenant=other_tenant, endpoint_url="https://globex.example.com/hook"
        ),
    }


# (page, URL kwargs from their objects, POST data from their objects or None for a GET)
FOREIGN = [
    ("call_detail", {"call_id": "call"}, None),
    ("call_timeline", {"call_id": "call"}, None),
    ("call_detail", {"call_id": "call"}, {"redeliver": "delivery"}),
    ("edit_callee", {"callee_id": "callee"}, None),
    ("callees", {}, {"remove": "callee"}),
    ("phone_numbers", {}, {"remove": "number"}),
    ("members", {}, {"remove": "member"}),
    ("webhooks", {}, {"remove": "webhook"}),
    ("deliveries", {}, {"redeliver": "delivery"}),
]


@pytest.mark.parametrize(
    ("page", "ids", "post"), FOREIGN, ids=[f"{p}-{'post' if d else 'get'}" for p, _, d in FOREIGN]
)
def test_another_tenants_object_is_404_from_my_tenants_pages(
    client, tenant, user, theirs, page, ids, post
):
    client.force_login(user)  # the owner of acme, the most powerful role
    url = reverse(
        f"portal:{page}",
        kwargs={"tenant_slug": "acme", **{k: theirs[v].pk for k, v in ids.items()}},
    )

    response = (
        client.post(url, {k: theirs[v].pk for k, v in post.items()}) if post else (client.get(url))
    )

    assert response.status_code == 404
    theirs["delivery"].refresh_from_db()
    assert theirs["delivery"].state == Delivery.State.DEAD
    assert PhoneNumber.unscoped.filter(pk=theirs["number"].pk).exists()


@pytest.mark.parametrize("page", ["calls", "audit_log", "audit_log_csv"])
def test_read_only_pages_refuse_a_post_even_from_the_owner(client, tenant, user, page):
    client.force_login(user)

    assert client.post(reverse(f"portal:{page}", args=["acme"])).status_code == 405
