"""Shapes of the notifications API (camelCase on the wire, like the rest of the API).

Serializers check shape and tenant ownership of related ids; the services check the rest
and their ValidationErrors come back as field errors."""

import binascii
from base64 import b64decode
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from notifications import audio
from notifications.models import KEY_CHOICES, Audience, Dial, Disposition, Notification, Recipient
from reminders.api.serializers import TenantScoped
from reminders.models import Contact
from tenants.models import PhoneNumber


class ScopedMany(TenantScoped):
    """TenantScoped for many-valued related fields too (their child relation's queryset)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        tenant = self.context.get("tenant")  # type: ignore[attr-defined]
        if tenant is None:
            return fields
        for name, model in self.scoped.items():
            field = fields.get(name)
            if isinstance(field, serializers.ManyRelatedField) and not field.read_only:
                field.child_relation.queryset = model.objects.for_tenant(tenant)
        return fields


class AudienceSerializer(ScopedMany, serializers.ModelSerializer):
    scoped = {"members": Contact}
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=50, required=False
    )
    areas = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=500, required=False
    )
    members = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Contact.unscoped.none(), required=False
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Audience
        fields = ["id", "name", "everyone", "tags", "areas", "members", "createdAt"]


class AudienceCountSerializer(serializers.Serializer):
    matching = serializers.IntegerField()
    reachable = serializers.IntegerField(help_text="What a normal notification dials.")
    lifeSafety = serializers.IntegerField(help_text="What a life-safety notification dials.")
    optedOut = serializers.IntegerField(help_text="Left out even for life-safety.")
    firstRows = serializers.ListField(child=serializers.DictField())


class AudienceUploadSerializer(serializers.Serializer):
    csv = serializers.CharField(required=False, trim_whitespace=False)
    file = serializers.FileField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("file") is not None:
            try:
                attrs["csv"] = attrs.pop("file").read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise serializers.ValidationError({"file": "The file is not UTF-8 text."}) from None
        if not attrs.get("csv"):
            raise serializers.ValidationError({"csv": "Send the CSV as `csv` text or a `file`."})
        return attrs


class AudioUploadSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="The WAV, as multipart/form-data.")
    base64 = serializers.CharField(
        required=False, help_text="Or the WAV base64-encoded, in a JSON body."
    )
    fileName = serializers.CharField(required=False, max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        upload = attrs.pop("file", None)
        if upload is not None:
            attrs["data"] = upload.read(audio.MAX_BYTES + 1)
            attrs.setdefault("fileName", upload.name or "")
        elif attrs.get("base64"):
            try:
                attrs["data"] = b64decode(attrs.pop("base64"), validate=True)
            except (binascii.Error, ValueError):
                raise serializers.ValidationError({"base64": "Not valid base64."}) from None
        else:
            raise serializers.ValidationError({"file": "Send the WAV as a `file` or `base64`."})
        return attrs


class NotificationSerializer(ScopedMany, serializers.ModelSerializer):
    scoped = {"audience": Audience, "callerIds": PhoneNumber}
    audience = serializers.PrimaryKeyRelatedField(queryset=Audience.unscoped.none())
    audioUrl = serializers.URLField(source="audio_url", required=False, allow_blank=True)
    audioName = serializers.CharField(
        source="audio_name",
        read_only=True,
        help_text="The uploaded WAV (POST .../audio), played instead of the text; empty if none.",
    )
    audioSeconds = serializers.FloatField(source="audio_seconds", read_only=True)
    ackKey = serializers.ChoiceField(source="ack_key", choices=KEY_CHOICES, required=False)
    replayKey = serializers.ChoiceField(source="replay_key", choices=KEY_CHOICES, required=False)
    optOutKey = serializers.ChoiceField(source="opt_out_key", choices=KEY_CHOICES, required=False)
    maxReplays = serializers.IntegerField(
        source="max_replays", min_value=0, max_value=5, required=False
    )
    lifeSafety = serializers.BooleanField(source="life_safety", required=False)
    callerIds = serializers.SlugRelatedField(
        source="caller_ids",
        slug_field="e164",
        many=True,
        queryset=PhoneNumber.unscoped.none(),
        help_text="The caller-ID pool: the tenant's numbers, used round-robin.",
    )
    perNumberConcurrency = serializers.IntegerField(
        source="per_number_concurrency", min_value=1, max_value=10000, required=False
    )
    scheduledAt = serializers.DateTimeField(source="scheduled_at", required=False, allow_null=True)
    expiresAfterMinutes = serializers.IntegerField(
        source="expires_after_minutes", min_value=1, max_value=7 * 24 * 60, required=False
    )
    maxRounds = serializers.IntegerField(
        source="max_rounds", min_value=1, max_value=10, required=False
    )
    retryDelayMinutes = serializers.IntegerField(
        source="retry_delay_minutes", min_value=1, max_value=24 * 60, required=False
    )
    eventsUrl = serializers.URLField(source="events_url", required=False, allow_blank=True)
    hangUpOnCancel = serializers.BooleanField(source="hang_up_on_cancel", required=False)
    status = serializers.ChoiceField(choices=Notification.Status.choices, read_only=True)
    launchedAt = serializers.DateTimeField(source="launched_at", read_only=True, allow_null=True)
    startedAt = serializers.DateTimeField(source="started_at", read_only=True, allow_null=True)
    completedAt = serializers.DateTimeField(source="completed_at", read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "name",
            "audience",
            "message",
            "audioUrl",
            "audioName",
            "audioSeconds",
            "language",
            "voice",
            "ackKey",
            "replayKey",
            "optOutKey",
            "maxReplays",
            "lifeSafety",
            "callerIds",
            "perNumberConcurrency",
            "priority",
            "scheduledAt",
            "expiresAfterMinutes",
            "maxRounds",
            "retryDelayMinutes",
            "eventsUrl",
            "hangUpOnCancel",
            "status",
            "launchedAt",
            "startedAt",
            "completedAt",
        ]


class CancelSerializer(serializers.Serializer):
    hangUp = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Hang up calls in progress (default: the notification's hangUpOnCancel).",
    )


class PreviewSerializer(serializers.Serializer):
    audienceSize = serializers.IntegerField()
    matching = serializers.IntegerField()
    suppressedLeftOut = serializers.IntegerField()
    lifeSafetyOverrides = serializers.IntegerField()
    optedOut = serializers.IntegerField()
    etaSeconds = serializers.IntegerField()
    callsPerSecond = serializers.IntegerField()
    maxConcurrentCalls = serializers.IntegerField()
    quietHoursIgnored = serializers.BooleanField()
    firstRows = serializers.ListField(child=serializers.DictField())


class ProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Notification.Status.choices)
    total = serializers.IntegerField()
    dialled = serializers.IntegerField()
    calls = serializers.IntegerField()
    ringing = serializers.IntegerField()
    inCall = serializers.IntegerField()
    answered = serializers.IntegerField()
    reached = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    voicemail = serializers.IntegerField()
    busy = serializers.IntegerField()
    noAnswer = serializers.IntegerField()
    failed = serializers.IntegerField()
    outcomes = serializers.DictField(child=serializers.IntegerField())
    remaining = serializers.IntegerField()
    inFlight = serializers.IntegerField()
    callsPerSecond = serializers.FloatField()
    etaSeconds = serializers.IntegerField()
    reachPercent = serializers.IntegerField()
    chart = serializers.ListField(child=serializers.DictField())
    zones = serializers.ListField(child=serializers.DictField())


@extend_schema_serializer(component_name="NotificationDial")
class DialSerializer(serializers.ModelSerializer):
    callerId = serializers.CharField(source="caller_id")
    disposition = serializers.ChoiceField(choices=Disposition.choices, allow_blank=True)
    callConnectionId = serializers.CharField(source="call_connection_id")
    dialedAt = serializers.DateTimeField(source="dialed_at")
    connectedAt = serializers.DateTimeField(source="connected_at", allow_null=True)
    endedAt = serializers.DateTimeField(source="ended_at", allow_null=True)

    class Meta:
        model = Dial
        fields = [
            "round",
            "callerId",
            "state",
            "disposition",
            "tones",
            "replays",
            "detail",
            "callConnectionId",
            "dialedAt",
            "connectedAt",
            "endedAt",
        ]
        read_only_fields = fields


class RecipientSerializer(serializers.ModelSerializer):
    disposition = serializers.ChoiceField(choices=Disposition.choices, allow_blank=True)
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    dialCount = serializers.IntegerField(source="dial_count")
    acknowledgedAt = serializers.DateTimeField(source="acknowledged_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    overridesSuppression = serializers.BooleanField(source="overrides_suppression")
    dials = DialSerializer(many=True, read_only=True)

    class Meta:
        model = Recipient
        fields = [
            "id",
            "contact",
            "name",
            "phone",
            "area",
            "language",
            "state",
            "disposition",
            "round",
            "dialCount",
            "nextAttemptAt",
            "acknowledgedAt",
            "finishedAt",
            "overridesSuppression",
            "dials",
        ]
        read_only_fields = fields
