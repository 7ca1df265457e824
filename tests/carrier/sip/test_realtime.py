"""MEDIA_REALTIME_PRIORITY (issue 18): the SIP loop thread, which runs the media clock,
asks for SCHED_FIFO. Applied when permitted (root here), checked on the thread's native
id; refused (a process without CAP_SYS_NICE), a warning and the clock runs as before."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tenants import services as tenant_services
from tenants import trunks
from tests.calls.sip_gateway import SipGateway
from tests.carrier.sip.sipp import carrier

ROOT = Path(__file__).resolve().parents[3]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_FIFO needs root here")


def policy_of(native_id: int) -> int:
    return os.sched_getscheduler(native_id) & ~os.SCHED_RESET_ON_FORK


def wait_ticks(driver, at_least: int = 5) -> None:
    deadline = time.monotonic() + 5
    while driver.clock.ticks < at_least:
        assert time.monotonic() < deadline, "the media clock does not tick"
        time.sleep(0.02)


@as_root
def test_the_media_clock_thread_runs_real_time_when_asked():
    with carrier(realtime_priority=10) as driver:
        wait_ticks(driver)
        thread = driver._thread.native_id
        assert policy_of(thread) == os.SCHED_FIFO
        assert os.sched_getparam(thread).sched_priority == 10
        assert os.sched_getscheduler(thread) & os.SCHED_RESET_ON_FORK
        assert driver.status()["clock_realtime"] is True

        # A thread started from the loop (a stream hub, the speech pool's workers) is
        # ordinary again: CPU-bound work never runs real-time.
        async def child_policy() -> int:
            seen: list[int] = []
            child = threading.Thread(target=lambda: seen.append(policy_of(0)))
            child.start()
            child.join()
            return seen[0]

        assert driver._run(child_policy()) == os.SCHED_OTHER
    assert policy_of(0) == os.SCHED_OTHER  # the test's own thread was never touched


def test_the_setting_is_off_by_default():
    with carrier() as driver:
        wait_ticks(driver)
        assert policy_of(driver._thread.native_id) == os.SCHED_OTHER
        assert driver.status()["clock_realtime"] is False


REFUSED = """
import json, logging, os, time
logging.basicConfig(level=logging.WARNING)
from tests.carrier.sip.sipp import carrier
with carrier(realtime_priority=10) as driver:
    time.sleep(0.5)
    print(json.dumps({"policy": os.sched_getscheduler(driver._thread.native_id),
                      "realtime": driver.status()["clock_realtime"],
                      "ticks": driver.clock.ticks}))
"""


@as_root
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is missing")
def test_a_refused_real_time_request_warns_and_the_clock_runs_on():
    # A root process whose bounding set lacks CAP_SYS_NICE: the kernel says EPERM.
    done = subprocess.run(
        ["setpriv", "--bounding-set", "-sys_nice", sys.executable, "-c", REFUSED],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["policy"] == os.SCHED_OTHER
    assert seen["realtime"] is False
    assert seen["ticks"] >= 10  # 0.5 s of 20 ms ticks, give or take the load
    assert "could not be made real-time" in done.stderr
    assert "Operation not permitted" in done.stderr


@as_root
@pytest.mark.django_db(transaction=True)
def test_the_gateway_setting_reaches_each_trunks_media_clock(tenant, settings):
    settings.SIP_PORT_BASE = 0
    settings.SIP_RTP_PORT_MIN, settings.SIP_RTP_PORT_MAX = 30000, 40000
    settings.MEDIA_REALTIME_PRIORITY = 7
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    trunk = trunks.save_trunk(tenant, actor=None, name="T", proxy_host="127.0.0.1",
                              proxy_port=9, phone_numbers=["+14255550100"])  # fmt: skip
    harness = SipGateway()
    try:
        harness.sync()
        driver = harness.fleet.carrier(trunk.pk)
        wait_ticks(driver)
        assert policy_of(driver._thread.native_id) == os.SCHED_FIFO
        assert os.sched_getparam(driver._thread.native_id).sched_priority == 7
    finally:
        harness.close()
