"""Statements per callback of one whole campaign call (issues 15, 16): the call runs on the
simulated carrier, and each CloudEvent the engine publishes is POSTed in-process, one event
per POST, in the order the delivery loop sends them, to the app's callback endpoint. Every
statement of each request is counted (tenant resolution, the app's own, the engine verbs
it calls, commits), per event type. No delivery loop runs (DELIVERY_LOOPS = 1 and no loop
started), so the rows wait for this harness."""

import json
import os
from collections import defaultdict
from urllib.parse import urlsplit

from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

from calls.models import Call
from webhooks import signing
from webhooks.models import Delivery


class InProcessDelivery:
    def __init__(self, client, tenant) -> None:
        self.client, self.tenant = client, tenant
        self.sent: set[int] = set()
        self.counts: dict[str, list[int]] = defaultdict(list)
        self.sql: dict[str, list[list[str]]] = defaultdict(list)

    def _post(self, url: str, payload: dict) -> list[str]:
        # The token is the sender's work (its key is read here): made before counting.
        headers = {"Authorization": f"Bearer {signing.bearer_token(self.tenant)}"}
        reset_queries()  # each request resets the log: capture from its start
        with CaptureQueriesContext(connection) as queries:
            response = self.client.post(
                urlsplit(url).path,
                json.dumps([payload]),
                content_type="application/json",
                headers=headers,
            )
        assert response.status_code == 204, response.content
        return [q["sql"] for q in queries]

    def drain(self) -> int:
        """POST every callback not sent yet, oldest first; how many were sent."""
        rows = list(
            Delivery.unscoped.filter(tenant=self.tenant).exclude(pk__in=self.sent).order_by("pk")
        )
        for row in rows:
            self.sent.add(row.pk)
            sql = self._post(row.url, row.payload)
            name = row.event_type.removeprefix("Microsoft.Communication.")
            self.counts[name].append(len(sql))
            self.sql[name].append(sql)
        return len(rows)

    def run(self, gateway, *, seconds: float = 60, step: float = 0.25) -> None:
        """Move the carrier's clock in small steps, delivering what each step published,
        until every call of the tenant has ended and nothing is left to send."""
        elapsed = 0.0
        while elapsed < seconds:
            gateway.advance(step)
            elapsed += step
            sent = self.drain()
            live = Call.unscoped.filter(tenant=self.tenant).exclude(state=Call.State.DISCONNECTED)
            if not sent and not live.exists():
                return
        raise AssertionError(f"the call did not end in {seconds} s")

    def warm_up(self, url: str) -> None:
        """One empty POST: the platform's signing keys are read once per process."""
        path = urlsplit(url).path
        self.client.post(
            path,
            "[]",
            content_type="application/json",
            headers={"Authorization": f"Bearer {signing.bearer_token(self.tenant)}"},
        )

    def report(self) -> dict[str, int]:
        """The most statements any one event of each type took (printed with SHOW_SQL)."""
        worst = {name: max(counts) for name, counts in self.counts.items()}
        if os.environ.get("SHOW_SQL"):
            for name, runs in self.sql.items():
                print(f"---- {name}: {self.counts[name]}")
                for statement in max(runs, key=len):
                    print("   ", statement[:220])
        print("statements per callback:", worst)
        return worst
