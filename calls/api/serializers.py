"""Request bodies of the Call Automation routes. They validate shape only; field names
are the wire's camelCase so DRF's field errors name what the client sent."""

from typing import Any

from django.core.validators import URLValidator
from rest_framework import serializers
from rest_framework.request import Request

from callauto import outbound
from callauto.errors import BadRequest, NotSupported
from calls import custom_context
from calls.api import streaming_options
from calls.identifiers import parse_identifier, parse_participant, parse_phone_value


class IdentifierField(serializers.Field):
    def to_internal_value(self, data: Any) -> Any:
        return parse_identifier(data, self.field_name)


class ParticipantField(IdentifierField):
    """Someone already in the call: the anonymous caller ("4:anonymous") included."""

    def to_internal_value(self, data: Any) -> Any:
        return parse_participant(data, self.field_name)


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
        "teamsAppSource": "Teams app source",
    }
    mediaStreamingOptions = serializers.JSONField(required=False)
    transcriptionOptions = serializers.JSONField(required=False)
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
        return _streams(attrs)


def _streams(attrs: dict) -> dict:
    attrs["media_streaming"] = streaming_options.media_streaming_options(
        attrs.get("mediaStreamingOptions")
    )
    attrs["transcription"] = streaming_options.transcription_options(
        attrs.get("transcriptionOptions")
    )
    return attrs


class OperationBody(Body):
    operationContext = serializers.CharField(required=False, max_length=5000, allow_blank=True)
    operationCallbackUri = CallbackUriField(required=False)


class AddParticipantBody(OperationBody):
    participantToAdd = IdentifierField()
    customCallingContext = serializers.JSONField(required=False)
    sourceCallerIdNumber = serializers.JSONField(required=False)
    sourceDisplayName = serializers.CharField(required=False, max_length=256, allow_blank=True)
    invitationTimeoutInSeconds = serializers.IntegerField(
        required=False, min_value=1, max_value=180
    )

    def validate(self, attrs: dict) -> dict:
        attrs["sourceCallerIdNumber"] = _phone_value(
            attrs.get("sourceCallerIdNumber"), "sourceCallerIdNumber"
        )
        attrs["custom_context"] = custom_context.parse(attrs.get("customCallingContext"))
        return attrs


class RemoveParticipantBody(OperationBody):
    participantToRemove = ParticipantField()


class CancelAddBody(OperationBody):
    invitationId = serializers.CharField(max_length=64)


class MuteBody(Body):
    targetParticipants = serializers.ListField(
        child=serializers.JSONField(), min_length=1, max_length=1
    )
    operationContext = serializers.CharField(required=False, max_length=5000, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        attrs["target"] = parse_participant(attrs["targetParticipants"][0], "targetParticipants[0]")
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
    unsupported = {"callIntelligenceOptions": "Cognitive Services integration"}
    incomingCallContext = serializers.CharField(max_length=8192)
    callbackUri = CallbackUriField()
    operationContext = serializers.CharField(required=False, max_length=5000, allow_blank=True)
    mediaStreamingOptions = serializers.JSONField(required=False)
    transcriptionOptions = serializers.JSONField(required=False)

    def validate(self, attrs: dict) -> dict:
        return _streams(attrs)


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
    targetParticipant = IdentifierField()
    customCallingContext = serializers.JSONField(required=False)
    transferee = serializers.JSONField(required=False)
    sourceCallerIdNumber = serializers.JSONField(required=False)

    def validate(self, attrs: dict) -> dict:
        transferee = attrs.get("transferee")
        attrs["transferee"] = (
            None if transferee is None else parse_participant(transferee, "transferee")
        )
        attrs["custom_context"] = custom_context.parse(attrs.get("customCallingContext"))
        attrs["sourceCallerIdNumber"] = _phone_value(
            attrs.get("sourceCallerIdNumber"), "sourceCallerIdNumber"
        )
        return attrs


class OutOfCallAddBody(AddParticipantBody):
    callbackUri = CallbackUriField()


class OutOfCallRemoveBody(RemoveParticipantBody):
    callbackUri = CallbackUriField()
