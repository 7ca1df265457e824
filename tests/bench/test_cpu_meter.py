"""bench/cpu.py: the CPU a process group spent is counted, including a child that exited."""

import os
import subprocess
import sys

from bench.cpu import CpuMeter, per_call_table

# Burns 0.4 s of CPU, then idles a moment before it exits (the meter samples it meanwhile).
BURN = (
    "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
    "time.sleep(0.6)\n"
)


def test_a_groups_cpu_is_counted_even_after_its_child_exited():
    # A leader in its own group whose child burns 0.4 s of CPU and exits before the leader.
    leader = subprocess.Popen(
        [sys.executable, "-c",
         f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {BURN!r}])\n"
         "time.sleep(30)"],
        start_new_session=True,
    )  # fmt: skip
    try:
        meter = CpuMeter({"burner": leader.pid}, database="no-such-database")
        for _ in range(100):
            meter.sample()
            if meter.totals().get("burner", 0) >= 0.35:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        # Once the child is reaped its time is in the leader's cutime: not counted twice.
        subprocess.run(["sleep", "1"], check=True)
        meter.sample()
        assert 0.35 <= meter.totals()["burner"] < 0.8  # twice would be >= 0.8
        assert "postgresql" not in meter.totals()
    finally:
        leader.kill()
        leader.wait()


def test_the_table_gives_ms_per_call_and_the_cores_ceiling():
    rows = per_call_table({"web": 2.0, "gateway": 1.0}, calls=10, wall=5.0)
    assert rows[2] == "| web | 2 | 0.40 | 200 |"
    assert rows[-1].startswith("| all | 3 | 0.60 of ")
    cores = os.cpu_count() or 1
    assert f"at most ~{cores * 10 / 3:.0f} calls/s on {cores} cores" in rows[-1]
