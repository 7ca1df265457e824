"""The gateway's half that ingests carrier events, in batches (issue 15).

A batch of polled events is applied in one transaction with no savepoint per event:
receipts for the whole batch in one INSERT, each event applied by `ingest.apply`, the
batch's callbacks and CallEvents written together at the end (`events.deferred`), one
COMMIT. If any event fails, the batch is rolled back and ingested again in one
transaction with a savepoint per event (`ingest.ingest`), where a failing event undoes
only its own writes and `_event_failed` contains it. A batch that cannot commit at all
(the database went away, or an event broke the connection) saves nothing: its events are
kept, in order, and the next step ingests them one transaction each, so a poisonous event
is contained by itself rather than retried forever (ingest is idempotent by event id).
"""

import logging
import time

from django.db import transaction

from calls import ingest as ingestion
from calls.call_verbs import end_call
from calls.events import Pending, deferred
from calls.models import Call, Participant
from carrier.interface import Carrier, CarrierEvent, MediaOutcome

log = logging.getLogger(__name__)


class EventBatches:
    carrier: Carrier
    gateway_id: str
    batch: int
    batch_seconds: float
    _unsaved: list[CarrierEvent]
    _one_by_one: bool

    def ingest_events(self) -> int:
        """Ingest what the carrier reported, up to `batch` events in one transaction."""
        events = self._unsaved + self.carrier.poll()
        self._unsaved = events[self.batch :]  # later events wait their turn, in order
        events = events[: self.batch]
        if not events:
            return 0
        if self._one_by_one:
            self._one_by_one = False
            done = 0
            for event in events:
                try:
                    with transaction.atomic(), deferred() as pending:
                        done += self._ingest_one(event, pending)
                        pending.flush()
                except Exception:
                    done += 1  # logged; lost as it was before batching
            return done or int(bool(self._unsaved))
        db = transaction.get_connection()
        db.ensure_connection()
        before = db.connection
        try:
            return self._batch(events, contained=False)
        except Exception:
            # Django reconnects after a rollback that failed: a new connection means lost.
            if db.connection is not before or not db.is_usable():
                self._unsaved = events + self._unsaved
                self._one_by_one = True
                raise
            log.exception("gateway %s: a batch of %d carrier events failed; ingesting it "
                          "again, a savepoint per event", self.gateway_id, len(events))  # fmt: skip
        return self._batch(events, contained=True)

    def _batch(self, events: list[CarrierEvent], *, contained: bool) -> int:
        """One transaction for `events`, or for as many as `batch_seconds` allows (the
        batch holds its calls' row locks until it commits); the rest go back in front."""
        done = taken = 0
        try:
            with transaction.atomic(), deferred() as pending:
                started = time.monotonic()
                new = set() if contained else ingestion.first_receipts([e.event_id for e in events])
                for event in events:
                    if contained:
                        done += self._ingest_one(event, pending)
                    elif event.event_id in new:
                        new.discard(event.event_id)  # a copy later in the batch is a redelivery
                        done += int(ingestion.apply(event, gateway_id=self.gateway_id))
                    taken += 1
                    if time.monotonic() - started > self.batch_seconds:
                        break  # commit now
                if new:  # receipts of events left for the next batch
                    ingestion.forget_receipts(new)
                pending.flush()  # the batch's callbacks and CallEvents: two INSERTs
        except Exception:
            if contained:
                self._unsaved = events + self._unsaved
                self._one_by_one = True
            raise
        self._unsaved = events[taken:] + self._unsaved
        return done or int(bool(self._unsaved))

    def _ingest_one(self, event: CarrierEvent, pending: Pending) -> int:
        mark = pending.mark()
        try:
            return int(ingestion.ingest(event, gateway_id=self.gateway_id))
        except Exception:
            pending.drop(mark)  # its savepoint is gone, and the events it emitted with it
            log.exception(
                "gateway %s: ingesting %s (leg %r, event %s) failed",
                self.gateway_id, event.kind, event.leg_id, event.event_id,
            )  # fmt: skip
            connection = transaction.get_connection()
            if connection.needs_rollback or not connection.is_usable():
                raise  # the transaction itself is lost, not just this event's savepoint
            self._event_failed(event, pending)
            return 1

    def _event_failed(self, event: CarrierEvent, pending: Pending) -> None:
        """An event that could not be applied leaves its operation or call in a state
        nothing will move it out of: fail the operation, or end the call (500)."""
        mark = pending.mark()
        try:
            with transaction.atomic():
                if "op" in event.detail:
                    failed = {
                        "op": event.detail["op"],
                        "message": "The media server reported an unreadable outcome.",
                    }
                    ingestion.ingest(CarrierEvent(leg_id=event.leg_id, kind=MediaOutcome.FAILED,
                                                  detail=failed))  # fmt: skip
                    return
                call_id = (
                    Participant.unscoped.filter(leg_id=event.leg_id)
                    .values_list("call_id", flat=True)
                    .first()
                    if event.leg_id
                    else None
                )
                if call_id is None:
                    return
                call = Call.unscoped.select_for_update(no_key=True).get(pk=call_id)
                if call.state != Call.State.DISCONNECTED:
                    end_call(call, code=500, sub_code=0,
                             message="The call failed in the media server.")  # fmt: skip
        except Exception:
            pending.drop(mark)
            log.exception("gateway %s: containing the failed event %s failed too",
                          self.gateway_id, event.event_id)  # fmt: skip
