"""Portal forms of the calls app: text in, the values `calls.callees` stores out."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from rest_framework.exceptions import APIException

from calls import callees
from calls.identifiers import Identifier, parse_raw_id
from calls.models import SimulatedCallee
from tenants.models import Tenant


def format_keys(keys: list) -> str:
    """[[2.0, "1"], [1.5, "#", "prompt"]] -> "2:1, p1.5:#", the form the keys field accepts."""
    return ", ".join(f"{'p' if press[2:] else ''}{_seconds(press[0])}:{press[1]}" for press in keys)


def _seconds(at: float) -> str:
    return str(int(at)) if float(at).is_integer() else repr(float(at))


def parse_keys(text: str) -> list[list[float | str]]:
    """Read "2:1, p1.5:#" (press 1 at 2 s after answer, # 1.5 s into the next prompt)
    into stored presses.

    Raises ValidationError naming the first press that is not `seconds:key`.
    """
    pairs: list[list[float | str]] = []
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue  # "2:1, 5:#," is a trailing comma, not an empty press
        at, sep, key = item.partition(":")
        into_prompt = at.strip().lower().startswith("p")
        at = at.strip()[1:] if into_prompt else at
        try:
            seconds = float(at)
        except ValueError:
            seconds = None
        if not sep or seconds is None:
            raise ValidationError(f"{item!r} is not seconds:key, like 2:1.")
        key = key.strip()
        key = key.upper() if key.lower() in ("a", "b", "c", "d") else key
        pairs.append([seconds, key, "prompt"] if into_prompt else [seconds, key])
    return callees.check_keys(pairs)


def format_says(says: list) -> str:
    """[[2.0, "yes please"], [1.0, "confirm", "prompt"]] -> "2:yes please; p1:confirm"."""
    return "; ".join(f"{'p' if step[2:] else ''}{_seconds(step[0])}:{step[1]}" for step in says)


def parse_says(text: str) -> list[list[float | str]]:
    """Read "2:yes please; p1:confirm" (say "yes please" 2 s after answer, "confirm" 1 s
    into the next prompt) into stored phrases. Raises ValidationError."""
    steps: list[list[float | str]] = []
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        at, sep, words = item.partition(":")
        into_prompt = at.strip().lower().startswith("p")
        at = at.strip()[1:] if into_prompt else at.strip()
        try:
            seconds = float(at)
        except ValueError:
            seconds = None
        if not sep or seconds is None:
            raise ValidationError(f"{item!r} is not seconds:words, like 2:yes please.")
        steps.append(
            [seconds, words.strip(), "prompt"] if into_prompt else [seconds, words.strip()]
        )
    return callees.check_says(steps)


class SimulatedCalleeForm(forms.Form):
    raw_id = forms.CharField(
        label="Number or identifier",
        max_length=256,
        help_text="+14255550123, or a raw id such as 4:+14255550123 or 8:acs:...",
    )
    outcome = forms.ChoiceField(
        choices=SimulatedCallee.Outcome.choices, initial=SimulatedCallee.Outcome.ANSWER
    )
    answer_after = forms.FloatField(
        label="Answer after (s)",
        min_value=0,
        max_value=callees.ANSWER_AFTER_MAX,
        initial=1,
        help_text="For answer and voicemail; reject declines after this long.",
    )
    hang_up_after = forms.FloatField(
        label="Hang up after (s)",
        min_value=0,
        max_value=callees.HANG_UP_AFTER_MAX,
        required=False,
        help_text="Seconds after answering; empty stays until your app hangs up.",
    )
    keys = forms.CharField(
        label="Key presses",
        required=False,
        max_length=1000,
        help_text="seconds:key after answering, e.g. 2:1, 5:#; p1.5:1 presses 1 1.5 s into "
        "the next prompt (0-9, *, #, A-D; at most 20).",
    )
    says = forms.CharField(
        label="Says",
        required=False,
        max_length=2500,
        help_text="seconds:words after answering, separated by ;, e.g. 2:yes please; "
        "p1:confirm says confirm 1 s into the next prompt (espeak-ng speech into the call).",
    )

    def __init__(
        self,
        *args: Any,
        tenant: Tenant,
        callee: SimulatedCallee | None = None,
        **kwargs: Any,
    ) -> None:
        if callee is not None:
            kwargs.setdefault(
                "initial",
                {
                    "raw_id": callee.raw_id,
                    "outcome": callee.outcome,
                    "answer_after": callee.answer_after,
                    "hang_up_after": callee.hang_up_after,
                    "keys": format_keys(callee.keys),
                    "says": format_says(callee.says),
                },
            )
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.callee = callee

    def clean_raw_id(self) -> str:
        raw_id = callees.normalize_raw_id(self.cleaned_data["raw_id"])
        taken = SimulatedCallee.objects.for_tenant(self.tenant).filter(raw_id=raw_id)
        if self.callee is not None:
            taken = taken.exclude(pk=self.callee.pk)
        if taken.exists():
            raise ValidationError(f"{raw_id} already has a script; edit that one instead.")
        return raw_id

    def clean_keys(self) -> list[list[float | str]]:
        return parse_keys(self.cleaned_data["keys"])

    def clean_says(self) -> list[list[float | str]]:
        return parse_says(self.cleaned_data["says"])


class RingForm(forms.Form):
    """Simulated carrier: someone calls one of the tenant's numbers."""

    to_number = forms.ChoiceField(label="Call this number")
    caller = forms.CharField(label="From", max_length=32, initial="+14255550199")

    def __init__(self, *args: Any, numbers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_number"].choices = [(n, n) for n in numbers]

    def clean_caller(self) -> Identifier:
        value = self.cleaned_data["caller"].strip()
        try:
            return parse_raw_id(value if ":" in value else f"4:{value}", "caller")
        except APIException as exc:
            raise forms.ValidationError(str(exc.detail)) from None


class PeerCallForm(forms.Form):
    """Simulated carrier: two of the tenant's endpoints call each other (no app)."""

    caller = forms.CharField(label="Caller", max_length=256, initial="8:acs:demo_customer")
    callee = forms.CharField(label="Callee", max_length=256, initial="8:acs:demo_agent")

    def _identifier(self, name: str) -> Identifier:
        value = self.cleaned_data[name].strip()
        try:
            return parse_raw_id(value if ":" in value else f"4:{value}", name)
        except APIException as exc:
            raise forms.ValidationError(str(exc.detail)) from None

    def clean_caller(self) -> Identifier:
        return self._identifier("caller")

    def clean_callee(self) -> Identifier:
        return self._identifier("callee")
