"""A real HTTP server on 127.0.0.1 that records the callbacks it receives."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CallbackReceiver:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
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
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/callbacks"

    @property
    def events(self) -> list[dict]:
        return [event for request in self.requests for event in request["body"]]

    def types(self) -> list[str]:
        return [event["type"].removeprefix("Microsoft.Communication.") for event in self.events]

    def of_type(self, name: str) -> list[dict]:
        return [e for e in self.events if e["type"] == f"Microsoft.Communication.{name}"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
