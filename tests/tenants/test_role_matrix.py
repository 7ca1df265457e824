"""The role matrix: every route of the portal and of the APIs (`/t/<slug>/api/v1/`,
`/t/<slug>/calling/`, `/t/<slug>/recordings/`), for every kind of caller, generated from
the URL configuration (tests/tenants/routes.py). A new route without a permission entry
fails here; so does a route that lets a role through that the table refuses, or that
changes anything in the database while refusing.

Callers: the owner, admin, operator and viewer of the tenant (portal sessions), an
access key with each key role (APIs only), and the owner (and, on the APIs, an admin
key) of the same tenant once it is suspended.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test import Client

from reminders.callback_auth import CallbackJwtAuthentication
from tenants.api.permissions import TablePermission
from tenants.models import AccessKey, Membership, Tenant
from tenants.permissions import TABLE, Action, as_markdown
from tests.acs_signing import sign_headers
from tests.tenants.matrix_world import WAV, committed_world
from tests.tenants.routes import Route, all_routes

pytestmark = pytest.mark.django_db

Role = Membership.Role
ROUTES = all_routes()

# Routes that are not a tenant's: the portal's own pages and the platform's. Listed by
# hand on purpose: a new one must be looked at (and added here) to pass.
NOT_A_TENANTS = {
    "/": "redirects to the portal",
    "/healthz": "load balancer probe",
    "/accounts/login/": "login",
    "/accounts/logout/": "logout",
    "/calling/keys": "public JWKS (callback token keys)",
    "/calling/.well-known/acsopenidconfiguration": "public OpenID configuration",
    "/portal/": "sends a user to their first tenant",
    "/portal/invitations/{token}/": "the invitation link: its holder accepts in their account",
    "/portal/invitations/{token}/signup/": "sign up on an invitation link",
    "/portal/usage/all/": "platform operators (superusers) only",
    "/portal/usage/all/{slug}/": "platform operators (superusers) only",
    "/portal/usage/all/{slug}.csv": "platform operators (superusers) only",
    "/t/{tenant_slug}/api/v1/notifications/audio/{token}.wav": "an uploaded notification "
    "message the engine fetches: the unguessable token is the key, as a customer's file URL",
}
# Tenant routes whose caller is not a tenant principal, with how they authenticate.
OWN_AUTHENTICATION = {
    "/t/{tenant_slug}/api/v1/reminders/callbacks/{token}": CallbackJwtAuthentication,
    "/t/{tenant_slug}/api/v1/notifications/callbacks/{token}": CallbackJwtAuthentication,
}
# A write that only reads: the catch-all that answers 404 for an unknown /calling route.
WRITES_THAT_READ = {"/t/{tenant_slug}/calling/{rest}"}


def is_admin_site(route: Route) -> bool:
    return route.template.startswith("/admin/")


def api_cases() -> list:
    cases = []
    for route in ROUTES:
        if route.is_drf and route.template not in OWN_AUTHENTICATION | NOT_A_TENANTS.keys():
            cases += [pytest.param(route, m, id=f"{m.upper()} {route}") for m in route.methods()]
    return cases


def portal_cases() -> list:
    """(route, button): each page's reads (None) and each write it names."""
    cases = []
    for route in ROUTES:
        if route.page_access is None:
            continue
        writes = route.page_access.write
        buttons = list(writes) if isinstance(writes, dict) else [""]
        cases.append(pytest.param(route, None, id=f"GET {route}"))
        cases += [pytest.param(route, b, id=f"POST{':' + b if b else ''} {route}") for b in buttons]
    return cases


API_CASES = api_cases()
PORTAL_CASES = portal_cases()


# --- the callers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    key: bool = False  # an access key (HMAC) rather than a portal session
    suspended: bool = False

    def __str__(self) -> str:
        return self.name


SESSIONS = [Caller(role, role) for role in (Role.OWNER, Role.ADMIN, Role.OPERATOR, Role.VIEWER)]
KEYS = [Caller(f"key:{role}", role, key=True) for role in AccessKey.ROLES]
SUSPENDED_OWNER = Caller("suspended:owner", Role.OWNER, suspended=True)
SUSPENDED_KEY = Caller("suspended:key:admin", Role.ADMIN, key=True, suspended=True)
API_CALLERS = [*SESSIONS, *KEYS, SUSPENDED_OWNER, SUSPENDED_KEY]
PORTAL_CALLERS = [*SESSIONS, SUSPENDED_OWNER]


# --- the tenant's world: one object of each kind the routes take an id of ----------------


# Built and committed once for the module's run of tests (each test built its own before:
# ~0.3-0.5 s of set-up and 5 logins, 240 times). No test sees another's changes: each runs
# in the transaction pytest-django rolls back at its end, each caller in a savepoint rolled
# back too, and `become` puts back a chunk file a delete took.
@pytest.fixture(scope="module")
def _committed_world(django_db_setup, django_db_blocker, tmp_path_factory):
    with committed_world(django_db_blocker, tmp_path_factory.mktemp("recordings")) as made:
        yield made


@pytest.fixture(scope="module")
def tenant(_committed_world) -> Tenant:
    return _committed_world[0]


@pytest.fixture(scope="module")
def world(_committed_world) -> dict[str, Any]:
    return _committed_world[1]


# Bodies that would change something if the caller were allowed (others send `{}`).
API_BODIES = {
    ("patch", "/t/{tenant_slug}/api/v1/recordings/{recording_id}"): {"legalHold": True},
    ("post", "/t/{tenant_slug}/api/v1/deliveries/redeliver"): {"since": "2000-01-01T00:00Z"},
    ("post", "/t/{tenant_slug}/api/v1/contacts"): {"name": "Zed", "phone": "+14255550131"},
    ("patch", "/t/{tenant_slug}/api/v1/contacts/{pk}"): {"name": "Zed"},
    ("post", "/t/{tenant_slug}/api/v1/suppressions"): {"phone": "+14255550132"},
    ("patch", "/t/{tenant_slug}/api/v1/plans/{pk}"): {"name": "Renamed"},
    ("post", "/t/{tenant_slug}/api/v1/test-callees"): {"rawId": "+14255550133"},
    ("patch", "/t/{tenant_slug}/api/v1/test-callees/{pk}"): {"outcome": "busy"},
    ("post", "/t/{tenant_slug}/api/v1/event-webhooks"): {"endpointUrl": "https://x.test/h"},
    ("post", "/t/{tenant_slug}/api/v1/incoming-calls"): {"to": "+14255550100", "from": "+1425"},
    ("post", "/t/{tenant_slug}/api/v1/trunks"): {"name": "B", "proxyHost": "127.0.0.1"},
    ("patch", "/t/{tenant_slug}/api/v1/trunks/{pk}"): {"proxyPort": 5070},
}


def url_values(world: dict, route: Route) -> dict[str, Any]:
    values = dict(world)
    if "pk" in route.kwargs():
        collection = route.template.split("/api/v1/", 1)[1].split("/", 1)[0]
        values["pk"] = world["pk"][collection]
    return values


# --- sending as a caller, in a savepoint that is rolled back afterwards --------------------


@contextmanager
def rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def fingerprint() -> dict[str, str]:
    """A hash of every table's rows: equal before and after means nothing changed."""
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        parts = " UNION ALL ".join(
            f"SELECT '{t}', md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "
            f"FROM {connection.ops.quote_name(t)} r"
            for t in tables
        )
        cursor.execute(parts)
        return dict(cursor.fetchall())


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [table for table in before if before[table] != after.get(table)]


def become(caller: Caller, tenant: Tenant, world: dict) -> Client:
    """Make the database say what the caller is, and return a client acting as them."""
    if caller.suspended:
        Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)
    client = Client(raise_request_exception=False)
    if caller.key:
        AccessKey.objects.for_tenant(tenant).filter(name="primary").update(role=caller.role)
    else:
        client.cookies[settings.SESSION_COOKIE_NAME] = world["sessions"][caller.role]
    if not world["chunk"].content.storage.exists(world["chunk"].content.name):
        world["chunk"].content.storage.save(world["chunk"].content.name, ContentFile(WAV))
    return client


def send(client: Client, caller: Caller, tenant: Tenant, method: str, url: str, body: Any):
    if "/calling/" in url:
        url += "?api-version=2026-03-12"
    raw = json.dumps(body).encode() if body is not None and method != "get" else b""
    headers = {}
    if caller.key:
        secret = AccessKey.objects.for_tenant(tenant).get(name="primary").secret
        headers = sign_headers(method, url, raw, secret, f"testserver/t/{tenant.slug}")
    return client.generic(
        method.upper(), url, data=raw, content_type="application/json" if raw else None,
        headers=headers, RAW_URI=url,
    )  # fmt: skip


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize(("route", "method"), API_CASES)
def test_an_api_route_lets_in_exactly_the_callers_the_table_allows(tenant, world, route, method):
    action = route.action(method)
    url = route.url(url_values(world, route))
    body = API_BODIES.get((method, route.template), {} if method != "get" else None)
    # Portal sessions reach only the tenant REST API; /calling and the recording
    # downloads take access keys alone (a session there is no credential: 401).
    sessions_reach = "/api/v1/" in route.template
    wrong = []
    for caller in API_CALLERS:
        allowed = not caller.suspended and caller.role in TABLE[action]
        refusal = 403
        if not caller.key and not sessions_reach:
            allowed, refusal = False, 401
        with rolled_back():
            client = become(caller, tenant, world)
            before = fingerprint() if not allowed else None
            response = send(client, caller, tenant, method, url, body)
            if allowed and response.status_code in (401, 403):
                wrong.append(f"{caller}: {response.status_code}, expected to be let in")
            if response.status_code >= 500:
                wrong.append(f"{caller}: {response.status_code}")
            elif not allowed:
                error = response.json().get("error", {}) if _is_json(response) else {}
                code = "Forbidden" if refusal == 403 else "7509"
                if response.status_code != refusal or error.get("code") != code:
                    wrong.append(f"{caller}: {response.status_code} {error}, expected {refusal}")
                if changed(before, fingerprint()):
                    wrong.append(f"{caller}: refused but changed {changed(before, fingerprint())}")
    assert not wrong, f"{method.upper()} {route} ({action}):\n" + "\n".join(wrong)


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


@pytest.mark.parametrize(("route", "button"), PORTAL_CASES)
def test_a_portal_page_lets_in_exactly_the_members_the_table_allows(tenant, world, route, button):
    url = route.url(url_values(world, route))
    access = route.page_access
    data = {**world["posts"].get(route.name, {})}
    if button:
        data = {k: v for k, v in data.items() if k in ("recording", button)} | {button: "on"}
    wrong = []
    for caller in PORTAL_CALLERS:
        with rolled_back():
            client = become(caller, tenant, world)
            if button is None:  # reading: every member, suspended or not
                response = client.get(url)
                if response.status_code == 403 or response.status_code >= 500:
                    wrong.append(f"{caller}: GET answered {response.status_code}")
                continue
            before = fingerprint()
            response = client.post(url, data)
            if access.write is None:
                expected = 405
            else:
                actions = access.actions_for(data)
                allowed = not caller.suspended and all(caller.role in TABLE[a] for a in actions)
                expected = None if allowed else 403
            if expected is None and response.status_code in (403, 405):
                wrong.append(f"{caller}: {response.status_code}, expected to be let in")
            if response.status_code >= 500:
                wrong.append(f"{caller}: POST answered {response.status_code}")
            elif expected is not None:
                if response.status_code != expected:
                    wrong.append(f"{caller}: {response.status_code}, expected {expected}")
                if changed(before, fingerprint()):
                    wrong.append(f"{caller}: refused but changed {changed(before, fingerprint())}")
    assert not wrong, f"{route} {button or ''}:\n" + "\n".join(wrong)


def test_every_route_is_a_tenants_with_a_permission_entry_or_is_listed_as_not_one():
    problems = []
    for route in ROUTES:
        if is_admin_site(route) or route.template in NOT_A_TENANTS:
            continue
        if route.template in OWN_AUTHENTICATION:
            view = route.view_class
            if TablePermission in view.permission_classes or (
                OWN_AUTHENTICATION[route.template] not in view.authentication_classes
            ):
                problems.append(f"{route}: expected its own authentication")
            continue
        if "{tenant_slug}" not in route.template:
            problems.append(f"{route}: neither a tenant's route nor listed in NOT_A_TENANTS")
        elif route.is_drf:
            if TablePermission not in route.view_class.permission_classes:
                problems.append(f"{route}: does not use TablePermission")
            for method in route.methods():
                action = route.action(method)
                if action is None:
                    problems.append(f"{method.upper()} {route}: no permission entry")
                elif (
                    method not in ("get", "head")
                    and action == Action.READ
                    and route.template not in WRITES_THAT_READ
                ):
                    problems.append(f"{method.upper()} {route}: a write needs a write action")
        elif route.page_access is None:
            problems.append(f"{route}: a tenant page not wrapped in tenant_page(write=...)")
    assert not problems, "\n".join(problems)


def test_the_matrix_covers_every_route_and_caller(capsys):
    api = len(API_CASES) * len(API_CALLERS)
    portal = sum(1 for p in PORTAL_CASES) * len(PORTAL_CALLERS)
    with capsys.disabled():
        print(
            f"\nrole matrix: {len(API_CASES)} API operations x {len(API_CALLERS)} callers"
            f" = {api}; {len(PORTAL_CASES)} portal page operations x {len(PORTAL_CALLERS)}"
            f" callers = {portal}; {api + portal} requests"
        )
    assert len(API_CASES) >= 60
    assert len(PORTAL_CASES) >= 40


# The agreed matrix, written out: changing tenants.permissions.TABLE means changing this.
V, OP, A, W = "viewer", "operator", "admin", "owner"
AGREED = {
    "tenant.read": {V, OP, A, W},
    "keys.view": {A, W},
    "keys.manage": {W},
    "members.manage": {W},
    "numbers.manage": {A, W},
    "trunks.manage": {A, W},
    "callees.manage": {A, W},
    "webhooks.manage": {A, W},
    "settings.manage": {A, W},
    "rates.change": set(),
    "calls.drive": {OP, A, W},
    "deliveries.redeliver": {OP, A, W},
    "recordings.delete": {A, W},
    "recordings.legal_hold": {A, W},
    "reminders.edit": {OP, A, W},
    "reminders.dispatch": {OP, A, W},
    "notifications.edit": {OP, A, W},
    "notifications.launch": {OP, A, W},
    "preferences.edit": {V, OP, A, W},
}


def test_the_permission_table_is_the_agreed_matrix():
    assert {str(action): set(roles) for action, roles in TABLE.items()} == AGREED
    assert set(AccessKey.ROLES) == {V, OP, A}  # a key is never an owner


def test_the_readme_shows_the_permission_table_as_it_is():
    readme = (settings.BASE_DIR / "README.md").read_text()

    assert as_markdown() in readme
