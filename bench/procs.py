"""Starting and stopping the server processes: each in its own process group, output to a
log file, and stopped by process group on exit, even when the bench fails."""

import http.client
import os
import signal
import socket
import subprocess
import time
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from types import TracebackType

from bench.config import PYTHON, ROOT


class BenchError(RuntimeError):
    """A step of the bench failed; the message says which and where its log is."""


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now: within BENCH_PORTS
    ("48000-48999") when set, so benches on a shared machine keep to their own range.
    A port handed out before is skipped: its server may not have bound it yet, and two
    servers given the same port made the second exit with "Address already in use"."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = range(int(low), int(high) + 1) if low and high else [0]
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(sock.getsockname()[1])
            return sock.getsockname()[1]
    raise BenchError(f"no free port in BENCH_PORTS={low}-{high}")


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run `manage.py <args>` to completion and return its stdout."""
    try:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"manage.py {args[0]} took more than {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise BenchError(f"manage.py {args[0]} failed:\n{tail}")
    return done.stdout


class Service(AbstractContextManager["Service"]):
    """A long-running process (gunicorn, qcluster) in its own session / process group."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, grace: float = 10
    ) -> None:
        self.name = name
        self.grace = grace  # seconds between SIGTERM and SIGKILL when stopping
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop it and its children
        )

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} exited early; end of its log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Stop the process and its children (see stop_group)."""
        stop_group(self.process, self.grace)
        self._log.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def stop_group(process: subprocess.Popen, grace: float = 15) -> None:
    """Stop `process` and its children (it leads its own process group) by its PID.

    SIGTERM goes to the leader only: gunicorn's master and qcluster's main process shut
    their children down in order (signalling qcluster's whole group kills its sentinel
    first and leaves the main process waiting). Whatever is left after `grace` seconds,
    in the whole group, gets SIGKILL.
    """
    if process.poll() is None:
        with suppress(ProcessLookupError):
            process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    _signal_group(process.pid, signal.SIGKILL)
    process.wait(timeout=grace)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(pgid, sig)


def wait_http_ok(port: int, path: str, service: Service, seconds: float = 30) -> None:
    """Poll GET http://127.0.0.1:<port><path> until it answers 200."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        service.check_alive()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise BenchError(f"{service.name} did not answer {path} within {seconds:.0f} s")
