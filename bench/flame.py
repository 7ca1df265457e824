"""py-spy flame graphs for `make bench PROFILE=1` (bench/out/, git-ignored).

`record(name, pid, seconds)` samples a process and its children (gunicorn's workers,
qcluster's workers and delivery loops) while a measurement runs. 50 samples/s: enough for
shares over 10 s, little CPU taken from the processes measured on a 2-core machine.
`--idle` keeps the time spent waiting (on PostgreSQL, on a NOTIFY, on a socket) in the
graph: latency, not only CPU, is what the bench is after.
"""

import re
import subprocess
from pathlib import Path

from bench.config import PYTHON, ROOT

OUT = ROOT / "bench" / "out"
RATE = 50


def record(name: str, pid: int, seconds: float) -> subprocess.Popen:
    OUT.mkdir(exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    svg = OUT / f"flame-{slug}.svg"
    argv = [str(Path(PYTHON).with_name("py-spy")), "record", "--pid", str(pid), "--subprocesses"]
    argv += ["--idle", "--rate", str(RATE), "--duration", f"{max(1, round(seconds))}"]
    argv += ["--output", str(svg)]
    print(f"  py-spy: {name} (pid {pid}) for {seconds:.0f} s -> {svg.relative_to(ROOT)}")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(spies: list[subprocess.Popen]) -> None:
    """Wait for the profilers (py-spy writes the SVG when its duration ends)."""
    for spy in spies:
        try:
            _, err = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            err = "timed out"
        if spy.returncode:
            print(f"  py-spy failed ({spy.returncode}): {(err or '').strip()[-300:]}")
