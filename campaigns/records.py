"""The fields every campaign call record has (reminders' Attempt, notifications' Dial): the
callback token its events find it by, the call's connection, what the callee chose, and
the log of every CloudEvent heard (which also makes redeliveries recognisable)."""

import secrets

from django.db import models


def new_callback_token() -> str:
    return secrets.token_urlsafe(24)


class CallRecord(models.Model):
    """Abstract: no table of its own; each campaign app's model inherits the fields."""

    class State(models.TextChoices):
        DIALING = "dialing"
        CONNECTED = "connected"
        ENDED = "ended"

    state = models.CharField(max_length=16, choices=State.choices, default=State.DIALING)

    # What the callee chose: key names ("one"), or "said:<phrase>" for a spoken choice.
    tones = models.JSONField(default=list, blank=True)
    # Every CloudEvent received for this call (campaigns.callbacks.log_entry).
    events = models.JSONField(default=list, blank=True)
    detail = models.CharField(max_length=256, blank=True)
    call_connection_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Our callback URL carries this, so each call's events find their row.
    callback_token = models.CharField(max_length=64, unique=True, default=new_callback_token)

    class Meta:
        abstract = True

    def received(self, event_id: str) -> bool:
        return any(e.get("id") == event_id for e in self.events)
