"""Part 1: requests per second of CreateCall against a trivial authenticated endpoint.

A few client threads, each with its own http.client connection (the lightest client in
the standard library, so the load generator takes as little as possible of the CPU it
shares with the server), send HMAC-signed requests for a fixed time. Note gunicorn's
sync workers close the connection after each response, so every request opens a new TCP
connection to 127.0.0.1 whatever the client does; http.client reconnects by itself.
"""

import http.client
import json
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate

from bench.config import API_VERSION, BENCH_MARK, CALLEE, CALLER_ID, TENANT_SLUG
from tests.acs_signing import sign_headers

MAX_REQUESTS_PER_THREAD = 50_000  # a bound on top of the time limit


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    body: bytes
    headers: dict[str, str]
    expected_status: int


@dataclass
class LoadResult:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of successful requests, seconds
    errors: Counter = field(default_factory=Counter)  # status code or exception name

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


class Signer:
    """Builds requests the way the SDK signs them: host is `host:port/t/<slug>`."""

    def __init__(self, port: int, access_key: str) -> None:
        self.port = port
        self.access_key = access_key
        self.signed_host = f"127.0.0.1:{port}/t/{TENANT_SLUG}"

    def request(
        self, method: str, target: str, body: bytes, expected: int, extra: dict | None = None
    ) -> Request:
        headers = sign_headers(
            method, target, body, self.access_key, self.signed_host, formatdate(usegmt=True)
        )
        if body:
            headers["Content-Type"] = "application/json"
        headers.update(extra or {})
        return Request(method, target, body, headers, expected)


def trivial(signer: Signer) -> Request:
    """GET /t/<slug>/api/v1/tenant: authentication, tenant lookup, a small JSON answer."""
    return signer.request("GET", f"/t/{TENANT_SLUG}/api/v1/tenant", b"", 200)


def create_call_factory(receiver_url: str, repeatable: bool) -> Callable[[Signer], Request]:
    """CreateCall to one PSTN number, as the SDK sends it; with `repeatable`, also the
    Repeatability-Request-ID / -First-Sent headers the SDK adds to every create_call."""
    body = json.dumps(
        {
            "targets": [{"rawId": f"4:{CALLEE}", "phoneNumber": {"value": CALLEE}}],
            "callbackUri": receiver_url,
            "sourceCallerIdNumber": {"value": CALLER_ID},
            "operationContext": BENCH_MARK,  # marks the rows for cleanup
        }
    ).encode()
    target = f"/t/{TENANT_SLUG}/calling/callConnections?api-version={API_VERSION}"

    def make(signer: Signer) -> Request:
        extra = None
        if repeatable:
            extra = {
                "Repeatability-Request-ID": f"{BENCH_MARK}-{uuid.uuid4()}",
                "Repeatability-First-Sent": formatdate(usegmt=True),
            }
        return signer.request("POST", target, body, 201, extra)

    return make


def get_call_factory(connection_id: str) -> Callable[[Signer], Request]:
    """GET a call connection's properties, as the SDK's get_call_properties()."""
    target = f"/t/{TENANT_SLUG}/calling/callConnections/{connection_id}?api-version={API_VERSION}"
    return lambda signer: signer.request("GET", target, b"", 200)


def list_participants_factory(connection_id: str) -> Callable[[Signer], Request]:
    """GET a call connection's participants, as the SDK's list_participants()."""
    target = (
        f"/t/{TENANT_SLUG}/calling/callConnections/{connection_id}/participants"
        f"?api-version={API_VERSION}"
    )
    return lambda signer: signer.request("GET", target, b"", 200)


def create_one(signer: Signer, make: Callable[[Signer], Request]) -> str:
    """Send one CreateCall; return its callConnectionId (for the read endpoints)."""
    request = make(signer)
    conn = http.client.HTTPConnection("127.0.0.1", signer.port, timeout=10)
    try:
        conn.request(request.method, request.target, body=request.body, headers=request.headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != request.expected_status:
        raise RuntimeError(f"CreateCall answered {response.status}: {body[:300]!r}")
    return json.loads(body)["callConnectionId"]


def _send(conn: http.client.HTTPConnection, request: Request) -> int:
    conn.request(request.method, request.target, body=request.body, headers=request.headers)
    response = conn.getresponse()
    response.read()
    return response.status


def _client_thread(
    signer: Signer,
    make: Callable[[Signer], Request],
    start: threading.Barrier,
    deadline_box: list[float],
    result: LoadResult,
    lock: threading.Lock,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", signer.port, timeout=10)
    latencies: list[float] = []
    errors: Counter = Counter()
    start.wait()
    deadline = deadline_box[0]
    try:
        for _ in range(MAX_REQUESTS_PER_THREAD):
            if time.monotonic() >= deadline:
                break
            request = make(signer)  # signed just in time, as a real client would
            began = time.perf_counter()
            try:
                status = _send(conn, request)
            except (OSError, http.client.HTTPException) as exc:
                errors[type(exc).__name__] += 1
                conn.close()
                continue
            if status == request.expected_status:
                latencies.append(time.perf_counter() - began)
            else:
                errors[str(status)] += 1
    finally:
        conn.close()
    with lock:
        result.latencies.extend(latencies)
        result.errors.update(errors)


def run_load(
    name: str,
    signer: Signer,
    make: Callable[[Signer], Request],
    *,
    threads: int,
    seconds: float,
) -> LoadResult:
    """Hammer one endpoint from `threads` connections for `seconds`; return what happened."""
    result = LoadResult(name)
    lock = threading.Lock()
    deadline_box = [0.0]

    def set_deadline() -> None:  # runs once, when every thread has reached the barrier
        deadline_box[0] = time.monotonic() + seconds

    start = threading.Barrier(threads, action=set_deadline)
    workers = [
        threading.Thread(
            target=_client_thread,
            args=(signer, make, start, deadline_box, result, lock),
            daemon=True,
        )
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 30)  # a request times out after 10 s
    result.seconds = time.monotonic() - (deadline_box[0] - seconds)
    return result
