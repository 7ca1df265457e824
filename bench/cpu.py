"""CPU seconds used by the processes under load, for part 1's per-request CPU figures.

Wall-clock rates on a shared 2-core machine move with everyone else's load; the CPU a
request costs does not (much), so part 1 prints both. Three places spend it: the gunicorn
workers (children of the master), the load client (this process, all its threads) and the
PostgreSQL backends connected to the bench database.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the state on (index 0)


def process_seconds(pid: int) -> float:
    """utime + stime of one process (0 when it is gone)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICK if fields else 0.0


def children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (gunicorn's workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
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


class CpuMeter:
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
