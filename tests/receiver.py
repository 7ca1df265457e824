"""A real HTTP server on 127.0.0.1 that records the callbacks it receives."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"


class CallbackReceiver:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.script: list[int] = []  # statuses to answer first, in order, then `status`
        self.extra_headers: dict[str, str] = {}
        self.delay = 0.0  # seconds to wait before answering
        self.validate = True
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "raw": raw,
                        "body": json.loads(raw or b"null"),
                    }
                )
                reply = receiver.reply_to(receiver.requests[-1]["body"])
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.script.pop(0) if receiver.script else receiver.status
                self.send_response(status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/callbacks"

    def reply_to(self, body: object) -> bytes:
        """Answer Event Grid's validation handshake as a subscriber must (when enabled)."""
        first = body[0] if isinstance(body, list) and body else {}
        if self.validate and first.get("eventType") == VALIDATION:
            return json.dumps({"validationResponse": first["data"]["validationCode"]}).encode()
        return b""

    @property
    def events(self) -> list[dict]:
        """Every event received, validation handshakes left out."""
        return [
            event
            for request in self.requests
            for event in request["body"]
            if event.get("eventType") != VALIDATION
        ]

    def types(self) -> list[str]:
        names = [event.get("type") or event.get("eventType") for event in self.events]
        return [name.removeprefix("Microsoft.Communication.") for name in names]

    def of_type(self, name: str) -> list[dict]:
        full = f"Microsoft.Communication.{name}"
        return [e for e in self.events if (e.get("type") or e.get("eventType")) == full]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
