"""Request bodies of the Call Automation routes. They validate shape only; field names
are the wire's camelCase so DRF's field errors name what the client sent."""

from typing import Any

from django.core.validators import URLValidator
from rest_framework import serializers
from rest_framework.request import Request

from callauto import outbound
from callauto.errors import BadRequest, NotSupported
from calls.identifiers import parse_identifier, parse_phone_value
from carrier.media.play_sources import PlaySource


class IdentifierField(serializers.Field):
    def to_internal_value(self, data: Any) -> Any:
        return parse_identifier(data, self.field_name)


class CallbackUriField(serializers.URLField):
    """An absolute http(s) URL with a valid host (where callbacks will be POSTed)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2048)
        super().__init__(**kwargs)
        # Swap DRF's default URLValidator for one that also refuses ftp:// and friends.
        self.validators = [v for v in self.validators if not isinstance(v, URLValidator)]
        self.validators.append(
            URLValidator(schemes=["http", "https"], message="Must be an http(s) URL.")
        )

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data)  # shape first: "Must be an http(s) URL."
        if value in (None, ""):
            return value
        try:
            outbound.check(value)
        except outbound.UnsafeUrl as exc:
            raise serializers.ValidationError(f"This URL is not allowed: {exc}") from None
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only: "yes" or 1 are mistakes, not truthy values."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be true or false.")
        return data


class Body(serializers.Serializer):
    """Base for request bodies: refuses features we do not implement with a clear 400."""

    unsupported: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        if _has_nul(data):
            # PostgreSQL text cannot hold NUL; refuse it here rather than fail on save.
            raise BadRequest("Strings in the request body must not contain NUL characters.")
        for key, feature in self.unsupported.items():
            if data.get(key) not in (None, [], {}):
                raise NotSupported(f"{key}: {feature} is not supported by callauto yet.")
        return super().to_internal_value(data)


def _phone_value(data: Any, field: str) -> str | None:
    return None if data is None else parse_phone_value(data, field)


class CreateCallBody(Body):
    unsupported = {
        "callIntelligenceOptions": "Cognitive Services integration",
        "mediaStreamingOptions": "media streaming",
        "transcriptionOptions": "transcription",
        "teamsAppSource": "Teams app source",
    }
    targets = serializers.ListField(child=serializers.JSONField(), allow_empty=False, max_length=20)
    callbackUri = CallbackUriField()
    sourceCallerIdNumber = serializers.JSONField(required=False)
    sourceDisplayName = serializers.CharField(required=False, max_length=256, allow_blank=True)
    operationContext = serializers.CharField(required=False, max_length=5000, allow_blank=True)
    source = serializers.JSONField(required=False)

    def validate(self, attrs: dict) -> dict:
        attrs["targets"] = [
            parse_identifier(t, f"targets[{i}]") for i, t in enumerate(attrs["targets"])
        ]
        attrs["sourceCallerIdNumber"] = _phone_value(
            attrs.get("sourceCallerIdNumber"), "sourceCallerIdNumber"
        )
        return attrs


class OperationBody(Body):
    operationContext = serializers.CharField(required=False, max_length=5000, allow_blank=True)
    operationCallbackUri = CallbackUriField(required=False)


class AddParticipantBody(OperationBody):
    unsupported = {"customCallingContext": "custom SIP/VoIP headers"}
    participantToAdd = IdentifierField()
    sourceCallerIdNumber = serializers.JSONField(required=False)
    sourceDisplayName = serializers.CharField(required=False, max_length=256, allow_blank=True)
    invitationTimeoutInSeconds = serializers.IntegerField(
        required=False, min_value=1, max_value=180
    )

    def validate(self, attrs: dict) -> dict:
        attrs["sourceCallerIdNumber"] = _phone_value(
            attrs.get("sourceCallerIdNumber"), "sourceCallerIdNumber"
        )
        return attrs


class RemoveParticipantBody(OperationBody):
    participantToRemove = IdentifierField()


class CancelAddBody(OperationBody):
    invitationId = serializers.CharField(max_length=64)


class MuteBody(Body):
    targetParticipants = serializers.ListField(
        child=serializers.JSONField(), min_length=1, max_length=1
    )
    operationContext = serializers.CharField(required=False, max_length=5000, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        attrs["target"] = parse_identifier(attrs["targetParticipants"][0], "targetParticipants[0]")
        return attrs


def parse(body_class: type[Body], request: Request) -> dict:
    body = body_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


MEDIA_OPTIONS = {
    "callIntelligenceOptions": "Cognitive Services integration",
    "mediaStreamingOptions": "media streaming",
    "transcriptionOptions": "transcription",
}


class AnswerBody(Body):
    unsupported = MEDIA_OPTIONS
    incomingCallContext = serializers.CharField(max_length=8192)
    callbackUri = CallbackUriField()
    operationContext = serializers.CharField(required=False, max_length=5000, allow_blank=True)


class RedirectBody(Body):
    unsupported = {"customCallingContext": "custom SIP/VoIP headers"}
    incomingCallContext = serializers.CharField(max_length=8192)
    target = IdentifierField()


class RejectBody(Body):
    incomingCallContext = serializers.CharField(max_length=8192)
    callRejectReason = serializers.ChoiceField(
        choices=["none", "busy", "forbidden"], required=False, default="none"
    )


class ConnectBody(Body):
    unsupported = MEDIA_OPTIONS
    callLocator = serializers.DictField()
    callbackUri = CallbackUriField()
    operationContext = serializers.CharField(required=False, max_length=5000, allow_blank=True)

    def validate_callLocator(self, locator: dict) -> str:
        kind = locator.get("kind", "serverCallLocator")
        if kind in ("groupCallLocator", "roomCallLocator"):
            raise NotSupported(f"callLocator.kind: {kind} is not supported by callauto yet.")
        server_call_id = locator.get("serverCallId")
        if (
            kind != "serverCallLocator"
            or not isinstance(server_call_id, str)
            or not (0 < len(server_call_id) <= 256)
        ):
            raise serializers.ValidationError("Must be a serverCallLocator with a serverCallId.")
        return server_call_id


class TransferBody(OperationBody):
    unsupported = {"customCallingContext": "custom SIP/VoIP headers"}
    targetParticipant = IdentifierField()
    transferee = serializers.JSONField(required=False)
    sourceCallerIdNumber = serializers.JSONField(required=False)

    def validate(self, attrs: dict) -> dict:
        transferee = attrs.get("transferee")
        attrs["transferee"] = (
            None if transferee is None else parse_identifier(transferee, "transferee")
        )
        attrs["sourceCallerIdNumber"] = _phone_value(
            attrs.get("sourceCallerIdNumber"), "sourceCallerIdNumber"
        )
        return attrs


# --- media ------------------------------------------------------------------------------

TONE_NAMES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "a",
    "b",
    "c",
    "d",
    "pound",
    "asterisk",
]


def parse_play_source(data: Any, field: str) -> PlaySource:
    """An ACS PlaySource: `file` (a WAV URL) or `text` (spoken); SSML is not supported."""
    if not isinstance(data, dict):
        raise BadRequest(f"{field}: must be a play source object.")
    kind = data.get("kind")
    cache_id = data.get("playSourceCacheId")
    if cache_id is not None and (not isinstance(cache_id, str) or len(cache_id) > 256):
        raise BadRequest(f"{field}.playSourceCacheId: must be a string of at most 256 characters.")
    if kind == "file":
        uri = (data.get("file") or {}).get("uri") if isinstance(data.get("file"), dict) else None
        url_field = CallbackUriField()
        try:
            url_field.run_validation(uri)
        except serializers.ValidationError as exc:
            raise BadRequest(f"{field}.file.uri: {exc.detail[0]}") from None
        return PlaySource(kind="file", uri=uri, cache_id=cache_id)
    if kind == "text":
        text = data.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("text"), str):
            raise BadRequest(f"{field}.text.text: the text to speak is required.")
        if text.get("customVoiceEndpointId"):
            raise NotSupported(
                f"{field}.text.customVoiceEndpointId: custom voices are not supported."
            )
        if len(text["text"]) > 4000:
            raise BadRequest(f"{field}.text.text: at most 4000 characters.")
        for key in ("sourceLocale", "voiceName"):
            if text.get(key) is not None and not isinstance(text[key], str):
                raise BadRequest(f"{field}.text.{key}: must be a string.")
        voice_kind = text.get("voiceKind")
        if voice_kind not in (None, "male", "female"):
            raise BadRequest(f"{field}.text.voiceKind: must be male or female.")
        return PlaySource(
            kind="text",
            text=text["text"],
            locale=str(text.get("sourceLocale") or "en-US")[:16],
            voice_kind=voice_kind,
            voice_name=(str(text["voiceName"])[:64] if text.get("voiceName") else None),
            cache_id=cache_id,
        )
    if kind == "ssml":
        raise NotSupported(f"{field}: SSML play sources are not supported yet; use text.")
    raise BadRequest(f"{field}.kind: must be file or text.")


def parse_tones(data: Any, field: str, *, max_count: int) -> list[str]:
    if not isinstance(data, list) or not all(isinstance(t, str) for t in data):
        raise BadRequest(f"{field}: must be a list of tone names.")
    unknown = [t for t in data if t.lower() not in TONE_NAMES]
    if unknown:
        raise BadRequest(f"{field}: unknown tone {unknown[0]!r}; use {', '.join(TONE_NAMES)}.")
    if len(data) > max_count:
        raise BadRequest(f"{field}: at most {max_count} tones.")
    return [t.lower() for t in data]


class PlayBody(OperationBody):
    playSources = serializers.ListField(child=serializers.JSONField(), max_length=10)
    playTo = serializers.ListField(child=serializers.JSONField(), required=False, max_length=20)
    interruptCallMediaOperation = StrictBooleanField(required=False, default=False)
    playOptions = serializers.DictField(required=False)

    def validate(self, attrs: dict) -> dict:
        if not attrs["playSources"]:
            raise BadRequest("playSources: at least one play source is required.")
        attrs["sources"] = [
            parse_play_source(s, f"playSources[{i}]") for i, s in enumerate(attrs["playSources"])
        ]
        attrs["targets"] = [
            parse_identifier(t, f"playTo[{i}]") for i, t in enumerate(attrs.get("playTo") or [])
        ]
        loop = (attrs.get("playOptions") or {}).get("loop", False)
        if not isinstance(loop, bool):
            raise BadRequest("playOptions.loop: must be true or false.")
        attrs["loop"] = loop
        return attrs


class RecognizeBody(OperationBody):
    recognizeInputType = serializers.CharField()
    playPrompt = serializers.JSONField(required=False)
    playPrompts = serializers.ListField(
        child=serializers.JSONField(), required=False, max_length=10
    )
    interruptCallMediaOperation = StrictBooleanField(required=False, default=False)
    recognizeOptions = serializers.DictField()

    def validate(self, attrs: dict) -> dict:
        kind = attrs["recognizeInputType"]
        if kind in ("speech", "speechOrDtmf", "choices"):
            raise NotSupported(f"recognizeInputType {kind}: only dtmf recognition is supported.")
        if kind != "dtmf":
            raise BadRequest("recognizeInputType: must be dtmf.")
        prompts = attrs.get("playPrompts") or (
            [attrs["playPrompt"]] if attrs.get("playPrompt") is not None else []
        )
        name = "playPrompts" if attrs.get("playPrompts") else "playPrompt"
        attrs["prompts"] = [
            parse_play_source(p, f"{name}[{i}]" if name == "playPrompts" else name)
            for i, p in enumerate(prompts)
        ]
        options = attrs["recognizeOptions"]
        if options.get("speechOptions") or options.get("choices"):
            raise NotSupported("recognizeOptions: speech and choices are not supported yet.")
        if "targetParticipant" not in options:
            raise BadRequest("recognizeOptions.targetParticipant: this field is required.")
        attrs["target"] = parse_identifier(
            options["targetParticipant"], "recognizeOptions.targetParticipant"
        )
        dtmf = options.get("dtmfOptions") or {}
        if not isinstance(dtmf, dict):
            raise BadRequest("recognizeOptions.dtmfOptions: must be an object.")
        attrs["initial_silence"] = _number(
            options.get("initialSilenceTimeoutInSeconds", 5),
            "recognizeOptions.initialSilenceTimeoutInSeconds",
            1,
            300,
        )
        attrs["inter_tone"] = _number(
            dtmf.get("interToneTimeoutInSeconds", 2),
            "recognizeOptions.dtmfOptions.interToneTimeoutInSeconds",
            1,
            60,
        )
        max_tones = dtmf.get("maxTonesToCollect", 1)
        if (
            isinstance(max_tones, bool)
            or not isinstance(max_tones, int)
            or not 1 <= max_tones <= 30
        ):
            raise BadRequest(
                "recognizeOptions.dtmfOptions.maxTonesToCollect: "
                "must be a whole number from 1 to 30."
            )
        attrs["max_tones"] = max_tones
        stop_tones = dtmf.get("stopTones")
        attrs["stop_tones"] = (
            []
            if stop_tones is None
            else parse_tones(stop_tones, "recognizeOptions.dtmfOptions.stopTones", max_count=16)
        )
        interrupt_prompt = options.get("interruptPrompt", False)
        if not isinstance(interrupt_prompt, bool):
            raise BadRequest("recognizeOptions.interruptPrompt: must be true or false.")
        attrs["interrupt_prompt"] = interrupt_prompt
        return attrs


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"{field}: must be a number from {low} to {high}.")
    return float(value)


class TargetBody(OperationBody):
    targetParticipant = IdentifierField()


class SendDtmfBody(TargetBody):
    tones = serializers.JSONField()

    def validate(self, attrs: dict) -> dict:
        attrs["tones"] = parse_tones(attrs["tones"], "tones", max_count=18)
        if not attrs["tones"]:
            raise BadRequest("tones: at least one tone is required.")
        return attrs


class HoldBody(TargetBody):
    playSourceInfo = serializers.JSONField(required=False)

    def validate(self, attrs: dict) -> dict:
        source = attrs.get("playSourceInfo")
        attrs["music"] = None if source is None else parse_play_source(source, "playSourceInfo")
        return attrs


class OutOfCallAddBody(AddParticipantBody):
    callbackUri = CallbackUriField()


class OutOfCallRemoveBody(RemoveParticipantBody):
    callbackUri = CallbackUriField()
