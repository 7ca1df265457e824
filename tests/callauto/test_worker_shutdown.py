"""The real `manage.py qcluster` stops within seconds however it is signalled: honcho
(`make run`), systemd and `kill -- -PGID` send SIGTERM to the whole process group, which
deadlocked django-q2's own command until SIGKILL (issue 12, defect 11)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from callauto.management.commands.qcluster import descendants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster():
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "Q_WORKERS": "2", "REDIS_URL": ""}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    for line in process.stdout:
        if "running." in line:
            break
        assert time.monotonic() < deadline, "the cluster did not start"
    # The cluster is the main process, its sentinel, two workers, a monitor and a pusher.
    assert len(descendants(process.pid)) >= 4
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _stops_within(process: subprocess.Popen, seconds: float) -> float:
    started = time.monotonic()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the cluster was still running {seconds} s after the signal")
    return time.monotonic() - started


def _group_is_gone(pgid: int, within: float = 3.0) -> bool:
    """No process of the group is left (processes orphaned by a dead parent are reaped by
    init a moment later, so give them that moment)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_a_sigterm_to_the_process_group_stops_every_process_within_seconds(cluster):
    os.killpg(cluster.pid, signal.SIGTERM)

    _stops_within(cluster, 8)

    assert cluster.returncode == 0
    assert _group_is_gone(cluster.pid)


def test_ctrl_c_then_honchos_sigterm_stops_it_within_seconds(cluster):
    # Ctrl-C reaches the terminal's whole group; honcho then signals each group it started.
    os.killpg(cluster.pid, signal.SIGINT)
    time.sleep(0.2)
    os.killpg(cluster.pid, signal.SIGTERM)

    _stops_within(cluster, 8)

    assert _group_is_gone(cluster.pid)


def test_a_sigterm_to_the_main_process_alone_stops_the_cluster_in_order(cluster):
    os.kill(cluster.pid, signal.SIGTERM)

    _stops_within(cluster, 8)

    output = cluster.stdout.read()
    assert "stopped" in output
    assert "killed" not in output  # the workers finished on their own
    assert _group_is_gone(cluster.pid)
