"""The reminder call flow as a table: (step, event) -> next step, actions, disposition.

Pure: it reads the event and a few facts about the attempt and decides; services.py
carries out the actions through calls.call_verbs / participant_verbs / media_verbs. Steps:

  dialing --CallConnected--> menu --1/2/9--> goodbye --PlayCompleted--> ending
                               |--3--> transferring --AddParticipantSucceeded--> ending
                               |--*/other key, first silence--> menu (again)
                               '--second silence--> goodbye (voicemail message)
  any --CallDisconnected / CreateCallFailed--> ended

The menu is a recognize with choices (CHOICES): each is a key or something said ("yes" or
"confirm" for 1, "cancel" for 2, "operator" for 3, "stop calling" for 9, "repeat" for *);
a key or phrase of no choice counts as a wrong key.
"""

from dataclasses import dataclass, field

from reminders.models import Appointment, Disposition

D = Disposition

# CreateCallFailed's SIP code -> disposition.
SIP_DISPOSITIONS = {486: D.BUSY, 408: D.NO_ANSWER, 480: D.NO_ANSWER, 603: D.DECLINED}
MAX_MENU_REPLAYS = 3  # "*" or a wrong key replays the menu; then we give up politely

RECOGNIZE = "recognize"  # play the menu prompt and recognize one of CHOICES
CHOICES = [
    {"label": "confirm", "phrases": ["yes", "confirm"], "tone": "one"},
    {"label": "cancel", "phrases": ["cancel"], "tone": "two"},
    {"label": "operator", "phrases": ["operator"], "tone": "three"},
    {"label": "opt-out", "phrases": ["stop calling"], "tone": "nine"},
    {"label": "repeat", "phrases": ["repeat"], "tone": "asterisk"},
]
LABEL_TONES = {choice["label"]: choice["tone"] for choice in CHOICES}
NO_CHOICE = (8534, 8547)  # RecognizeFailed: a key / words that are no choice
PLAY = "play"  # ("play", message key in speech.GOODBYE)
ADD_OFFICE = "add_office"
HANG_UP = "hang_up"
SUPPRESS = "suppress"  # add the contact's number to the do-not-call list

# The only event types `decide` (or the attempt's record: state, tones) acts on; any other
# (ParticipantsUpdated, PlayStarted...) is only logged, on the callback's short path.
ACTS_ON = frozenset(
    {
        "CreateCallFailed", "CallDisconnected", "CallConnected", "RecognizeCompleted",
        "RecognizeFailed", "AddParticipantSucceeded", "AddParticipantFailed", "PlayCompleted",
        "PlayFailed",
    }
)  # fmt: skip


@dataclass
class Facts:
    step: str
    silences: int  # RecognizeFailed (no input) so far
    replays: int  # menu replays asked for by "*" or a wrong key so far
    has_office: bool
    appointment_status: str
    disposition: str = ""


@dataclass
class Decision:
    step: str
    actions: list[tuple[str, ...]] = field(default_factory=list)
    disposition: str = ""
    appointment_status: str = ""
    detail: str = ""
    silences: int | None = None
    replays: int | None = None

    @property
    def ended(self) -> bool:
        return self.step == "ended"


def _key(data: dict) -> str:
    """The menu key chosen: pressed, or said (a choice stands for its key)."""
    tones = (data.get("dtmfResult") or {}).get("tones") or []
    if tones:
        return tones[0]
    return LABEL_TONES.get((data.get("choiceResult") or {}).get("label", ""), "")


def _sip_code(data: dict) -> int:
    info = data.get("resultInformation") or {}
    return int((info.get("sipDetails") or {}).get("code") or info.get("code") or 0)


def decide(facts: Facts, event_type: str, data: dict) -> Decision | None:
    """What to do about one event; None when it changes nothing (ParticipantsUpdated...)."""
    step = facts.step
    if event_type == "CreateCallFailed":
        return Decision("ended", disposition=SIP_DISPOSITIONS.get(_sip_code(data), D.FAILED))
    if event_type == "CallDisconnected":
        if facts.disposition:
            return Decision("ended")
        # Hung up before choosing: mid-prompt is "no input"; anything else failed.
        return Decision("ended", disposition=D.NO_INPUT if step == "menu" else D.FAILED)
    if step == "dialing" and event_type == "CallConnected":
        if facts.appointment_status != Appointment.Status.SCHEDULED:
            # Cancelled (or confirmed elsewhere) between dispatch and answer: say nothing.
            return Decision(
                "ending",
                [(HANG_UP,)],
                disposition=D.CANCELLED,
                detail=f"The appointment was {facts.appointment_status} before the answer.",
            )
        return Decision("menu", [(RECOGNIZE,)])
    if step == "menu" and event_type == "RecognizeCompleted":
        return _menu_choice(facts, _key(data))
    if step == "menu" and event_type == "RecognizeFailed":
        sub_code = (data.get("resultInformation") or {}).get("subCode")
        if sub_code in NO_CHOICE:
            return _menu_choice(facts, "")  # like a wrong key
        if sub_code == 8511:  # prompt unplayable
            return Decision(
                "ending",
                [(HANG_UP,)],
                disposition=D.FAILED,
                detail="The prompt could not be played.",
            )
        if facts.silences == 0:
            return Decision("menu", [(RECOGNIZE,)], silences=1)
        # Nobody pressed anything twice: most likely an answering machine.
        return Decision("goodbye", [(PLAY, "voicemail")], disposition=D.VOICEMAIL, silences=2)
    if step == "transferring" and event_type == "AddParticipantSucceeded":
        # The office is on the line with the callee: the app leaves them to it.
        return Decision("ending", [(HANG_UP,)], disposition=D.TRANSFERRED)
    if step == "transferring" and event_type == "AddParticipantFailed":
        return Decision(
            "goodbye",
            [(PLAY, "office-unavailable")],
            disposition=D.FAILED,
            detail="The office did not answer.",
        )
    if step == "goodbye" and event_type in ("PlayCompleted", "PlayFailed"):
        return Decision("ending", [(HANG_UP,)])
    return None


def _menu_choice(facts: Facts, key: str) -> Decision:
    if key == "one":
        return Decision(
            "goodbye",
            [(PLAY, "confirmed")],
            disposition=D.CONFIRMED,
            appointment_status=Appointment.Status.CONFIRMED,
        )
    if key == "two":
        return Decision(
            "goodbye",
            [(PLAY, "cancelled")],
            disposition=D.CANCELLED,
            appointment_status=Appointment.Status.CANCELLED,
        )
    if key == "three" and facts.has_office:
        return Decision("transferring", [(ADD_OFFICE,)])
    if key == "nine":
        return Decision("goodbye", [(SUPPRESS,), (PLAY, "opted-out")], disposition=D.OPTED_OUT)
    if facts.replays >= MAX_MENU_REPLAYS:
        return Decision(
            "ending",
            [(HANG_UP,)],
            disposition=D.NO_INPUT,
            detail="No valid choice after the menu was repeated.",
        )
    return Decision("menu", [(RECOGNIZE,)], replays=facts.replays + 1)
