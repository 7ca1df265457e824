"""The real `manage.py run_gateway` process against the test database: nudged by
PostgreSQL NOTIFY, it carries out a command long before its next poll."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from calls import services
from calls.identifiers import Identifier
from calls.models import CarrierCommand
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
    services.create_call(
        tenant,
        targets=[Identifier.phone("+14255550123")],
        callback_uri="http://127.0.0.1:9/cb",
        source_caller_id="+14255550100",
    )
    while CarrierCommand.unscoped.filter(state="pending").exists():
        assert time.monotonic() - started < 10, "the gateway did not pick the command up"
        time.sleep(0.05)

    assert time.monotonic() - started < 5  # its poll interval is 30 s
