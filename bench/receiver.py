"""A loopback callback receiver that timestamps each event the moment it arrives."""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Arrival:
    at: float  # time.time() when the request body had been read
    event: dict  # one CloudEvent
    webhook_id: str = ""  # the request's `webhook-id` header (stable across redeliveries)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A sender that drops its connection (a worker stopped mid-request) is no news;
        # the default prints a traceback into the bench's output.
        pass


class TimestampingReceiver:
    """Accepts POSTed CloudEvent arrays on 127.0.0.1 and keeps (arrival time, event)."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, should the sender reuse connections

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                webhook_id = self.headers.get("webhook-id", "")
                try:
                    events = json.loads(raw)
                except ValueError:
                    events = []
                with receiver._lock:
                    receiver.arrivals.extend(Arrival(now, e, webhook_id) for e in events)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/callbacks"

    def matching(self, event_type: str, run: str) -> list[Arrival]:
        """Arrivals of `Microsoft.Communication.<event_type>` tagged with bench run `run`."""
        wanted = f"Microsoft.Communication.{event_type}"
        with self._lock:
            return [
                a
                for a in self.arrivals
                if a.event.get("type") == wanted and a.event.get("data", {}).get("benchRun") == run
            ]

    def arrivals_since(self, start: int) -> list[Arrival]:
        """Arrivals from index `start` on (the list only grows), for incremental readers."""
        with self._lock:
            return self.arrivals[start:]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
