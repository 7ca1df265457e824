"""The concurrent-call limit as a counter (calls.live_calls): exact under concurrency with
real threads and connections, a slot comes back when a call ends, and drift either way
heals (at once when CreateCall finds the counter full, every minute otherwise)."""

import threading

import pytest
from django.db import connection, transaction

from callauto.errors import AcsError
from calls import call_verbs, live_calls, tasks
from calls.identifiers import Identifier
from calls.models import Call, LiveCalls
from tenants import services as tenant_services
from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+14255550100"


def create(tenant, n=0):
    return call_verbs.create_call(
        Tenant.objects.get(pk=tenant.pk),  # fresh: each request resolves its tenant anew
        targets=[Identifier.phone(f"+1425555{n:04d}")],
        callback_uri="https://app.example.com/cb",
        source_caller_id=CALLER,
    )


def live(tenant):
    return Call.unscoped.filter(tenant=tenant).exclude(state=Call.State.DISCONNECTED).count()


def end(call):
    with transaction.atomic():
        call_verbs.end_call(call, code=0, sub_code=0, message="done")


def counter(tenant):
    return LiveCalls.unscoped.get(tenant=tenant).live


@pytest.fixture
def capped(tenant):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    Tenant.objects.filter(pk=tenant.pk).update(max_concurrent_calls=3)
    return tenant


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_simultaneous_creates_from_many_connections_never_pass_the_cap(capped):
    create(capped)  # one live call already: 2 free slots for 10 racers, twice over
    for _round in range(2):
        start, outcomes = threading.Barrier(10), []

        def racer(n, start=start, outcomes=outcomes):
            try:
                start.wait()
                create(capped, n)
                outcomes.append("created")
            except call_verbs.TooManyCalls:
                outcomes.append("refused")
            finally:
                connection.close()  # each thread has its own database connection

        threads = [threading.Thread(target=racer, args=(n,)) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        assert sorted(outcomes) == ["created"] * 2 + ["refused"] * 8
        assert live(capped) == counter(capped) == 3
        # Free the two slots again through the real verb, so round two races too.
        for call in Call.unscoped.filter(tenant=capped).order_by("-pk")[:2]:
            end(call)
        assert live(capped) == counter(capped) == 1


def test_a_call_that_ends_gives_its_slot_back(capped):
    connections = [create(capped, n) for n in range(3)]
    with pytest.raises(call_verbs.TooManyCalls):
        create(capped, 9)

    end(connections[0].call)

    create(capped, 9)
    assert live(capped) == counter(capped) == 3


def test_a_refused_create_writes_nothing(capped):
    for n in range(3):
        create(capped, n)

    with pytest.raises(AcsError) as caught:
        create(capped, 9)

    assert caught.value.status_code == 429
    assert Call.unscoped.filter(tenant=capped).count() == 3
    assert counter(capped) == 3


def test_a_counter_too_high_is_recounted_before_a_refusal(capped):
    for n in range(3):
        create(capped, n)
    # Ended around the counter (a bulk UPDATE does not go through transitions).
    Call.unscoped.filter(tenant=capped).update(state=Call.State.DISCONNECTED)

    create(capped, 9)

    assert live(capped) == counter(capped) == 1


def test_the_minute_reconciler_fixes_a_counter_too_low(capped, other_tenant):
    for n in range(3):
        create(capped, n)
    LiveCalls.unscoped.filter(tenant=capped).update(live=0)  # drifted: would admit 3 more

    assert tasks.reconcile_live_calls() == 1

    assert counter(capped) == 3
    assert counter(other_tenant) == 0  # every tenant gets its counter
    with pytest.raises(call_verbs.TooManyCalls):
        create(capped, 9)


def test_calls_made_elsewhere_count_and_ended_ones_do_not(capped):
    create(capped)
    Call.unscoped.create(tenant=capped, direction=Call.Direction.INBOUND)
    Call.unscoped.create(
        tenant=capped, direction=Call.Direction.INBOUND, state=Call.State.DISCONNECTED
    )

    assert counter(capped) == live(capped) == 2
    assert live_calls.reconcile() == {}
