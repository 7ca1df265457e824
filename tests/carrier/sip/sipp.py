"""Running SIPp (Debian `sip-tester`) as the real SIP peer of a test, on 127.0.0.1 only.

Each SIPp gets ports probed free, `-m 1` and a timeout so it always ends, runs in the test's
tmp dir (its -trace_msg/-trace_err logs land there), and is stopped by PID in `finally`.
Scenario files are ours (tests/carrier/sip/scenarios/); placeholders in them (@PCAPS@, ...)
are filled in here, so pcap paths are absolute wherever the checkout lives.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from carrier.interface import CarrierEvent, LegOutcome
from carrier.sip.config import TrunkConfig
from carrier.sip.driver import SipCarrier
from carrier.sip.runtime import SipRuntime
from carrier.sip.transaction import Timers

SIPP = shutil.which("sipp")
PCAPS = Path("/usr/share/sip-tester")
SCENARIOS = Path(__file__).parent / "scenarios"
SKIP_REASON = "SIPp is not installed (Debian sip-tester; `make sysdeps` installs it)"


def free_port(*, even: bool = False, span: int = 1) -> int:
    """A UDP port on 127.0.0.1 free now (with `span` - 1 free ports above it)."""
    for _ in range(200):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        if even and port % 2:
            continue
        sockets = []
        try:
            for offset in range(span):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return port
    raise RuntimeError("no free UDP port")


def scenario(name: str, directory: Path, **values: str) -> Path:
    """Our scenario `name` with its @PLACEHOLDERS@ filled in, written to `directory`."""
    text = (SCENARIOS / name).read_text()
    for key, value in {"PCAPS": str(PCAPS), **values}.items():
        text = text.replace(f"@{key}@", value)
    path = directory / name
    path.write_text(text)
    return path


class Sipp:
    def __init__(self, process: subprocess.Popen, port: int, media_port: int, log: Path) -> None:
        self.process, self.port, self.media_port, self.log = process, port, media_port, log

    def wait(self, timeout: float = 25.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return -999

    def output(self) -> str:
        logs = [self.log, *self.log.parent.glob("*errors.log")]
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in logs if p.exists())


@contextlib.contextmanager
def sipp(
    tmp: Path,
    *args: str,
    target: str = "",
    echo: bool = False,
    timeout: str = "20s",
    name: str = "sipp",
    calls: int = 1,
) -> Iterator[Sipp]:
    """Start SIPp with `args` (e.g. "-sf", path); stop it by PID afterwards."""
    port = free_port()
    media = free_port(even=True, span=3)
    command = [
        SIPP,
        *([target] if target else []),
        *args,
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-mp",
        str(media),
        "-m",
        str(calls),
        "-timeout",
        timeout,
        "-timeout_error",
        "-nostdin",
        "-trace_err",
    ]
    if echo:
        command.append("-rtp_echo")
    log = tmp / f"{name}.out"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.15)  # SIPp binds its socket
        yield Sipp(process, port, media, log)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def config(proxy_port: int, **overrides: object) -> TrunkConfig:
    base: dict[str, object] = {
        "proxy_host": "127.0.0.1",
        "proxy_port": proxy_port,
        "sip_port": 0,
        "bind_host": "127.0.0.1",
        "rtp_port_min": 30000,
        "rtp_port_max": 40000,
        "username": "gw",
        "password": "secret",
    }
    base.update(overrides)
    return TrunkConfig(**base)  # type: ignore[arg-type]


@contextlib.contextmanager
def carrier(
    proxy_port: int = 5060, runtime: SipRuntime | None = None, **overrides: object
) -> Iterator[SipCarrier]:
    timers = Timers(t1=0.1, t2=0.8, t4=1.0)
    driver = SipCarrier(config(proxy_port, **overrides), timers=timers, runtime=runtime)
    driver.start()
    try:
        yield driver
    finally:
        driver.close()


class Events:
    """Collects a carrier's events; `until` waits (polling like the gateway) for one."""

    def __init__(self, driver: SipCarrier) -> None:
        self.driver = driver
        self.seen: list[CarrierEvent] = []

    def until(
        self, match: Callable[[CarrierEvent], bool] | str, timeout: float = 15.0
    ) -> CarrierEvent:
        check = match if callable(match) else (lambda e: e.kind == match)
        deadline = time.monotonic() + timeout
        index = 0
        while True:
            self.seen += self.driver.poll()
            for event in self.seen[index:]:
                if check(event):
                    return event
            index = len(self.seen)
            if time.monotonic() > deadline:
                kinds = [(e.kind, e.detail.get("op", "")) for e in self.seen]
                raise AssertionError(f"no such event within {timeout} s; seen {kinds}")
            time.sleep(0.01)

    def kinds(self) -> list[str]:
        """The outcomes seen (CLOSED, a leg's after-the-fact report, aside)."""
        self.seen += self.driver.poll()
        return [event.kind for event in self.seen if event.kind != LegOutcome.CLOSED]
