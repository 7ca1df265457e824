"""`/api/v1/trunks`: a tenant's SIP trunks (CRUD). The digest password is write-only
(`hasPassword` says whether one is set); `phoneNumbers` are the tenant's numbers whose
calls go over the trunk; `status` is what the gateway last saw (read-only)."""

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.exceptions import ValidationError

from callauto.errors import Conflict
from tenants import trunks
from tenants.api.base import TenantViewSet
from tenants.models import Trunk
from tenants.permissions import Action


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


class TrunkStatusSerializer(serializers.Serializer):
    pingStatus = serializers.IntegerField(source="ping_status", allow_null=True)  # noqa: N815
    pingRttMs = serializers.FloatField(source="ping_rtt_ms", allow_null=True)  # noqa: N815
    registration = serializers.ChoiceField(
        source="registration_state", choices=Trunk.Registration.choices
    )
    registrationStatus = serializers.IntegerField(  # noqa: N815
        source="registration_status", allow_null=True
    )
    gateway = serializers.CharField(source="status_gateway")
    checkedAt = serializers.DateTimeField(source="status_at", allow_null=True)  # noqa: N815


@extend_schema_field({"type": "array", "items": {"type": "string", "example": "+14255550123"}})
class NumbersField(serializers.ListField):
    """E.164 numbers in; out, the numbers bound to the trunk (a related manager)."""

    child = serializers.CharField(max_length=32)
    max_length = 1000

    def to_representation(self, numbers: Any) -> list[str]:
        return sorted(numbers.values_list("e164", flat=True))


class TrunkSerializer(serializers.ModelSerializer):
    proxyHost = serializers.CharField(source="proxy_host", max_length=253)  # noqa: N815
    proxyPort = serializers.IntegerField(  # noqa: N815
        source="proxy_port", min_value=1, max_value=65535, default=5060
    )
    username = serializers.CharField(max_length=100, required=False, allow_blank=True)
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=128,
        help_text="Digest password; write-only. Omit to keep the stored one, \"\" to clear.",
        style={"input_type": "password"},
    )  # fmt: skip
    hasPassword = serializers.SerializerMethodField()  # noqa: N815
    registerExpires = serializers.IntegerField(  # noqa: N815
        source="register_expires", min_value=60, max_value=86400, default=600
    )
    maxConcurrentCalls = serializers.IntegerField(  # noqa: N815
        source="max_concurrent_calls", min_value=1, max_value=1000, default=30
    )
    defaultCallerId = serializers.CharField(  # noqa: N815
        source="default_caller_id", max_length=32, required=False, allow_blank=True
    )
    stripPlus = serializers.BooleanField(source="strip_plus", default=False)  # noqa: N815
    inboundPrefix = serializers.CharField(  # noqa: N815
        source="inbound_prefix", max_length=8, default="+", allow_blank=True
    )
    sendPai = serializers.BooleanField(source="send_pai", default=False)  # noqa: N815
    phoneNumbers = NumbersField(source="phone_numbers", required=False)  # noqa: N815
    status = TrunkStatusSerializer(source="*", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)  # noqa: N815

    class Meta:
        model = Trunk
        fields = [
            "id", "name", "enabled", "proxyHost", "proxyPort", "transport", "domain",
            "username", "password", "hasPassword", "register", "registerExpires", "codecs",
            "maxConcurrentCalls", "defaultCallerId", "stripPlus", "inboundPrefix", "sendPai",
            "phoneNumbers", "status", "createdAt", "updatedAt",
        ]  # fmt: skip
        extra_kwargs = {"domain": {"required": False, "allow_blank": True}}

    def get_hasPassword(self, trunk: Trunk) -> bool:  # noqa: N802
        return bool(trunk.password_encrypted)


def field_errors(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as a 400 with a detail per (camelCase) field."""
    if hasattr(exc, "error_dict"):
        return ValidationError({_camel(k): v for k, v in exc.message_dict.items()})
    return ValidationError(exc.messages)


class TrunkViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    model = Trunk
    serializer_class = TrunkSerializer
    permission_actions = {
        "list": Action.READ,
        "retrieve": Action.READ,
        **dict.fromkeys(["create", "update", "partial_update", "destroy"], Action.TRUNKS_MANAGE),
    }

    def perform_create(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: serializers.Serializer, trunk: Trunk | None) -> None:
        data = dict(serializer.validated_data)
        try:
            serializer.instance = trunks.save_trunk(
                self.tenant, actor=self.request.user, trunk=trunk, **data
            )
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc

    def perform_destroy(self, instance: Trunk) -> None:
        try:
            trunks.delete_trunk(self.tenant, instance.pk, actor=self.request.user)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from None
