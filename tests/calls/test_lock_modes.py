"""Row locks taken as mutexes (the tenant while a call is created or a campaign dials)
must not stall the tenant's other writes: every tenant-scoped INSERT checks its foreign
key with FOR KEY SHARE on the tenant row, which a plain FOR UPDATE blocks until the
locker commits (the campaign bench showed callbacks queueing behind each dispatcher
tick). The lockers take FOR NO KEY UPDATE, which still excludes each other."""

import threading

import psycopg
import pytest
from django.db import connection, transaction

from calls import call_verbs
from calls.identifiers import Identifier
from reminders.models import Contact
from tenants import services as tenant_services

pytestmark = pytest.mark.django_db(transaction=True)

CALLER, CALLEE = "+14255550100", "+14255550123"


def insert_from_another_session(tenant_id: int) -> str:
    """INSERT a row that references the tenant from a separate connection, giving up
    after 2 s of waiting for a lock; return "ok" or the error."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    try:
        with psycopg.connect(**params, autocommit=True) as other:
            other.execute("SET lock_timeout = '2s'")
            other.execute(
                "INSERT INTO reminders_contact (tenant_id, name, phone, time_zone, language,"
                " consent, external_id, created_at, updated_at, tags, area) VALUES (%s,"
                " 'Lock test', '+14255550999', 'UTC', '', true, '', now(), now(), '', '')",
                [tenant_id],
            )
        return "ok"
    except psycopg.Error as exc:
        return str(exc)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_creating_a_call_does_not_stall_the_tenants_other_inserts(tenant, callbacks):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    outcome = []
    with transaction.atomic():  # the create's tenant lock is held until this commits
        call_verbs.create_call(
            tenant, targets=[Identifier.phone(CALLEE)], callback_uri=callbacks.url,
            source_caller_id=CALLER,
        )  # fmt: skip
        other = threading.Thread(
            target=lambda: outcome.append(insert_from_another_session(tenant.pk))
        )
        other.start()
        other.join(10)

    assert outcome == ["ok"]
    assert Contact.unscoped.filter(tenant=tenant, name="Lock test").exists()
