"""Issue 17, item 2: examples/quickstart.py, run as a user runs it (a separate process with
the SDK and its own callback receiver), against the live server and the simulated carrier."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from calls.models import SimulatedCallee
from tenants import services as tenant_services
from tests.conftest import key_of

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
CALLER, CALLEE = "+14255550100", "+14255550123"


def run(live_server, tenant, gateway, *extra: str) -> subprocess.CompletedProcess:
    """Run the example while the carrier's clock moves on, until the example ends."""
    connection_string = f"endpoint={live_server.url}/t/{tenant.slug}/;accesskey={key_of(tenant)}"
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--connection-string", connection_string,
         "--from", CALLER, "--to", CALLEE, "--timeout", "15", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        gateway.advance(0.5)  # the callee answers, prompts play, keys are pressed
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
    stdout, stderr = process.communicate(timeout=10)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_the_quick_start_connects_plays_collects_a_key_and_hangs_up(live_server, tenant, gateway):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=f"4:{CALLEE}", keys=[[1, "1", "prompt"]])

    done = run(live_server, tenant, gateway)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "event: CallConnected" in done.stdout
    assert "event: PlayCompleted" in done.stdout
    assert "The callee pressed" in done.stdout
    assert done.stdout.rstrip().endswith("Hung up.")


def test_the_quick_start_says_when_no_key_was_pressed(live_server, tenant, gateway):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)

    done = run(live_server, tenant, gateway)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "No key pressed" in done.stdout
