"""What the hot API operations cost in SQL statements and transactions (issue 15), counted
with CaptureQueriesContext: a bound on behaviour, not a timing (figures: README
"Performance"). And the price of those savings must not be staleness: a regenerated key or
a suspended tenant counts from the next request on, whatever process serves it."""

import json
import uuid
from email.utils import formatdate

import pytest
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.api import idempotency
from calls.models import Call, IdempotentRequest
from tenants import services as tenant_services
from tenants.models import AccessKey, Tenant
from tests.acs_signing import sign_headers
from tests.callauto.test_hmac_auth import send, send_with
from tests.conftest import key_of

pytestmark = pytest.mark.django_db(transaction=True)

API = "api-version=2026-03-12"
CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


def counted(action):
    with CaptureQueriesContext(connection) as queries:
        response = action()
    statements = [q["sql"] for q in queries if not q["sql"].startswith(CONTROL)]
    commits = sum(q["sql"].startswith("COMMIT") for q in queries)
    return response, statements, commits


def create_call(client, key, *, repeatability_id=None):
    body = json.dumps(
        {
            "targets": [{"rawId": "4:+14255550123", "phoneNumber": {"value": "+14255550123"}}],
            "callbackUri": "https://app.example.com/cb",
            "sourceCallerIdNumber": {"value": "+14255550100"},
        }
    ).encode()
    target = f"/t/acme/calling/callConnections?{API}"
    headers = sign_headers("POST", target, body, key, "testserver/t/acme")
    if repeatability_id:
        headers["Repeatability-Request-ID"] = repeatability_id
        headers["Repeatability-First-Sent"] = formatdate(usegmt=True)
    return send_with(client, "POST", target, headers, body)


@pytest.fixture
def call_id(client, tenant):
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    response = create_call(client, key_of(tenant))
    assert response.status_code == 201, response.content
    return response.json()["callConnectionId"]


@pytest.mark.parametrize(
    ("path", "bound"),
    [
        ("/t/acme/api/v1/tenant", 1),  # tenant, rate plan and keys in one SELECT
        ("/t/acme/calling/callConnections/{id}?" + API, 3),  # + connection, participants
        ("/t/acme/calling/callConnections/{id}/participants?" + API, 3),
    ],
)
def test_an_authenticated_read_costs_its_own_rows_plus_one_statement(
    client, tenant, call_id, path, bound
):
    key = key_of(tenant)
    target = path.format(id=call_id)

    response, statements, commits = counted(lambda: send(client, "GET", target, key=key))

    assert response.status_code == 200, response.content
    assert (len(statements), commits) == (bound, 0), statements


def test_create_call_as_the_sdk_sends_it_is_one_transaction(client, tenant, call_id):
    key = key_of(tenant)

    response, statements, commits = counted(
        lambda: create_call(client, key, repeatability_id=str(uuid.uuid4()))
    )

    assert response.status_code == 201, response.content
    # auth 1, repeatability look-up 1, the new rows' ids, one statement for the 4 INSERTs
    # + the live-call counter's guarded UPDATE (no tenant lock, no COUNT) + the caller-id
    # check + the gateway's NOTIFY, the repeatability row (ON CONFLICT DO NOTHING).
    assert len(statements) == 5, statements
    assert not any("COUNT(" in sql or "FOR " in sql for sql in statements), statements
    assert commits == 1
    assert IdempotentRequest.unscoped.get().status_code == 201


def test_create_call_sets_no_savepoint_and_nudges_inside_its_transaction(client, tenant, call_id):
    key = key_of(tenant)

    with CaptureQueriesContext(connection) as queries:
        response = create_call(client, key, repeatability_id=str(uuid.uuid4()))

    assert response.status_code == 201, response.content
    sql = [q["sql"] for q in queries]
    assert not any(s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) for s in sql), sql
    begin, commit = sql.index("BEGIN"), sql.index("COMMIT")
    # pg_notify in the transaction is delivered at its commit: no NOTIFY round trip after.
    assert [i for i, s in enumerate(sql) if "pg_notify" in s or "NOTIFY" in s] == [commit - 2]
    assert begin < commit == len(sql) - 1


def test_create_call_without_repeatability_takes_no_lock_and_no_count(client, tenant, call_id):
    key = key_of(tenant)

    response, statements, commits = counted(lambda: create_call(client, key))

    assert response.status_code == 201, response.content
    # auth, the ids, the INSERTs + the counter's guarded UPDATE + caller-id check + NOTIFY.
    assert len(statements) == 3, statements
    assert commits == 1


def test_a_resent_create_call_is_replayed_and_a_clashing_one_refused(client, tenant, call_id):
    key, repeat = key_of(tenant), str(uuid.uuid4())
    first = create_call(client, key, repeatability_id=repeat)

    again = create_call(client, key, repeatability_id=repeat)

    assert again.status_code == 201
    assert again.json()["callConnectionId"] == first.json()["callConnectionId"]
    assert again["Repeatability-Result"] == "accepted"
    assert Call.unscoped.count() == 2  # the fixture's and the first
    assert IdempotentRequest.unscoped.count() == 1


def test_a_key_stored_while_we_acted_undoes_our_action_and_replays(
    client, tenant, call_id, monkeypatch
):
    key, repeat = key_of(tenant), str(uuid.uuid4())
    first = create_call(client, key, repeatability_id=repeat)
    calls_before = Call.unscoped.count()
    # As if the first attempt committed between our look-up and our INSERT of the key.
    real_lookup, looked = idempotency._stored, []

    def lookup_that_misses_first(tenant, key):
        looked.append(key)
        return None if len(looked) == 1 else real_lookup(tenant, key)

    monkeypatch.setattr(idempotency, "_stored", lookup_that_misses_first)

    again = create_call(client, key, repeatability_id=repeat)

    assert looked == [repeat, repeat]  # missed, acted, found the key taken, read it
    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Repeatability-Result"] == "accepted"
    assert Call.unscoped.count() == calls_before  # our own call rolled back
    assert IdempotentRequest.unscoped.count() == 1


def test_a_failed_first_attempt_stores_nothing_so_a_retry_acts(client, tenant, call_id):
    key, repeat = key_of(tenant), str(uuid.uuid4())
    Tenant.objects.filter(pk=tenant.pk).update(max_concurrent_calls=1)  # the fixture's call

    refused = create_call(client, key, repeatability_id=repeat)
    Tenant.objects.filter(pk=tenant.pk).update(max_concurrent_calls=10)
    retried = create_call(client, key, repeatability_id=repeat)

    assert refused.status_code >= 400
    assert retried.status_code == 201
    assert Call.unscoped.count() == 2


def test_a_regenerated_key_fails_on_the_next_request_of_another_process(
    sdk_client, tenant, live_server
):
    # The live server is another thread with its own database connection; nothing about
    # a key is cached by validity, so what holds here holds across processes.
    client = sdk_client(key=key_of(tenant))

    with pytest.raises(ResourceNotFoundError):  # authenticated; the call does not exist
        client.get_call_connection("no-such-call").get_call_properties()
    tenant_services.regenerate_access_key(tenant, AccessKey.Name.PRIMARY, actor=None)

    with pytest.raises(ClientAuthenticationError):
        client.get_call_connection("no-such-call").get_call_properties()
    with pytest.raises(ResourceNotFoundError):
        sdk_client(key=key_of(tenant)).get_call_connection("x").get_call_properties()


def test_a_suspension_counts_on_the_next_request(client, tenant):
    key = key_of(tenant)
    assert send(client, "GET", "/t/acme/api/v1/tenant", key=key).status_code == 200

    tenant_services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=None)

    assert send(client, "GET", "/t/acme/api/v1/tenant", key=key).status_code == 403
