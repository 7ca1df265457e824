"""Shapes of the reminders API (camelCase on the wire, like the rest of the API).

Serializers check shape and tenant ownership of related ids; the services check the rest
and their ValidationErrors come back as field errors (see views.field_errors).
"""

import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from reminders.models import (
    Appointment,
    Attempt,
    Contact,
    Disposition,
    ImportJob,
    ReminderPlan,
    Suppression,
)
from tenants.models import PhoneNumber
from tenants.phone import normalize_e164

MAX_BULK = 1000


def e164(value: str) -> str:
    try:
        return normalize_e164(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages[0]) from exc


def iana_zone(value: str) -> str:
    if value and value not in zoneinfo.available_timezones():
        raise serializers.ValidationError(f"{value!r} is not an IANA time zone.")
    return value


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
        "example": "09:00",
        "description": "A wall-clock time in the contact's zone, HH:MM[:SS] (no offset).",
    }
)
class LocalTimeField(serializers.TimeField):
    """A time of day without an offset: OpenAPI's `format: time` (RFC 3339) demands one."""


class TenantScoped:
    """Related-id fields see only the tenant's rows (another tenant's id: 'does not exist')."""

    scoped: dict[str, type] = {}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()  # type: ignore[misc]
        tenant = self.context.get("tenant")  # type: ignore[attr-defined]
        if tenant is None:
            return fields  # rendering a saved row, or the OpenAPI schema
        for name, model in self.scoped.items():
            if name in fields and not fields[name].read_only:
                fields[name].queryset = model.objects.for_tenant(tenant)
        return fields


class TagsField(serializers.ListField):
    """Contact tags on the wire as a list; stored as ",a,b," (Contact.stored_tags)."""

    child = serializers.CharField(max_length=50)

    def to_representation(self, value: Any) -> list[str]:
        return [t for t in str(value or "").split(",") if t]

    def to_internal_value(self, data: Any) -> str:
        return Contact.stored_tags(super().to_internal_value(data))


class ContactSerializer(serializers.ModelSerializer):
    tags = TagsField(required=False, max_length=50)
    area = serializers.CharField(
        required=False, allow_blank=True, max_length=100,
        help_text="Service address or zone: a free-text area, postal code or zone code.",
    )  # fmt: skip
    timeZone = serializers.CharField(
        source="time_zone", required=False, allow_blank=True, validators=[iana_zone]
    )
    externalId = serializers.CharField(
        source="external_id", required=False, allow_blank=True, max_length=100
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "phone",
            "timeZone",
            "language",
            "consent",
            "externalId",
            "tags",
            "area",
            "createdAt",
        ]

    def validate_phone(self, value: str) -> str:
        phone = e164(value)
        others = Contact.objects.for_tenant(self.context["tenant"]).filter(phone=phone)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("A contact with this number exists.")
        return phone


class PlanSerializer(TenantScoped, serializers.ModelSerializer):
    scoped = {"callerId": PhoneNumber}
    offsetsMinutes = serializers.ListField(
        source="offsets_minutes",
        child=serializers.IntegerField(min_value=1, max_value=60 * 24 * 30),
        min_length=1,
        max_length=10,
        required=False,
    )
    windowStart = LocalTimeField(source="window_start", required=False)
    windowEnd = LocalTimeField(source="window_end", required=False)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), max_length=7, required=False
    )
    callerId = serializers.SlugRelatedField(
        source="caller_id", slug_field="e164", queryset=PhoneNumber.unscoped.none()
    )
    promptTemplate = serializers.CharField(source="prompt_template", required=False)
    retryPolicy = serializers.DictField(source="retry_policy", required=False)
    maxAttempts = serializers.IntegerField(
        source="max_attempts", min_value=1, max_value=10, required=False
    )
    officeNumber = serializers.CharField(source="office_number", required=False, allow_blank=True)

    class Meta:
        model = ReminderPlan
        fields = [
            "id",
            "name",
            "offsetsMinutes",
            "windowStart",
            "windowEnd",
            "weekdays",
            "callerId",
            "promptTemplate",
            "voice",
            "language",
            "retryPolicy",
            "maxAttempts",
            "officeNumber",
            "active",
        ]

    def validate_officeNumber(self, value: str) -> str:
        return e164(value) if value else value


@extend_schema_serializer(component_name="ReminderAttempt")
class AttemptSerializer(serializers.ModelSerializer):
    reminderIndex = serializers.IntegerField(source="reminder_index")
    attemptNumber = serializers.IntegerField(source="attempt_number")
    callConnectionId = serializers.CharField(source="call_connection_id")
    serverCallId = serializers.CharField(source="server_call_id")
    dueAt = serializers.DateTimeField(source="due_at")
    # Empty until the call gets that far (or if it never does).
    disposition = serializers.ChoiceField(choices=Disposition.choices, allow_blank=True)
    dialedAt = serializers.DateTimeField(source="dialed_at", allow_null=True)
    connectedAt = serializers.DateTimeField(source="connected_at", allow_null=True)
    endedAt = serializers.DateTimeField(source="ended_at", allow_null=True)

    class Meta:
        model = Attempt
        fields = [
            "id",
            "appointment",
            "reminderIndex",
            "attemptNumber",
            "state",
            "disposition",
            "tones",
            "events",
            "detail",
            "callConnectionId",
            "serverCallId",
            "dueAt",
            "dialedAt",
            "connectedAt",
            "endedAt",
        ]
        read_only_fields = fields


class AppointmentSerializer(TenantScoped, serializers.ModelSerializer):
    scoped = {"contact": Contact, "plan": ReminderPlan}
    externalId = serializers.CharField(source="external_id", max_length=100)
    startsAt = serializers.DateTimeField(source="starts_at")
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.unscoped.none())
    plan = serializers.PrimaryKeyRelatedField(queryset=ReminderPlan.unscoped.none())
    nextReminderIndex = serializers.IntegerField(source="next_reminder_index", read_only=True)
    # Null once nothing more is due (all reminders done, or a call in flight).
    nextAttemptAt = serializers.DateTimeField(
        source="next_attempt_at", read_only=True, allow_null=True
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Appointment
        fields = [
            "id",
            "externalId",
            "contact",
            "plan",
            "startsAt",
            "provider",
            "location",
            "status",
            "nextReminderIndex",
            "nextAttemptAt",
            "createdAt",
            "updatedAt",
        ]


class AppointmentDetailSerializer(AppointmentSerializer):
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(AppointmentSerializer.Meta):
        fields = [*AppointmentSerializer.Meta.fields, "attempts"]


class BulkContactSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    phone = serializers.CharField(validators=[e164])
    timeZone = serializers.CharField(required=False, allow_blank=True, validators=[iana_zone])
    language = serializers.CharField(required=False, max_length=16)
    consent = serializers.BooleanField(required=False)

    def validate_phone(self, value: str) -> str:
        return e164(value)


class BulkAppointmentSerializer(TenantScoped, serializers.Serializer):
    """One appointment of a bulk upsert; the contact is given inline (upserted by phone)."""

    scoped = {"plan": ReminderPlan}
    externalId = serializers.CharField(max_length=100)
    contact = BulkContactSerializer()
    plan = serializers.PrimaryKeyRelatedField(queryset=ReminderPlan.unscoped.none())
    startsAt = serializers.DateTimeField()
    provider = serializers.CharField(required=False, allow_blank=True, max_length=200)
    location = serializers.CharField(required=False, allow_blank=True, max_length=200)
    status = serializers.ChoiceField(choices=Appointment.Status.choices, required=False)


class BulkSerializer(serializers.Serializer):
    appointments = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=MAX_BULK
    )

    def validate_appointments(self, value: list[dict]) -> list[dict]:
        items = BulkAppointmentSerializer(data=value, many=True, context=self.context)
        items.is_valid(raise_exception=True)
        ids = [item["externalId"] for item in items.validated_data]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("An externalId appears twice.")
        return items.validated_data


class SuppressionSerializer(serializers.ModelSerializer):
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    source = serializers.ChoiceField(choices=Suppression.Source.choices, read_only=True)

    class Meta:
        model = Suppression
        fields = ["id", "phone", "reason", "source", "createdAt"]

    def validate_phone(self, value: str) -> str:
        return e164(value)


class ImportSerializer(TenantScoped, serializers.Serializer):
    scoped = {"plan": ReminderPlan}
    plan = serializers.PrimaryKeyRelatedField(queryset=ReminderPlan.unscoped.none())
    csv = serializers.CharField(required=False, trim_whitespace=False)
    file = serializers.FileField(required=False)
    skipBadRows = serializers.BooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("file") is not None:
            try:
                attrs["csv"] = attrs.pop("file").read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise serializers.ValidationError({"file": "The file is not UTF-8 text."}) from None
        if not attrs.get("csv"):
            raise serializers.ValidationError({"csv": "Send the CSV as `csv` text or a `file`."})
        return attrs


class ImportJobSerializer(serializers.ModelSerializer):
    totalRows = serializers.IntegerField(source="total_rows")
    processedRows = serializers.IntegerField(source="processed_rows")
    created = serializers.IntegerField(source="created_count")
    updated = serializers.IntegerField(source="updated_count")
    skipBadRows = serializers.BooleanField(source="skip_bad_rows")
    createdAt = serializers.DateTimeField(source="created_at")
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "plan",
            "state",
            "skipBadRows",
            "totalRows",
            "processedRows",
            "created",
            "updated",
            "errors",
            "createdAt",
            "finishedAt",
        ]
        read_only_fields = fields
