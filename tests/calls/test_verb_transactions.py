"""The verbs a campaign app calls from its callback handler (play, recognize, hang_up) run
inside the handler's transaction without a savepoint of their own (calls/verb_atomic.py):
their refusals come before any write, so a handler that catches one goes on with a clean
transaction; alone, a verb still commits on its own."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from calls import call_verbs, live_calls, media_verbs
from calls.gateway import Gateway
from calls.identifiers import Identifier
from calls.lookups import CallNotActive
from calls.models import Call, CallConnection, MediaOperation, SimulatedCallee
from calls.verb_atomic import rolled_back_whole
from carrier.interface import VirtualClock
from carrier.media.play_sources import PlaySource
from carrier.simulated.driver import SimulatedCarrier
from tenants import services as tenant_services
from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

CALLER, CALLEE = "+14255550100", "+14255550123"
HELLO = [PlaySource(kind="text", text="Hello")]


@pytest.fixture
def answered(tenant) -> CallConnection:
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=f"4:{CALLEE}", answer_after=1.0)
    clock = VirtualClock()
    gateway = Gateway(SimulatedCarrier(clock), batch_seconds=60)
    conn = call_verbs.create_call(
        tenant, targets=[Identifier.phone(CALLEE)], callback_uri="http://127.0.0.1:9/cb",
        source_caller_id=CALLER,
    )  # fmt: skip
    gateway.run_commands()
    clock.advance_to(1.5)
    gateway.ingest_events()
    conn.refresh_from_db()
    assert conn.state == CallConnection.State.CONNECTED
    return conn


def _sql(queries) -> list[str]:
    return [q["sql"] for q in queries]


def test_verbs_in_the_callers_transaction_take_no_savepoint(tenant, answered):
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        media_verbs.recognize(
            tenant, answered.call_connection_id, target=Identifier.phone(CALLEE), prompts=HELLO
        )
        media_verbs.play(tenant, answered.call_connection_id, sources=HELLO, play_to=[])
        call_verbs.hang_up(tenant, answered.call_connection_id)

    assert not [s for s in _sql(queries) if "SAVEPOINT" in s]
    assert Call.unscoped.get(pk=answered.call_id).state == Call.State.DISCONNECTED


def test_a_refused_verb_leaves_the_callers_transaction_usable(tenant, answered):
    call_verbs.hang_up(tenant, answered.call_connection_id)  # alone: its own transaction

    with transaction.atomic():
        with pytest.raises(CallNotActive):
            media_verbs.play(tenant, answered.call_connection_id, sources=HELLO, play_to=[])
        with pytest.raises(CallNotActive):
            call_verbs.hang_up(tenant, answered.call_connection_id)
        Tenant.objects.filter(pk=tenant.pk).update(name="Still writable")

    assert Tenant.objects.get(pk=tenant.pk).name == "Still writable"
    assert not MediaOperation.unscoped.filter(call_id=answered.call_id).exists()


def test_a_refused_create_call_undoes_only_its_own_writes_in_the_callers_transaction(
    tenant, answered
):
    # create_call refuses after writing (its slot is taken last), so in a caller's
    # transaction it keeps a savepoint: the caller goes on without the refused call.
    Tenant.objects.filter(pk=tenant.pk).update(max_concurrent_calls=1)  # `answered` has it
    tenant.refresh_from_db()
    calls_before = Call.unscoped.count()

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        with pytest.raises(call_verbs.TooManyCalls):
            call_verbs.create_call(
                tenant, targets=[Identifier.phone("+14255550124")],
                callback_uri="http://127.0.0.1:9/cb", source_caller_id=CALLER,
            )  # fmt: skip
        Tenant.objects.filter(pk=tenant.pk).update(name="Still writable")

    assert [s for s in _sql(queries) if s.startswith("ROLLBACK TO SAVEPOINT")]
    assert Tenant.objects.get(pk=tenant.pk).name == "Still writable"
    assert Call.unscoped.count() == calls_before


def test_create_call_in_a_transaction_rolled_back_whole_takes_no_savepoint(tenant):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    live_calls.reconcile()  # the counter row exists (its first use recounts in a savepoint)

    with CaptureQueriesContext(connection) as queries, transaction.atomic(), rolled_back_whole():
        call_verbs.create_call(
            tenant, targets=[Identifier.phone(CALLEE)],
            callback_uri="http://127.0.0.1:9/cb", source_caller_id=CALLER,
        )  # fmt: skip

    assert not [s for s in _sql(queries) if "SAVEPOINT" in s]
    assert Call.unscoped.filter(tenant=tenant).count() == 1
