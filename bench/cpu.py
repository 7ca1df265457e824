"""CPU seconds spent by bench processes, read from /proc (Linux). Wall-clock rates on a
shared 2-core machine move with everyone else's load; the CPU a request or a call costs
does not (much), so the benches print both.

- `RoundMeter` (part 1 of `make bench`, bench/api_ratios.py): between two samples, the
  gunicorn workers (children of the master), the load client (this process) and the
  PostgreSQL backends of the bench database (pg_stat_activity).
- `CpuMeter` (bench-notify, bench-campaign): whole runs, what one campaign call costs
  each process and so the calls/s the cores could carry at most. A Service leads its own
  process group (bench/procs.py), so its cost is the CPU of every process in that group;
  PostgreSQL's is that of the sessions connected to the bench database (their process
  title names it). A process that exits takes its counters with it, so `sample()` runs
  every second or so and keeps the last figure seen per process.
"""

import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _fields(pid: str) -> list[str] | None:
    """/proc/<pid>/stat from the state on (index 0); None when the process is gone."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def _stat(pid: str) -> tuple[int, float] | None:
    """(process group, CPU seconds of the process itself). A reaped child's time is not
    added (cutime): the meter already holds the child's last sample, and would count it
    twice."""
    fields = _fields(pid)
    return None if fields is None else (int(fields[2]), _seconds(fields))


def _seconds(fields: list[str]) -> float:
    """utime + stime of a process, from its stat fields."""
    return (int(fields[11]) + int(fields[12])) / TICKS


def _cmdline(pid: str) -> str:
    try:
        return (PROC / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def process_seconds(pid: int) -> float:
    """utime + stime of one process (0 when it is gone)."""
    fields = _fields(str(pid))
    return _seconds(fields) if fields else 0.0


def children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (gunicorn's workers), from /proc."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _fields(entry.name)
            if fields and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@dataclass(frozen=True)
class Sample:
    server: dict[int, float]
    client: float
    database: dict[int, float]


@dataclass(frozen=True)
class Spent:
    """CPU seconds spent between two samples."""

    server: float
    client: float
    database: float


class RoundMeter:
    """Samples the workers of `master_pids`, this process and the bench database's
    backends (found through pg_stat_activity on a connection of its own)."""

    def __init__(self, database_url: str) -> None:
        self._db = psycopg.connect(database_url, autocommit=True)

    def close(self) -> None:
        self._db.close()

    def _backends(self) -> list[int]:
        rows = self._db.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return [pid for (pid,) in rows]

    def sample(self, master_pid: int) -> Sample:
        return Sample(
            server={pid: process_seconds(pid) for pid in children(master_pid)},
            client=time.process_time(),
            database={pid: process_seconds(pid) for pid in self._backends()},
        )

    def since(self, before: Sample, master_pid: int) -> Spent:
        """CPU spent since `before`. A process that appeared meanwhile counts from zero;
        one that ended meanwhile is lost (CONN_MAX_AGE keeps backends for 60 s)."""
        after = self.sample(master_pid)

        def delta(old: dict[int, float], new: dict[int, float]) -> float:
            return sum(seconds - old.get(pid, 0.0) for pid, seconds in new.items())

        return Spent(
            server=delta(before.server, after.server),
            client=after.client - before.client,
            database=delta(before.database, after.database),
        )


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
