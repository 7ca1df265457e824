"""What the delivery loop's main thread sends to PostgreSQL per batch (issue 15): one
round trip to claim (lock + UPDATE … RETURNING, with the signing secrets) and one to
record, whatever the batch's size. The loop's throughput and latency hang on these."""

from concurrent import futures
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.webhooks.test_delivery_loop import publish, sequences_per_key
from webhooks import batch, keyring, signing
from webhooks.loop import DeliveryLoop
from webhooks.models import Delivery, DisabledEndpoint

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL claim"),
]

D = Delivery.State
KEYS = [f"connection:{n}" for n in range(10)]


@pytest.fixture(autouse=True)
def _loops_on(settings):
    settings.DELIVERY_LOOPS = 1
    # The JWT key is re-read 30 s after it was read: a read left by an earlier test could
    # fall due between two steps of a count test and add a SELECT to the one counted.
    keyring._jwt_key.clear()
    keyring._tokens.clear()


def test_a_claim_is_one_round_trip_whatever_its_size(tenant, callbacks):
    publish(tenant, callbacks.url, KEYS, per_key=5)
    signing.webhook_secrets(tenant)  # the tenant's secret exists, as after its first callback

    with CaptureQueriesContext(connection) as queries:
        rows = batch.claim(50)

    assert len(rows) == 50
    assert len(queries) == 1, [q["sql"][:80] for q in queries]  # no BEGIN / COMMIT either
    assert {row.state for row in rows} == {D.DELIVERING}
    assert set(Delivery.unscoped.values_list("state", flat=True)) == {D.DELIVERING}
    # Send order: every key's first, then every key's second... each key in sequence.
    assert [row.sequence for row in rows] == [n for n in range(1, 6) for _ in KEYS]
    assert all(row.secrets for row in rows)  # the keyring needs no SELECT of its own


def test_a_claim_takes_the_first_free_lanes_only(tenant, callbacks):
    publish(tenant, callbacks.url, KEYS[:4], per_key=3)
    busy = batch.claim(1, keys=1)  # connection:0's first event is in flight

    rows = batch.claim(100, keys=2)

    assert [row.ordering_key for row in busy] == ["connection:0"]
    assert sorted({row.ordering_key for row in rows}) == ["connection:1", "connection:2"]
    assert [row.sequence for row in rows] == [1, 1, 2, 2, 3, 3]
    assert {row.ordering_key for row in batch.claim(100)} == {"connection:3"}


def test_a_claim_kills_the_rows_of_a_disabled_endpoint(tenant, callbacks):
    publish(tenant, "https://gone.example/cb", ["connection:gone"], per_key=2)
    publish(tenant, callbacks.url, ["connection:ok"])
    DisabledEndpoint.unscoped.create(tenant=tenant, url="https://gone.example/cb", reason="410")

    rows = batch.claim(100)

    assert [row.ordering_key for row in rows] == ["connection:ok"]
    gone = Delivery.unscoped.filter(ordering_key="connection:gone")
    assert {(d.state, d.last_error[:30]) for d in gone} == {
        (D.DEAD, "The endpoint is disabled (it a")
    }


def test_loose_deliveries_are_a_lane_each(tenant, callbacks):
    publish(tenant, callbacks.url, [""], per_key=5)  # no ordering key: no order owed

    rows = batch.claim(100, keys=3)

    assert len(rows) == 3


def test_recording_a_batch_is_one_round_trip_whatever_its_size(tenant, callbacks):
    publish(tenant, callbacks.url, KEYS, per_key=5)
    rows = batch.claim(50)
    sent = batch.send_all(DeliveryLoop().client, rows, budget=60)
    sent.unsent, sent.outcomes = [row for row, _ in sent.outcomes[-5:]], sent.outcomes[:-5]

    with CaptureQueriesContext(connection) as queries:
        batch.record_all(sent)

    assert len(queries) == 1, [q["sql"][:80] for q in queries]
    delivered = Delivery.unscoped.filter(state=D.DELIVERED)
    assert delivered.count() == 45
    assert Delivery.unscoped.filter(state=D.PENDING).count() == 5
    assert {(d.attempts, d.last_status) for d in delivered} == {(1, 200)}
    assert {(d.attempt_log.get().number, d.attempt_log.get().status_code) for d in delivered} == {
        (1, 200)
    }


def test_a_loop_step_is_two_statements_once_warm(tenant, callbacks):
    loop = DeliveryLoop(batch_size=50)
    publish(tenant, callbacks.url, KEYS, per_key=5)
    loop.step()  # makes the tenant's secret and the JWT key, promotes due retries
    loop._promoted_at = float("inf")  # the once-a-second promotion is not per batch
    publish(tenant, callbacks.url, KEYS, per_key=5, start=6)

    with CaptureQueriesContext(connection) as queries:
        held = loop.step()

    assert held == 50
    assert len(queries) == 2, [q["sql"][:80] for q in queries]  # claim, record


def test_a_running_loop_records_and_claims_in_one_round_trip(tenant, callbacks, settings):
    settings.DELIVERY_BATCH_SECONDS = 60  # a slow first lane must not leave rows unsent
    loop = DeliveryLoop(batch_size=50)
    loop._promoted_at = float("inf")
    signing.webhook_secrets(tenant)
    publish(tenant, callbacks.url, KEYS, per_key=2)
    pool = ThreadPoolExecutor(loop.lanes)
    try:
        loop.pump(pool)  # the first 8 keys' rows (both of each), one lane per key
        futures.wait(loop._running)
        first = set(Delivery.unscoped.filter(state=D.DELIVERING).values_list("pk", flat=True))

        with CaptureQueriesContext(connection) as queries:
            loop.pump(pool)  # records those 8 lanes, claims the 2 keys left

        assert len(queries) == 1, [q["sql"][:80] for q in queries]
        assert set(Delivery.unscoped.filter(state=D.DELIVERED).values_list("pk", flat=True)) == (
            first
        )
        assert len(loop._running) == len(KEYS) - loop.lanes
        futures.wait(loop._running)
        loop._settle()
    finally:
        pool.shutdown()
    assert sequences_per_key(callbacks) == {key: [1, 2] for key in KEYS}


@pytest.mark.parametrize("status", [200, 500])
def test_an_answer_with_a_nul_character_is_recorded(tenant, callbacks, status):
    callbacks.status = status
    callbacks.reply_to = lambda body: b"ok\x00then"
    (made,) = publish(tenant, callbacks.url)

    DeliveryLoop().step()

    made.refresh_from_db()
    assert made.state == (D.DELIVERED if status == 200 else D.RETRYING)
    assert made.attempt_log.get().response_excerpt == "ok\ufffdthen"
