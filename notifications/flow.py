"""The notification call flow as a table: (step, event) -> next step, actions, disposition.

Pure: it reads the event and a few facts about the dial and decides; calling.py carries
out the actions through calls' public verbs. Steps:

  dialing --CallConnected--> message (play it, recognize one of the choices)
  message --ack key / "yes"--> goodbye (thanks) --PlayCompleted--> ending (hang up)
          --replay key / "repeat" / other key or words--> message again (up to max
            replays; then "heard")
          --opt-out key / "stop calling"--> goodbye (suppressed)
          --no key--> voicemail (the message once more, as on a machine) --PlayCompleted--> ending
  any --CallDisconnected / CreateCallFailed--> ended

The message is a recognize with choices (`choices`), as reminders' menu is: each answer
is the notification's key or a phrase said, so "yes" acknowledges like the ack key.
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
KEY_NAMES = {key: name for name, key in TONE_NAMES.items()}
# The choices of the message's recognize: label -> the phrases that choose it.
ACKNOWLEDGE, REPLAY, OPT_OUT = "acknowledge", "replay", "opt-out"
PHRASES = {ACKNOWLEDGE: ["yes"], REPLAY: ["repeat"], OPT_OUT: ["stop calling"]}
NO_CHOICE = (8534, 8547)  # RecognizeFailed: a key / words that are no choice

MESSAGE = "message"  # play the message and collect one key
PLAY = "play"  # ("play", what): "thanks", "opted-out", "voicemail", "heard"
HANG_UP = "hang_up"
SUPPRESS = "suppress"

# The only event types `decide` (or the dial's record: state, tones) acts on; any other
# (ParticipantsUpdated, PlayStarted...) is only logged, on the callback's short path.
ACTS_ON = frozenset(
    {
        "CreateCallFailed", "CallDisconnected", "CallConnected", "RecognizeCompleted",
        "RecognizeFailed", "PlayCompleted", "PlayFailed",
    }
)  # fmt: skip


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

    def label_keys(self) -> dict[str, str]:
        return {ACKNOWLEDGE: self.ack_key, REPLAY: self.replay_key, OPT_OUT: self.opt_out_key}


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


def choices(facts: Facts) -> list[dict]:
    """The message's recognize choices: each answer said, or pressed as its key."""
    return [
        {"label": label, "phrases": PHRASES[label], "tone": KEY_NAMES[key]}
        for label, key in facts.label_keys().items()
    ]


def key_pressed(facts: Facts, data: dict) -> str:
    """The key chosen: pressed (DTMF), or the key of the choice pressed or said."""
    tones = (data.get("dtmfResult") or {}).get("tones") or []
    if tones:
        return TONE_NAMES.get(tones[0], tones[0])
    return facts.label_keys().get((data.get("choiceResult") or {}).get("label", ""), "")


def chosen(facts: Facts, data: dict) -> list[str]:
    """What the callee answered, for the dial's record: the key's name ("one"), or
    "said:<phrase>" for a choice they spoke."""
    choice = data.get("choiceResult") or {}
    if choice.get("recognizedPhrase"):
        return [f"said:{choice['recognizedPhrase']}"]
    key = key_pressed(facts, data)
    return [KEY_NAMES.get(key, key)] if key else []


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
        return _key(facts, key_pressed(facts, data))
    if step == MESSAGE and event_type == "RecognizeFailed":
        sub_code = (data.get("resultInformation") or {}).get("subCode")
        if sub_code in NO_CHOICE:
            return _key(facts, "")  # like any other key: the message again
        if sub_code == 8511:  # prompt unplayable
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
