"""The delivery loop's two database steps on PostgreSQL, one round trip each.

py-spy of the loop (issue 15) showed its main thread busy 85-100 % with the claim (lock,
window SELECT, UPDATE, disabled endpoints, secrets: five statements in a transaction) and
the record (INSERT, UPDATE per status, in a transaction), each a round trip on a loaded
machine, even at 5 events/s. Here:

- `claim` sends the advisory lock and one `UPDATE … FROM (ranked window) … RETURNING` in
  one message (psycopg's client-side binding sends a multi-statement query with the
  simple protocol, which runs it as one implicit transaction; READ COMMITTED takes the
  UPDATE's snapshot after the lock is granted, as webhooks/batch.py requires). The lanes
  (ordering keys) are chosen in SQL; rows of a disabled endpoint turn dead in the same
  UPDATE; each returned row carries its tenant's live `whsec_` secrets, so the batch's
  Keyring needs no SELECT of its own (a rotation is still seen by the very next claim).
- `record_ok` writes the 2xx attempts (INSERT in a CTE), marks those rows delivered and
  puts back the rows not reached, in one statement (autocommit: no BEGIN / COMMIT); the
  loop sends it in the claim's message (`claim(before=...)`): one round trip per turn.

SQLite keeps the ORM path in webhooks/batch.py.
"""

import json
from datetime import datetime

from django.db import connection

from webhooks.models import Delivery, DeliveryAttempt, DisabledEndpoint, WebhookSecret

D = Delivery.State
DISABLED = "The endpoint is disabled (it answered 410 Gone)."

_FIELDS = Delivery._meta.concrete_fields
_COLUMNS = ", ".join(f"d.{connection.ops.quote_name(f.column)}" for f in _FIELDS)

# `enable_bitmapscan` off for this message only (set_config(..., true): the implicit
# transaction): the pending / delivering look-ups then take plain index scans, which mark
# index entries of rows that left that state dead (kill_prior_tuple) so the next claim skips
# them. A bitmap scan never marks them: every claim visited every dead row again until
# VACUUM ran. EXPLAIN ANALYZE on the bench database after a few runs (36,959 dead
# 'pending' entries over 5,180 pages, no row pending): 150-170 ms per claim with the bitmap
# scan, 0.3 ms from the second plain index scan on. That was most of the loop's main
# thread in py-spy (claim ~80 %) and the tail of part 2's latency.
CLAIM = f"""
SELECT pg_advisory_xact_lock(%(lock)s), set_config('enable_bitmapscan', 'off', true);
WITH pending AS (
    SELECT p.id, p.sequence,
           CASE WHEN p.ordering_key = '' THEN '#' || p.id ELSE p.ordering_key END AS lane
    FROM {Delivery._meta.db_table} p
    WHERE p.state = %(pending)s
      AND (p.ordering_key = '' OR NOT EXISTS (
          SELECT 1 FROM {Delivery._meta.db_table} b
          WHERE b.state = %(delivering)s AND b.ordering_key = p.ordering_key))
), ranked AS (
    SELECT id, lane, row_number() OVER (PARTITION BY lane ORDER BY sequence, id) AS rank
    FROM pending
), heads AS (
    SELECT lane FROM ranked WHERE rank = 1 ORDER BY id LIMIT %(keys)s
), chosen AS (
    SELECT r.id, r.rank FROM ranked r JOIN heads USING (lane)
    WHERE r.rank <= %(per_key)s ORDER BY r.rank, r.id LIMIT %(limit)s
), marked AS (
    SELECT c.id, c.rank, EXISTS (
        SELECT 1 FROM {DisabledEndpoint._meta.db_table} x
        WHERE x.tenant_id = d.tenant_id AND x.url = d.url) AS disabled
    FROM chosen c JOIN {Delivery._meta.db_table} d ON d.id = c.id
)
UPDATE {Delivery._meta.db_table} d
SET state = CASE WHEN m.disabled THEN %(dead)s ELSE %(delivering)s END,
    claimed_at = CASE WHEN m.disabled THEN d.claimed_at ELSE %(token)s END,
    last_error = CASE WHEN m.disabled THEN %(disabled)s ELSE d.last_error END
FROM marked m
WHERE d.id = m.id AND d.state = %(pending)s
RETURNING {_COLUMNS}, m.rank, (
    SELECT json_agg(json_build_array(s.id, s.secret_encrypted) ORDER BY s.created_at DESC)
    FROM {WebhookSecret._meta.db_table} s
    WHERE s.tenant_id = d.tenant_id AND (s.expires_at IS NULL OR s.expires_at > %(token)s)
)
"""


def _hydrate(values: tuple) -> Delivery:
    values = list(values)
    for i, field in enumerate(_FIELDS):
        if hasattr(field, "from_db_value"):
            values[i] = field.from_db_value(values[i], None, connection)
    return Delivery.from_db(connection.alias, [f.attname for f in _FIELDS], values)


def claim(
    *,
    lock: int,
    limit: int,
    per_key: int,
    keys: int,
    token: datetime,
    before: tuple[str, list] | None = None,
) -> tuple[list[Delivery], dict[int, list[tuple[int, str]]]]:
    """Claimed rows in send order (every lane's first, then every lane's second...) and
    each tenant's live secrets as (row id, ciphertext), newest first. `before`: a
    statement (`record_ok_statement`) sent in the same message, ahead of the lock, so
    recording the lanes that ended and claiming the next ones is one round trip; the
    claim's snapshot sees what it wrote (same implicit transaction, a snapshot per
    statement)."""
    params = {
        "lock": lock, "limit": limit, "per_key": per_key, "keys": keys, "token": token,
        "pending": D.PENDING, "delivering": D.DELIVERING, "dead": D.DEAD, "disabled": DISABLED,
    }  # fmt: skip
    with connection.cursor() as cursor:
        sql = CLAIM
        if before is not None:
            # Bound here (client side), then escaped so the claim's binding leaves it alone.
            sql = cursor.mogrify(*before).replace("%", "%%") + ";" + CLAIM
        cursor.execute(sql, params)
        while cursor.nextset():  # the record's, the lock's, then the UPDATE's rows
            pass
        rows = cursor.fetchall()
    rows.sort(key=lambda row: (row[len(_FIELDS)], row[0]))  # rank, pk
    claimed: list[Delivery] = []
    secrets: dict[int, list[tuple[int, str]]] = {}
    for row in rows:
        delivery = _hydrate(row[: len(_FIELDS)])
        if delivery.state != D.DELIVERING:
            continue  # a disabled endpoint's: dead now
        found = row[-1]
        if isinstance(found, str):
            found = json.loads(found)
        secrets[delivery.tenant_id] = [(pk, encrypted) for pk, encrypted in found or []]
        claimed.append(delivery)
    return claimed, secrets


def record_ok_statement(
    ok: list[tuple[Delivery, int, int, str]], unsent: list[int], now: datetime
) -> tuple[str, list] | None:
    """One statement: attempts of the 2xx answers (delivery, status, latency ms, excerpt),
    those deliveries delivered, the `unsent` ids back to pending (None: nothing to do)."""
    parts, params = [], []
    if ok:
        values = ", ".join(["(%s::bigint, %s::bigint, %s::int, %s::int, %s::int, %s)"] * len(ok))
        for row, status, latency, excerpt in ok:
            params += [row.pk, row.tenant_id, row.attempts + 1, status, latency, excerpt]
        parts.append(f"done (id, tenant_id, number, status, latency, excerpt) AS (VALUES {values})")
        parts.append(
            f"attempts AS (INSERT INTO {DeliveryAttempt._meta.db_table} (tenant_id, delivery_id,"
            " number, started_at, latency_ms, status_code, error_class, response_excerpt)"
            " SELECT tenant_id, id, number, %s, latency, status, '', excerpt FROM done)"
        )
        params.append(now)
    if unsent:
        parts.append(
            f"back AS (UPDATE {Delivery._meta.db_table} SET state = %s"
            " WHERE id = ANY(%s) AND state = %s)"
        )
        params += [D.PENDING, unsent, D.DELIVERING]
    if not parts:
        return None
    if ok:
        tail = (
            f"UPDATE {Delivery._meta.db_table} d SET state = %s, delivered_at = %s,"
            " attempts = done.number, last_status = done.status, last_error = ''"
            " FROM done WHERE d.id = done.id"
        )
        params += [D.DELIVERED, now]
    else:
        tail = "SELECT 1"
    return "WITH " + ", ".join(parts) + " " + tail, params


def record_ok(ok: list[tuple[Delivery, int, int, str]], unsent: list[int], now: datetime) -> None:
    statement = record_ok_statement(ok, unsent, now)
    if statement is not None:
        with connection.cursor() as cursor:
            cursor.execute(*statement)
