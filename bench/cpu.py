"""CPU seconds spent by each bench process, read from /proc (Linux): what one campaign call
costs the machine, process by process, and so the calls/s its cores could carry at most.

A Service leads its own process group (bench/procs.py), so its cost is the CPU of every
process in that group. PostgreSQL's cost is that of the server sessions connected to the
bench database (their process title names it). A process that exits takes its counters
with it, so `sample()` runs every second and keeps the last figure seen per process.
"""

import os
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat(pid: str) -> tuple[int, float] | None:
    """(process group, CPU seconds of the process itself). A reaped child's time is not
    added (cutime): the meter already holds the child's last sample, and would count it
    twice."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    fields = text[text.rindex(")") + 2 :].split()
    pgrp = int(fields[2])
    utime, stime = (int(x) for x in fields[11:13])
    return pgrp, (utime + stime) / TICKS


def _cmdline(pid: str) -> str:
    try:
        return (PROC / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds per named process group, plus PostgreSQL sessions of `database`;
    `pids` names single processes apart (e.g. the bench's own database session)."""

    def __init__(
        self, groups: dict[str, int], database: str, pids: dict[str, int] | None = None
    ) -> None:
        self.groups = {pgid: name for name, pgid in groups.items()}
        self.pids = {str(pid): name for name, pid in (pids or {}).items()}
        self.database = database
        self._seen: dict[str, tuple[str, float]] = {}  # pid -> (name, CPU seconds)
        self._start: dict[str, float] = {}
        self.sample()
        self._start = self.totals()

    def sample(self) -> None:
        for pid in os.listdir(PROC):
            if not pid.isdigit():
                continue
            stat = _stat(pid)
            if stat is None:
                continue
            pgrp, seconds = stat
            name = self.pids.get(pid) or self.groups.get(pgrp)
            if name is None and self._is_session(pid):
                name = "postgresql"
            if name is not None:
                self._seen[pid] = (name, seconds)

    def _is_session(self, pid: str) -> bool:
        known = self._seen.get(pid)
        if known is not None:
            return known[0] == "postgresql"
        # "postgres: [<cluster>:] <user> <database> <client> <state>" (the process title;
        # the cluster name is there when cluster_name is set, as Debian sets it).
        words = _cmdline(pid).split()
        return bool(words) and words[0] == "postgres:" and self.database in words[2:4]

    def totals(self) -> dict[str, float]:
        """CPU seconds per name since the meter was made."""
        sums: dict[str, float] = defaultdict(float)
        for name, seconds in self._seen.values():
            sums[name] += seconds
        return {name: sums[name] - self._start.get(name, 0.0) for name in sums}


def per_call_table(totals: dict[str, float], calls: int, wall: float) -> list[str]:
    """Markdown rows: CPU seconds, share of the cores used, and milliseconds per call."""
    cores = os.cpu_count() or 1
    rows = ["| process | CPU s | cores busy | CPU ms per call |", "| --- | --- | --- | --- |"]
    for name, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        per_call = f"{1000 * seconds / calls:.0f}" if calls else "—"
        rows.append(f"| {name} | {seconds:.0f} | {seconds / wall:.2f} | {per_call} |")
    whole = sum(totals.values())
    if calls:
        ceiling = cores * calls / whole if whole else float("inf")
        rows.append(
            f"| all | {whole:.0f} | {whole / wall:.2f} of {cores} | {1000 * whole / calls:.0f} "
            f"(so at most ~{ceiling:.0f} calls/s on {cores} cores) |"
        )
    return rows
