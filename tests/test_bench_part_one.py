"""make bench part 1's arithmetic and CPU accounting (bench/api_ratios.py, bench/cpu.py):
a ratio pairs each of our rounds with the floor's round beside it, and the CPU meter sees
the CPU a server's worker processes burn."""

import os
import signal
import subprocess
import sys

import pytest

from bench.api_ratios import median_spread, round_ratios
from bench.cpu import children, process_seconds

# A parent that forks a worker burning about 0.3 s of CPU, then both sleep.
_SERVER = """
import os, time
if os.fork() == 0:
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    print("busy done", flush=True)
    time.sleep(30)
    os._exit(0)
time.sleep(30)
"""


def test_each_round_is_compared_with_its_neighbour_not_with_a_pooled_rate():
    # The background load halves every rate in round 2: the pooled rates would give
    # 150 / 750 = 0.2, the rounds give 0.2 twice, and a floor measured alone in round 2
    # would give 0.4 -- the session-7 swing in miniature.
    ours, floor = [200.0, 100.0], [1000.0, 500.0]
    assert round_ratios(ours, floor) == [0.2, 0.2]
    assert median_spread([0.5, 0.1, 0.3]) == (0.3, 0.1, 0.5)


def test_a_round_without_floor_requests_has_no_ratio():
    ratios = round_ratios([100.0], [0.0])
    assert ratios[0] != ratios[0]  # NaN, not a division error or infinity


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_meter_finds_a_servers_workers_and_their_cpu():
    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "busy done"
        workers = children(server.pid)
        assert len(workers) == 1
        assert process_seconds(workers[0]) >= 0.25
        assert process_seconds(server.pid) < 0.25  # the master only forked and slept
    finally:
        for pid in children(server.pid):
            os.kill(pid, signal.SIGKILL)
        server.kill()
        server.wait(timeout=10)
