"""The real `manage.py run_gateway` process against the test database: nudged by
PostgreSQL NOTIFY, it carries out a command long before its next poll; a command its
driver fails on fails that call only, while the process goes on carrying the others."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from calls import call_verbs
from calls.identifiers import Identifier
from calls.models import Call, CallEvent, CarrierCommand, SimulatedCallee
from carrier.simulated.driver import FAULT
from tenants import services as tenant_services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gateway_process(settings):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_gateway", "--poll", "30", "--id", "gateway-test"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert "simulated carrier up" in process.stdout.readline()
    # What it logs from now on (read aside, so a full pipe never blocks it).
    process.output = []
    threading.Thread(target=lambda: process.output.extend(process.stdout), daemon=True).start()
    time.sleep(0.5)  # LISTEN is set up right after the banner
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        assert process.wait(timeout=20) == 0  # a clean stop on SIGTERM
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_a_nudged_gateway_dials_without_waiting_for_its_poll(tenant, gateway_process):
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)

    started = time.monotonic()
    call_verbs.create_call(
        tenant,
        targets=[Identifier.phone("+14255550123")],
        callback_uri="http://127.0.0.1:9/cb",
        source_caller_id="+14255550100",
    )
    while CarrierCommand.unscoped.filter(state="pending").exists():
        assert time.monotonic() - started < 10, "the gateway did not pick the command up"
        time.sleep(0.05)

    assert time.monotonic() - started < 5  # its poll interval is 30 s


def wait_for(condition, seconds: float = 15) -> None:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.1)


def state_of(connection) -> str:
    return Call.unscoped.values_list("state", flat=True).get(pk=connection.call_id)


def events_of(connection) -> list[str]:
    rows = CallEvent.unscoped.filter(connection_id=connection.pk).order_by("sequence_number")
    return list(rows.values_list("event_type", flat=True))


def test_a_command_the_driver_fails_on_fails_its_call_while_another_tenants_connects(
    tenant, other_tenant, gateway_process
):
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    tenant_services.add_phone_number(other_tenant, "+14255550300", actor=None)
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id="4:+14255550666", outcome=FAULT)

    def call(owner, caller: str, callee: str):
        return call_verbs.create_call(
            owner, targets=[Identifier.phone(callee)], callback_uri="http://127.0.0.1:9/cb",
            source_caller_id=caller,
        )  # fmt: skip

    # Placed at the same moment: the gateway takes both in one batch.
    doomed = call(tenant, "+14255550100", "+14255550666")
    fine = call(other_tenant, "+14255550300", "+14255550301")

    wait_for(lambda: state_of(doomed) == "disconnected" and state_of(fine) == "connected")
    assert events_of(doomed) == ["CreateCallFailed"]
    assert events_of(fine)[0] == "CallConnected"
    failed = CallEvent.unscoped.get(connection_id=doomed.pk).data["resultInformation"]
    assert failed["code"] == 500
    assert CarrierCommand.unscoped.get(call_id=doomed.call_id).state == "failed"
    # Still up, and still carrying calls: the failing tenant's next call connects too.
    assert gateway_process.poll() is None
    again = call(tenant, "+14255550100", "+14255550123")
    wait_for(lambda: state_of(again) == "connected")
    assert gateway_process.poll() is None
    log = "".join(gateway_process.output)
    assert "ERROR calls.gateway: gateway gateway-test: dial command" in log
    assert "ScriptedFault: scripted driver fault dialling 4:+14255550666" in log


def test_the_gateway_carries_on_after_losing_its_database_connection(tenant, gateway_process):
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)

    def call(callee: str):
        return call_verbs.create_call(
            tenant, targets=[Identifier.phone(callee)], callback_uri="http://127.0.0.1:9/cb",
            source_caller_id="+14255550100",
        )  # fmt: skip

    first = call("+14255550123")
    wait_for(lambda: state_of(first) == "connected")

    # The database drops the gateway's connections (a restart, a failover, an admin).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    time.sleep(3)  # its nudge listener reconnects after 2 s
    second = call("+14255550124")

    # Its next step fails on the dead connection; it logs that and goes on with a new one
    # (40 s: even with the nudge lost, its 30 s poll finds the work).
    wait_for(lambda: state_of(second) == "connected", seconds=40)
    assert gateway_process.poll() is None
    assert "a step failed; carrying on" in "".join(gateway_process.output)
