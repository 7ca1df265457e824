"""The delivery loop (webhooks/loop.py, webhooks/batch.py) against a real HTTP receiver and
PostgreSQL: order per connection, at least once, signatures, batching, NOTIFY wake-up."""

import threading
import time
from collections import defaultdict
from datetime import timedelta

import jwt
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks import Webhook

from tests.receiver import CallbackReceiver
from webhooks import batch, delivery, keyring, outbox, signing
from webhooks.loop import DeliveryLoop
from webhooks.models import Delivery, DisabledEndpoint

pytestmark = pytest.mark.django_db(transaction=True)

D = Delivery.State


@pytest.fixture(autouse=True)
def _loops_on(settings):
    settings.DELIVERY_LOOPS = 1  # publishing queues no task: a loop must find the rows
    # Each test starts with an empty database: forget the last one's JWT key and tokens.
    keyring._jwt_key.clear()
    keyring._tokens.clear()


def publish(tenant, url, keys=("connection:1",), per_key=1, start=1):
    """`per_key` events on each key, one transaction each, as calls.events.emit does."""
    made = []
    for sequence in range(start, start + per_key):
        for key in keys:
            with transaction.atomic():
                made.append(
                    outbox.publish(
                        tenant_id=tenant.pk, url=url, event_type="BenchEvent",
                        payload={"key": key, "seq": sequence}, ordering_key=key,
                        sequence=sequence,
                    )
                )  # fmt: skip
    return made


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def drain(loop: DeliveryLoop, rounds: int = 100) -> None:
    for _ in range(rounds):
        if not loop.step():
            return
    raise AssertionError("the loop never ran out of work")


def sequences_per_key(receiver) -> dict[str, list[int]]:
    seen = defaultdict(list)
    for event in receiver.events:
        seen[event["key"]].append(event["seq"])
    return seen


def test_a_loop_sends_everything_in_order_per_connection_each_signed(tenant, callbacks):
    keys = [f"connection:{n}" for n in range(3)]
    made = publish(tenant, callbacks.url, keys, per_key=30)

    drain(DeliveryLoop(batch_size=25))

    assert sequences_per_key(callbacks) == {key: list(range(1, 31)) for key in keys}
    assert len({r["headers"]["webhook-id"] for r in callbacks.requests}) == len(made)
    assert set(Delivery.unscoped.values_list("state", "attempts")) == {(D.DELIVERED, 1)}
    assert all(d.attempt_log.get().status_code == 200 for d in Delivery.unscoped.all())
    secret = signing.webhook_secrets(tenant)[0]
    public = jwt.PyJWKSet.from_dict(signing.jwks())
    for request in callbacks.requests:
        Webhook(secret).verify(request["raw"], request["headers"])
        token = request["headers"]["Authorization"].removeprefix("Bearer ")
        kid = jwt.get_unverified_header(token)["kid"]
        jwt.decode(token, public[kid].key, algorithms=["RS256"],
                   audience=signing.audience(tenant), issuer=signing.issuer())  # fmt: skip


def test_a_batch_costs_a_few_statements_whatever_its_size(tenant, callbacks):
    publish(tenant, callbacks.url, [f"connection:{n}" for n in range(10)], per_key=5)
    loop = DeliveryLoop(batch_size=50)
    loop.step()  # the first batch makes the tenant's secret and the JWT key
    publish(tenant, callbacks.url, [f"connection:{n}" for n in range(10)], per_key=5, start=6)

    with CaptureQueriesContext(connection) as queries:
        held = loop.step()

    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    statements = [q for q in queries if not q["sql"].startswith(control)]
    assert held == 50
    # PostgreSQL: claim (lock + UPDATE … RETURNING with the secrets), record, maybe the
    # due-retry promotion (test_delivery_statements.py has the exact counts). SQLite:
    # claim: select, update, disabled endpoints; secrets; record: INSERT, UPDATE; promotion.
    bound = 3 if connection.vendor == "postgresql" else 7
    assert len(statements) <= bound, [q["sql"][:80] for q in statements]


def test_a_failed_callback_is_retried_and_the_next_ones_still_go(tenant, callbacks):
    callbacks.script = [500]
    first, *_ = publish(tenant, callbacks.url, per_key=3)
    loop = DeliveryLoop()

    drain(loop)

    first.refresh_from_db()
    assert (first.state, first.attempts, first.last_status) == (D.RETRYING, 1, 500)
    assert sorted(Delivery.unscoped.values_list("state", flat=True)) == [
        D.DELIVERED, D.DELIVERED, D.RETRYING
    ]  # fmt: skip
    Delivery.unscoped.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    loop._promoted_at = 0  # the loop looks for due retries once a second

    drain(loop)

    first.refresh_from_db()
    assert (first.state, first.attempts) == (D.DELIVERED, 2)
    assert [a.status_code for a in first.attempt_log.all()] == [500, 200]


def test_410_disables_the_endpoint_for_the_rest_of_the_batch_and_after(tenant, callbacks):
    callbacks.script = [410]
    publish(tenant, callbacks.url, per_key=3)

    drain(DeliveryLoop())

    assert DisabledEndpoint.objects.for_tenant(tenant).get().url == callbacks.url
    assert set(Delivery.unscoped.values_list("state", flat=True)) == {D.DEAD}
    assert len(callbacks.requests) == 1


def test_what_a_killed_loop_claimed_is_sent_once_the_lease_runs_out(tenant, callbacks):
    publish(tenant, callbacks.url, per_key=4)
    claimed = batch.claim(2)  # ... and the process dies before sending them
    loop = DeliveryLoop()

    assert [row.sequence for row in claimed] == [1, 2]
    assert loop.step() == 0  # the connection is busy: its next events must wait
    assert delivery.sweep(timezone.now() + timedelta(minutes=5))["released"] == 2
    drain(loop)

    assert sequences_per_key(callbacks) == {"connection:1": [1, 2, 3, 4]}


def test_what_a_batch_did_not_reach_in_time_goes_back_in_line(tenant, callbacks):
    publish(tenant, callbacks.url, per_key=5)
    callbacks.delay = 0.2
    rows = batch.claim(10)

    sent = batch.send_all(DeliveryLoop().client, rows, budget=0.1)
    batch.record_all(sent)

    assert 1 <= len(sent.outcomes) < 5
    assert [row.sequence for row in sent.unsent] == list(range(len(sent.outcomes) + 1, 6))
    assert set(Delivery.unscoped.filter(sequence__gt=len(sent.outcomes)).values_list(
        "state", flat=True)) == {D.PENDING}  # fmt: skip
    callbacks.delay = 0
    drain(DeliveryLoop())
    assert sequences_per_key(callbacks) == {"connection:1": [1, 2, 3, 4, 5]}


def test_a_rotated_secret_signs_the_very_next_batch(tenant, callbacks):
    publish(tenant, callbacks.url)
    loop = DeliveryLoop()
    drain(loop)
    new = signing.rotate_webhook_secret(tenant, actor=None)  # as the portal, any process
    publish(tenant, callbacks.url, start=2)

    drain(loop)

    last = callbacks.requests[-1]
    Webhook(new).verify(last["raw"], last["headers"])
    assert len(last["headers"]["webhook-signature"].split()) == 2  # old and new overlap


def run_in_thread(loop: DeliveryLoop) -> threading.Thread:
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    return thread


def test_two_loops_at_once_keep_order_and_send_each_event_once(tenant, callbacks):
    loops = [DeliveryLoop(batch_size=7, poll=0.05) for _ in range(2)]
    threads = [run_in_thread(loop) for loop in loops]
    keys = [f"connection:{n}" for n in range(4)]
    try:
        made = publish(tenant, callbacks.url, keys, per_key=25)
        wait_for(lambda: len(callbacks.requests) >= len(made), seconds=30)
    finally:
        for loop in loops:
            loop.stop()
        for thread in threads:
            thread.join(10)

    assert sequences_per_key(callbacks) == {key: list(range(1, 26)) for key in keys}
    assert len(callbacks.requests) == len(made)


def test_a_notify_wakes_an_idle_loop_at_once(tenant, callbacks):
    loop = DeliveryLoop(poll=30)  # without the NOTIFY it would sleep for 30 s
    thread = run_in_thread(loop)
    try:
        time.sleep(0.5)  # listening and idle
        began = time.monotonic()
        publish(tenant, callbacks.url)
        wait_for(lambda: callbacks.requests, seconds=5)
        waited = time.monotonic() - began
    finally:
        loop.stop()
        publish(tenant, "http://127.0.0.1:9/", keys=("wake",))  # a NOTIFY: it sees the stop
        thread.join(10)

    assert waited < 2


def test_a_slow_receiver_holds_up_its_own_connection_only(tenant, callbacks):
    slow = CallbackReceiver()
    slow.delay = 2.0  # each answer takes 2 s
    try:
        publish(tenant, slow.url, keys=("connection:slow",), per_key=2)
        publish(tenant, callbacks.url, keys=("connection:fast",), per_key=3)
        loop = DeliveryLoop(batch_size=10)
        stepping = threading.Thread(target=loop.step, daemon=True)
        stepping.start()

        wait_for(lambda: len(callbacks.requests) == 3, seconds=10)
        slow_seen = len(slow.requests)
        stepping.join(15)
        drain(loop)  # the slow one's second event was put back: past the batch's budget
    finally:
        slow.close()

    assert slow_seen == 1  # the fast connection was served while the slow one waited
    assert sequences_per_key(callbacks) == {"connection:fast": [1, 2, 3]}
    assert [e["seq"] for e in slow.events] == [1, 2]


def test_a_running_loop_sends_a_new_event_while_an_earlier_lane_is_still_waiting(tenant, callbacks):
    """No batch barrier: a connection's event published while another connection's POST
    hangs goes out at once (a barrier loop would hold it until the slow answer came)."""
    slow = CallbackReceiver()
    slow.delay = 3.0
    loop = DeliveryLoop(poll=0.1)
    thread = run_in_thread(loop)
    try:
        publish(tenant, slow.url, keys=("connection:slow",))
        wait_for(lambda: slow.requests, seconds=5)  # in flight, unanswered for 3 s
        began = time.monotonic()
        publish(tenant, callbacks.url, keys=("connection:fast",), per_key=2)
        wait_for(lambda: len(callbacks.requests) == 2, seconds=10)
        waited = time.monotonic() - began
        wait_for(lambda: Delivery.unscoped.filter(state=D.DELIVERED).count() == 3, seconds=10)
    finally:
        loop.stop()
        thread.join(10)
        slow.close()

    assert waited < 1.5, waited
    assert sequences_per_key(callbacks) == {"connection:fast": [1, 2]}
    assert not thread.is_alive()
