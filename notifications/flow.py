"""The notification call flow as a table: (step, event) -> next step, actions, disposition.

Pure: it reads the event and a few facts about the dial and decides; calling.py carries
out the actions through calls' public verbs. Steps:

  dialing --CallConnected--> message (play it, collect one key)
  message --ack key--> goodbye (thanks) --PlayCompleted--> ending (hang up)
          --replay key / other key--> message again (up to max replays; then "heard")
          --opt-out key--> goodbye (suppressed)
          --no key--> voicemail (the message once more, as on a machine) --PlayCompleted--> ending
  any --CallDisconnected / CreateCallFailed--> ended
"""

from dataclasses import dataclass, field

from notifications.models import Disposition

D = Disposition

# CreateCallFailed's SIP code -> disposition.
SIP_DISPOSITIONS = {486: D.BUSY, 408: D.NO_ANSWER, 480: D.NO_ANSWER, 603: D.DECLINED}
# ACS names the keys ("one", "pound"...); our keys are the characters.
TONE_NAMES = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "asterisk": "*", "pound": "#",
}  # fmt: skip

MESSAGE = "message"  # play the message and collect one key
PLAY = "play"  # ("play", what): "thanks", "opted-out", "voicemail", "heard"
HANG_UP = "hang_up"
SUPPRESS = "suppress"


@dataclass
class Facts:
    step: str
    replays: int
    max_replays: int
    ack_key: str
    replay_key: str
    opt_out_key: str
    cancelled: bool = False  # the notification was cancelled before the answer
    disposition: str = ""


@dataclass
class Decision:
    step: str
    actions: list[tuple[str, ...]] = field(default_factory=list)
    disposition: str = ""
    detail: str = ""
    replays: int | None = None

    @property
    def ended(self) -> bool:
        return self.step == "ended"


def key_pressed(data: dict) -> str:
    tones = (data.get("dtmfResult") or {}).get("tones") or []
    return TONE_NAMES.get(tones[0], tones[0]) if tones else ""


def _sip_code(data: dict) -> int:
    info = data.get("resultInformation") or {}
    return int((info.get("sipDetails") or {}).get("code") or info.get("code") or 0)


def decide(facts: Facts, event_type: str, data: dict) -> Decision | None:
    """What to do about one event; None when it changes nothing."""
    step = facts.step
    if event_type == "CreateCallFailed":
        return Decision("ended", disposition=SIP_DISPOSITIONS.get(_sip_code(data), D.FAILED))
    if event_type == "CallDisconnected":
        if facts.disposition:
            return Decision("ended")
        return Decision("ended", disposition=D.HUNG_UP if step == MESSAGE else D.FAILED)
    if step == "dialing" and event_type == "CallConnected":
        if facts.cancelled:
            return Decision(
                "ending",
                [(HANG_UP,)],
                disposition=D.CANCELLED,
                detail="The notification was cancelled before the answer.",
            )
        return Decision(MESSAGE, [(MESSAGE,)])
    if step == MESSAGE and event_type == "RecognizeCompleted":
        return _key(facts, key_pressed(data))
    if step == MESSAGE and event_type == "RecognizeFailed":
        if (data.get("resultInformation") or {}).get("subCode") == 8511:  # prompt unplayable
            return Decision(
                "ending",
                [(HANG_UP,)],
                disposition=D.FAILED,
                detail="The message could not be played.",
            )
        # Nothing pressed after the message: most likely a machine. Leave it once.
        return Decision("goodbye", [(PLAY, "voicemail")], disposition=D.VOICEMAIL)
    if step == "goodbye" and event_type in ("PlayCompleted", "PlayFailed"):
        return Decision("ending", [(HANG_UP,)])
    return None


def _key(facts: Facts, key: str) -> Decision:
    if key == facts.ack_key:
        return Decision("goodbye", [(PLAY, "thanks")], disposition=D.ACKNOWLEDGED)
    if key == facts.opt_out_key:
        return Decision("goodbye", [(SUPPRESS,), (PLAY, "opted-out")], disposition=D.OPTED_OUT)
    if facts.replays >= facts.max_replays:
        return Decision(
            "goodbye",
            [(PLAY, "heard")],
            disposition=D.HEARD,
            detail="Replayed to the limit without an acknowledgment.",
        )
    # The replay key, or any other key: the message again.
    return Decision(MESSAGE, [(MESSAGE,)], replays=facts.replays + 1)
