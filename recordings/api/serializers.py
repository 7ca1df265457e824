"""The StartRecording body (ACS-WIRE.md §4): shape only; the call is found by services."""

import uuid
from typing import Any

from rest_framework import serializers

from callauto.errors import BadRequest, NotSupported
from calls.api.serializers import Body, CallbackUriField, StrictBooleanField
from calls.identifiers import parse_identifier
from recordings.services import RecordingOptions

LOCATOR_IDS = {"serverCallLocator": "serverCallId", "groupCallLocator": "groupCallId"}


class StartRecordingBody(Body):
    unsupported = {"externalStorage": "Recording to external storage (bring your own)"}

    callLocator = serializers.DictField(required=False)
    callConnectionId = serializers.CharField(required=False, max_length=64)
    recordingStateCallbackUri = CallbackUriField(required=False, allow_blank=True)
    recordingContentType = serializers.ChoiceField(
        choices=["audio", "audioVideo"], required=False, default="audio"
    )
    recordingChannelType = serializers.ChoiceField(
        choices=["mixed", "unmixed"], required=False, default="mixed"
    )
    recordingFormatType = serializers.ChoiceField(
        choices=["wav", "mp3", "mp4"], required=False, default="wav"
    )
    channelAffinity = serializers.ListField(
        child=serializers.DictField(), required=False, max_length=64
    )
    audioChannelParticipantOrdering = serializers.ListField(
        child=serializers.JSONField(), required=False, max_length=64
    )
    pauseOnStart = StrictBooleanField(required=False, default=False)

    def validate(self, attrs: dict) -> dict:
        if attrs["recordingContentType"] == "audioVideo":
            raise NotSupported("recordingContentType audioVideo: callauto records audio only.")
        if attrs["recordingFormatType"] == "mp4":
            raise NotSupported("recordingFormatType mp4 is video; record audio as wav or mp3.")
        attrs["locator"] = self._locator(attrs)
        order = self._channel_order(attrs)
        if len(set(order)) != len(order):
            raise BadRequest("channelAffinity: a participant is listed twice.")
        if attrs["recordingChannelType"] == "unmixed" and attrs["recordingFormatType"] != "wav":
            raise BadRequest(
                "recordingFormatType: unmixed recordings are wav only (one channel per "
                "participant); use wav, or a mixed recording for mp3.",
                code="UnsupportedRecordingOptions",
            )
        attrs["options"] = RecordingOptions(
            channel_type=attrs["recordingChannelType"],
            format=attrs["recordingFormatType"],
            channel_order=order,
            pause_on_start=attrs["pauseOnStart"],
            state_callback_uri=attrs.get("recordingStateCallbackUri") or "",
        )
        return attrs

    @staticmethod
    def _locator(attrs: dict) -> dict[str, str]:
        locator, connection_id = attrs.get("callLocator"), attrs.get("callConnectionId")
        if (locator is None) == (connection_id is None):
            raise BadRequest("Give exactly one of callLocator and callConnectionId.")
        if connection_id is not None:
            return {"call_connection_id": connection_id}
        kind = locator.get("kind")
        if kind == "roomCallLocator":
            raise NotSupported("callLocator: rooms are not supported by callauto.")
        if kind not in LOCATOR_IDS:
            raise BadRequest("callLocator.kind: must be serverCallLocator or groupCallLocator.")
        value = locator.get(LOCATOR_IDS[kind])
        if not isinstance(value, str) or not value or len(value) > 256:
            raise BadRequest(f"callLocator.{LOCATOR_IDS[kind]}: required, a non-empty id.")
        if kind == "groupCallLocator":
            try:
                uuid.UUID(value)
            except ValueError:
                raise BadRequest("callLocator.groupCallId: must be a GUID.") from None
            return {"group_call_id": value}
        return {"server_call_id": value}

    @staticmethod
    def _channel_order(attrs: dict) -> list[str]:
        """rawIds in channel order: channelAffinity by channel, else the ordering list."""
        affinity: list[dict[str, Any]] = attrs.get("channelAffinity") or []
        if affinity:
            pairs = []
            for index, item in enumerate(affinity):
                channel = item.get("channel", index)
                if not isinstance(channel, int) or isinstance(channel, bool) or channel < 0:
                    raise BadRequest(f"channelAffinity[{index}].channel: a channel number ≥ 0.")
                if "participant" not in item:
                    raise BadRequest(f"channelAffinity[{index}].participant: required.")
                who = parse_identifier(item["participant"], f"channelAffinity[{index}].participant")
                pairs.append((channel, who.raw_id))
            channels = [channel for channel, _ in pairs]
            if len(set(channels)) != len(channels):
                raise BadRequest("channelAffinity: each channel may hold one participant.")
            return [raw for _, raw in sorted(pairs)]
        ordering = attrs.get("audioChannelParticipantOrdering") or []
        return [
            parse_identifier(item, f"audioChannelParticipantOrdering[{index}]").raw_id
            for index, item in enumerate(ordering)
        ]
