"""`manage.py qcluster` that stops within seconds, however it is signalled.

django-q2's own command deadlocks when SIGTERM reaches its whole process group, which is
how honcho (`make run`), systemd's default KillMode and `kill -- -PGID` stop a service:
the sentinel and the workers die at once (their SIGTERM is left at the default action),
and the main process's handler then calls `stop_event.set()` on a multiprocessing Event
whose lock the dead sentinel may still hold; it waits on that lock forever, until
SIGKILL. This command (it shadows django-q2's, since `callauto` is listed before
`django_q`) keeps django-q2's cluster but owns the signals:

- the handler only records the signal (no locks taken inside a signal handler);
- the main loop then asks the sentinel to stop in order (poison pills, running tasks
  finish) from a helper thread, so a lock left by a dead process cannot block it;
- whatever is still alive after `--grace` seconds is killed: a task cut short is safe,
  since every task is idempotent and the sweepers re-issue lost work (DESIGN.md).

It also keeps WORKER_SERVICES running beside the cluster: long-lived processes such as the
callback delivery loops (named in settings, so this package imports no app). One that
dies is started again; on shutdown they get SIGTERM with the cluster and the same grace.
"""

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections
from django.utils.module_loading import import_string
from django_q.cluster import Cluster

log = logging.getLogger(__name__)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children first), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name (field 2) may hold spaces and parentheses: split after it.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


class Services:
    """WORKER_SERVICES' processes: started, restarted when they die, stopped."""

    RESTART_AFTER = 1.0  # seconds: a service that fails at once must not spin

    def __init__(self, wanted: dict[str, int]) -> None:
        self.paths = [path for path, count in wanted.items() for _ in range(count)]
        self.processes: list[multiprocessing.Process | None] = [None] * len(self.paths)
        self.started = [0.0] * len(self.paths)

    def keep_running(self) -> None:
        for index, path in enumerate(self.paths):
            process = self.processes[index]
            if process is not None and process.is_alive():
                continue
            if time.monotonic() - self.started[index] < self.RESTART_AFTER:
                continue
            if process is not None:
                log.warning("qcluster: %s exited (%s), starting it again", path, process.exitcode)
            connections.close_all()  # a forked child must not share our database socket
            process = multiprocessing.get_context("fork").Process(
                target=import_string(path), name=path, daemon=False
            )
            process.start()
            self.processes[index], self.started[index] = process, time.monotonic()

    def terminate(self) -> None:
        for process in self.processes:
            if process is not None and process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)

    def join(self, deadline: float) -> None:
        for process in self.processes:
            if process is not None:
                process.join(max(0.0, deadline - time.monotonic()))


class Command(BaseCommand):
    help = "Start the django-q2 cluster (workers for callbacks, campaigns, recordings, usage)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--grace",
            type=float,
            default=4.0,
            help="Seconds running tasks get to finish on shutdown before they are killed.",
        )

    def handle(self, *args: Any, grace: float, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 (as django-q2's command: signing needs it)
        cluster = Cluster()
        received: list[int] = []

        def note(signum: int, frame: object) -> None:
            received.append(signum)

        # Cluster() installed handlers that call stop() from inside the signal handler.
        signal.signal(signal.SIGTERM, note)
        signal.signal(signal.SIGINT, note)
        services = Services(settings.WORKER_SERVICES)
        services.keep_running()
        cluster.start()
        while not received and cluster.sentinel.is_alive():
            services.keep_running()
            time.sleep(0.1)
        if received:
            self._stop(cluster, services, grace)

    def _stop(self, cluster: Cluster, services: Services, grace: float) -> None:
        deadline = time.monotonic() + grace
        services.terminate()
        sentinel = cluster.sentinel
        if sentinel.is_alive():
            log.info("qcluster: stopping (tasks get %.0f s to finish)", grace)
            # Daemon: if the Event's lock was left held by a dead process, this thread is
            # the one that waits, not the process.
            threading.Thread(target=cluster.stop_event.set, daemon=True).start()
            sentinel.join(grace)
        services.join(deadline)
        leftovers = descendants(os.getpid())
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if leftovers:
            log.warning("qcluster: killed %d process(es) still running", len(leftovers))
        log.info("qcluster: stopped")
        # multiprocessing's exit handler would join the children (done) and flush queues
        # whose readers are gone, which can block: nothing is left to flush.
        os._exit(0)
