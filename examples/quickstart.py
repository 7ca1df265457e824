"""The SDK quick start, as a program you can run: place a call, wait until it is answered,
play a greeting, ask for a key, print the key pressed, hang up.

    export REQUESTS_CA_BUNDLE=$PWD/var/tls/ca.pem   # trust `make run`'s certificate
    python examples/quickstart.py --connection-string "endpoint=https://...;accesskey=..." \
        --from +14255550100 --to +14255550123

Events (CloudEvents) are POSTed to a small receiver this program starts on 127.0.0.1
(callauto under `make run` may call back to 127.0.0.1; a hosted server needs a URL it can
reach: pass --callback-url and forward it here). Only the official SDK and the standard
library are used. On the simulated carrier a number answers after 1 s and presses nothing
unless the portal's Settings > Test callees page scripts it ("press 1, 1 s into the prompt").
"""

import argparse
import json
import queue
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from azure.communication.callautomation import (
    CallAutomationClient,
    PhoneNumberIdentifier,
    RecognizeInputType,
    TextSource,
)
from azure.core.credentials import AzureKeyCredential


def client_from(connection_string: str) -> CallAutomationClient:
    """Like `CallAutomationClient.from_connection_string`, but it keeps the endpoint's
    scheme, so a plain-HTTP development server works too (the SDK's own always uses
    HTTPS)."""
    parts = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    endpoint = parts["endpoint"].rstrip("/")  # as the SDK does: the signed path has none
    return CallAutomationClient(endpoint, AzureKeyCredential(parts["accesskey"]))


class Receiver:
    """A callback receiver: answers 200 at once and hands each event to the main thread."""

    def __init__(self, port: int = 0) -> None:
        self.events: queue.Queue[dict] = queue.Queue()
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.end_headers()
                for event in json.loads(body or b"[]"):  # an array of CloudEvents
                    events.put(event)

            def log_message(self, *args: object) -> None:
                pass  # keep the program's output to what happens in the call

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/callbacks"

    def wait_for(self, *kinds: str, timeout: float) -> dict:
        """The next event of one of `kinds` (others are printed and skipped)."""
        while True:
            event = self.events.get(timeout=timeout)  # queue.Empty after `timeout` seconds
            kind = event["type"].removeprefix("Microsoft.Communication.")
            print(f"  event: {kind}")
            if kind in kinds:
                return {"kind": kind, **event["data"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connection-string", required=True)
    parser.add_argument("--from", dest="caller", required=True, help="a number the tenant owns")
    parser.add_argument("--to", dest="callee", required=True, help="the number to call")
    parser.add_argument("--callback-url", help="public URL forwarded to the receiver")
    parser.add_argument("--port", type=int, default=0, help="the receiver's port (0: any)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait per step")
    args = parser.parse_args(argv)

    receiver = Receiver(args.port)
    client = client_from(args.connection_string)
    callee = PhoneNumberIdentifier(args.callee)
    call = client.create_call(
        callee,
        args.callback_url or receiver.url,
        source_caller_id_number=PhoneNumberIdentifier(args.caller),
    )
    print(f"Calling {args.callee}: callConnectionId {call.call_connection_id}")
    try:
        answered = receiver.wait_for("CallConnected", "CreateCallFailed", timeout=args.timeout)
        if answered["kind"] == "CreateCallFailed":
            print(f"Not answered: {answered['resultInformation']['message']}")
            return 1
        connection = client.get_call_connection(call.call_connection_id)
        connection.play_media_to_all(TextSource(text="Hello from callauto."))
        receiver.wait_for("PlayCompleted", "PlayFailed", timeout=args.timeout)
        connection.start_recognizing_media(
            RecognizeInputType.DTMF,
            callee,
            play_prompt=TextSource(text="Press a key, please."),
            dtmf_max_tones_to_collect=1,
            interrupt_prompt=True,  # a key pressed during the prompt counts
            initial_silence_timeout=10,
        )
        result = receiver.wait_for("RecognizeCompleted", "RecognizeFailed", timeout=args.timeout)
        if result["kind"] == "RecognizeCompleted":
            print(f"The callee pressed {' '.join(result['dtmfResult']['tones'])}")
        else:
            print(f"No key pressed: {result['resultInformation']['message']}")
        connection.hang_up(is_for_everyone=True)
        receiver.wait_for("CallDisconnected", timeout=args.timeout)
        print("Hung up.")
        return 0
    except queue.Empty:
        print("Timed out waiting for an event: is the callback URL reachable by the server?")
        return 2
    finally:
        receiver.server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
