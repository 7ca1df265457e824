"""Tenant API for callback deliveries: list, inspect attempts, redeliver."""

from datetime import UTC
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from callauto.errors import BadRequest
from tenants.api.base import TenantViewSet
from tenants.permissions import Action
from webhooks import delivery as delivery_service
from webhooks.models import Delivery, DeliveryAttempt


def _label(name: str) -> serializers.CharField:
    """A label of the message; null when it has none (e.g. no call connection)."""
    return serializers.CharField(source=f"labels.{name}", default=None, allow_null=True)


class AttemptSerializer(serializers.ModelSerializer):
    startedAt = serializers.DateTimeField(source="started_at")  # noqa: N815
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)  # noqa: N815
    latencyMs = serializers.IntegerField(source="latency_ms")  # noqa: N815
    errorClass = serializers.CharField(source="error_class")  # noqa: N815
    responseExcerpt = serializers.CharField(source="response_excerpt")  # noqa: N815

    class Meta:
        model = DeliveryAttempt
        fields = ["number", "startedAt", "statusCode", "latencyMs", "errorClass", "responseExcerpt"]


class DeliverySerializer(serializers.ModelSerializer):
    webhookId = serializers.CharField(source="webhook_id")  # noqa: N815
    eventType = serializers.CharField(source="event_type")  # noqa: N815
    sequence = serializers.IntegerField()
    callConnectionId = _label("callConnectionId")  # noqa: N815
    serverCallId = _label("serverCallId")  # noqa: N815
    lastStatus = serializers.IntegerField(source="last_status", allow_null=True)  # noqa: N815
    lastError = serializers.CharField(source="last_error")  # noqa: N815
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)  # noqa: N815
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815

    class Meta:
        model = Delivery
        fields = [
            "id", "webhookId", "eventType", "sequence", "callConnectionId", "serverCallId",
            "url", "state", "attempts", "lastStatus", "lastError", "nextAttemptAt",
            "deliveredAt", "createdAt",
        ]  # fmt: skip


class DeliveryDetailSerializer(DeliverySerializer):
    attemptLog = AttemptSerializer(source="attempt_log", many=True)  # noqa: N815

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attemptLog"]


def _since(value: Any, field: str) -> Any:
    try:
        when = parse_datetime(value) if isinstance(value, str) else None
        # In UTC: PostgreSQL refuses offsets past ±15:59 that Python accepts.
        when = when.astimezone(UTC) if when is not None and when.tzinfo else None
    except (ValueError, OverflowError):  # a day 32, or a time UTC cannot hold
        when = None
    if when is None:
        raise BadRequest(f"{field}: must be an ISO 8601 time with a zone, e.g. 2026-11-25T10:00Z.")
    return when


def _param(name: str, description: str, kind: Any = OpenApiTypes.STR, **kw: Any) -> Any:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description, **kw)


LIST_FILTERS = [
    _param("state", "Only deliveries in this state.", enum=Delivery.State.values),
    _param("serverCallId", "Only events of this call."),
    _param("callConnectionId", "Only events of this call connection."),
    _param("url", "Only deliveries to this callback URL."),
    _param("since", "Only deliveries created at or after this time.", OpenApiTypes.DATETIME),
]


@extend_schema(methods=["GET"], parameters=LIST_FILTERS)
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = Delivery
    serializer_class = DeliverySerializer
    permission_actions = {
        "list": Action.READ,
        "retrieve": Action.READ,
        "redeliver": Action.DELIVERIES_REDELIVER,
        "redeliver_dead": Action.DELIVERIES_REDELIVER,
    }

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return DeliveryDetailSerializer if self.action == "retrieve" else DeliverySerializer

    def get_queryset(self) -> Any:
        rows = super().get_queryset().order_by("-created_at", "-pk")
        params = self.request.query_params
        if "state" in params:
            if params["state"] not in Delivery.State.values:
                raise BadRequest(f"state: must be one of {', '.join(Delivery.State.values)}.")
            rows = rows.filter(state=params["state"])
        if "serverCallId" in params:
            rows = rows.filter(labels__serverCallId=params["serverCallId"])
        if "callConnectionId" in params:
            rows = rows.filter(labels__callConnectionId=params["callConnectionId"])
        if "url" in params:
            rows = rows.filter(url=params["url"])
        if "since" in params:
            rows = rows.filter(created_at__gte=_since(params["since"], "since"))
        if self.action == "retrieve":
            rows = rows.prefetch_related("attempt_log")
        return rows

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        found = self.get_object()
        again = delivery_service.redeliver(self.tenant, found.pk, actor=request.user)
        return Response(DeliverySerializer(again).data, status=202)

    @extend_schema(
        operation_id="deliveries_redeliver_dead_since",
        request=inline_serializer("RedeliverSince", {"since": serializers.DateTimeField()}),
        responses={202: inline_serializer("Redelivered", {"count": serializers.IntegerField()})},
    )
    @action(detail=False, methods=["post"], url_path="redeliver")
    def redeliver_dead(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        since = _since(data.get("since"), "since")
        count = delivery_service.redeliver_dead_since(self.tenant, since, actor=request.user)
        return Response({"count": count}, status=202)
