"""Rows for `make bench-lists`, written by INSERT ... SELECT FROM generate_series: a million
calls in seconds. Each function adds `n` rows for one tenant, spread over the last year
(so "since"/"until" filters select a slice) with a few distinct values per filtered column.
"""

from django.db import connection

CALLS_SQL = """
INSERT INTO calls_call
    (tenant_id, server_call_id, correlation_id, state, direction, source_caller_id,
     source_display_name, to_number, created_at, connected_at, ended_at, end_code,
     end_subcode, end_message, gateway_id, out_of_call_callback_uri, last_event_sequence)
SELECT %(tenant)s, 'bench-' || md5(random()::text || g), gen_random_uuid(),
       CASE WHEN g %% 1000 = 0 THEN 'connected' ELSE 'disconnected' END,
       CASE WHEN g %% 3 = 0 THEN 'inbound' ELSE 'outbound' END,
       '+1425555' || lpad((g %% 10000)::text, 4, '0'), '', '+14255550100', t, t, t,
       (ARRAY[0, 0, 0, 0, 408, 486, 487, 603])[1 + g %% 8], 0, '', '', '', 0
FROM (SELECT g, now() - random() * interval '365 days' AS t
      FROM generate_series(1, %(n)s) AS g) AS rows
"""

# One dialled leg per call (a tenth of them ACS users), for the number filter's
# participant match: '4:+1206555' and 4 digits, 1 call in 10,000 per number.
PARTICIPANTS_SQL = """
INSERT INTO calls_participant
    (tenant_id, call_id, kind, raw_id, role, state, leg_id, invitation_id,
     invitation_timeout, operation_context, operation_callback_uri, source_caller_id,
     is_muted, is_on_hold, dtmf_listening, dtmf_sequence, invited_at, end_message,
     custom_context)
SELECT %(tenant)s, c.id,
       CASE WHEN c.id %% 10 = 0 THEN 'communicationUser' ELSE 'phoneNumber' END,
       CASE WHEN c.id %% 10 = 0 THEN '8:acs:bench_' || md5(c.id::text)
            ELSE '4:+1206555' || lpad((c.id %% 10000)::text, 4, '0') END,
       'target', 'disconnected', gen_random_uuid(), md5(random()::text || c.id), 60, '', '',
       '', false, false, false, 0, c.created_at, '', '{}'
FROM (SELECT id, created_at FROM calls_call WHERE tenant_id = %(tenant)s
      ORDER BY id DESC LIMIT %(n)s) AS c
"""

DELIVERIES_SQL = """
INSERT INTO webhooks_delivery
    (tenant_id, message_id, event_type, payload, ordering_key, sequence, labels, url, state,
     attempts, last_error, created_at)
SELECT %(tenant)s, gen_random_uuid(),
       (ARRAY['CallConnected', 'PlayCompleted', 'CallDisconnected',
              'RecognizeCompleted'])[1 + g %% 4],
       '{}', '', g, '{}',
       'https://app' || (g %% 5) || '.example.com/cb/' || md5(g::text),
       CASE WHEN g %% 500 = 0 THEN 'dead' WHEN g %% 499 = 0 THEN 'retrying' ELSE 'delivered' END,
       1, '', now() - random() * interval '365 days'
FROM generate_series(1, %(n)s) AS g
"""

RECORDINGS_SQL = """
INSERT INTO recordings_recording
    (tenant_id, call_id, call_connection_id, recording_id, state, channel_type, format,
     channel_order, pause_on_start, state_callback_uri, started_by, started_at, end_reason,
     legal_hold)
SELECT %(tenant)s, c.id, '', 'bench-' || md5(random()::text || c.id), 'stopped', 'mixed', 'wav',
       '[]', false, '', 'app', c.created_at, 'stopped', false
FROM (SELECT id, created_at FROM calls_call WHERE tenant_id = %(tenant)s
      ORDER BY id DESC LIMIT %(n)s) AS c
"""

CONTACTS_SQL = """
INSERT INTO reminders_contact
    (tenant_id, name, phone, time_zone, language, consent, external_id, created_at,
     updated_at, area, tags)
SELECT %(tenant)s, 'Contact ' || g, '+1' || (2000000000 + g + %(offset)s)::text, 'UTC',
       'en-US', true, '', now(), now(), '', ''
FROM generate_series(1, %(n)s) AS g
"""

APPOINTMENTS_SQL = """
INSERT INTO reminders_appointment
    (tenant_id, contact_id, plan_id, starts_at, provider, location, status, external_id,
     next_reminder_index, next_attempt_number, created_at, updated_at)
SELECT %(tenant)s, c.id, %(plan)s, now() + (random() - 0.5) * interval '365 days', '', '',
       (ARRAY['scheduled', 'confirmed', 'cancelled', 'reschedule-requested'])[1 + c.id %% 4],
       'bench-' || c.id, 0, 1, now(), now()
FROM (SELECT id FROM reminders_contact WHERE tenant_id = %(tenant)s
      ORDER BY id DESC LIMIT %(n)s) AS c
"""

AUDIT_SQL = """
INSERT INTO tenants_auditentry
    (tenant_id, actor_label, action, target_type, target_id, target_repr, created_at)
SELECT %(tenant)s, 'user' || (g %% 20),
       (ARRAY['phone_number.add', 'access_key.regenerate', 'recording.delete',
              'member.remove'])[1 + g %% 4], 'object', g::text, '',
       now() - random() * interval '365 days'
FROM generate_series(1, %(n)s) AS g
"""


def _run(sql: str, **params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def add_rows(tenant_id: int, plan_id: int, n: int, minor: int, offset: int) -> None:
    """`n` calls and deliveries, `minor` recordings, contacts + appointments and audit
    entries (`offset` keeps contact phones unique across top-ups)."""
    _run(CALLS_SQL, tenant=tenant_id, n=n)
    _run(PARTICIPANTS_SQL, tenant=tenant_id, n=n)
    _run(DELIVERIES_SQL, tenant=tenant_id, n=n)
    _run(RECORDINGS_SQL, tenant=tenant_id, n=minor)
    _run(CONTACTS_SQL, tenant=tenant_id, n=minor, offset=offset)
    _run(APPOINTMENTS_SQL, tenant=tenant_id, n=minor, plan=plan_id)
    _run(AUDIT_SQL, tenant=tenant_id, n=minor)
    for table in ("calls_call", "calls_participant", "webhooks_delivery", "recordings_recording",
                  "reminders_appointment", "tenants_auditentry"):  # fmt: skip
        _run(f"ANALYZE {table}")
