"""Tenant API for recordings (`/t/<slug>/api/v1/recordings`): list, inspect, delete, and
set or lift a legal hold. Starting and stopping is the ACS route (`/calling/recordings`)."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from callauto.errors import BadRequest
from calls.api.serializers import StrictBooleanField
from recordings import locations, services
from recordings.models import Recording
from tenants.api.base import TenantViewSet
from tenants.permissions import Action


class ChunkSerializer(serializers.Serializer):
    """One stored file of a recording (the schema of RecordingSerializer.chunks)."""

    documentId = serializers.CharField()  # noqa: N815
    index = serializers.IntegerField()
    endReason = serializers.CharField()  # noqa: N815
    contentLocation = serializers.URLField()  # noqa: N815
    metadataLocation = serializers.URLField()  # noqa: N815
    deleteLocation = serializers.URLField()  # noqa: N815
    contentType = serializers.CharField()  # noqa: N815
    durationSeconds = serializers.FloatField()  # noqa: N815
    size = serializers.IntegerField()
    sha256 = serializers.CharField()


class RecordingSerializer(serializers.ModelSerializer):
    recordingId = serializers.CharField(source="recording_id")  # noqa: N815
    serverCallId = serializers.CharField(source="call.server_call_id")  # noqa: N815
    channelType = serializers.CharField(source="channel_type")  # noqa: N815
    channelOrder = serializers.JSONField(source="channel_order")  # noqa: N815
    startedBy = serializers.CharField(source="started_by")  # noqa: N815
    startedAt = serializers.DateTimeField(source="started_at")  # noqa: N815
    stoppedAt = serializers.DateTimeField(source="stopped_at", allow_null=True)  # noqa: N815
    endReason = serializers.CharField(source="end_reason")  # noqa: N815
    # Null while the recording runs (and for one that failed to start).
    recordedSeconds = serializers.FloatField(source="recorded_seconds", allow_null=True)  # noqa: N815
    legalHold = serializers.BooleanField(source="legal_hold")  # noqa: N815
    chunks = serializers.SerializerMethodField()

    class Meta:
        model = Recording
        fields = [
            "recordingId", "serverCallId", "state", "format", "channelType", "channelOrder",
            "startedBy", "startedAt", "stoppedAt", "endReason", "recordedSeconds", "legalHold",
            "chunks",
        ]  # fmt: skip

    @extend_schema_field(ChunkSerializer(many=True))
    def get_chunks(self, recording: Recording) -> list[dict[str, Any]]:
        return [
            {**locations.chunk_wire(chunk), "contentType": chunk.content_type,
             "durationSeconds": chunk.duration, "size": chunk.size, "sha256": chunk.sha256}
            for chunk in recording.chunks.all()
        ]  # fmt: skip


class LegalHoldBody(serializers.Serializer):
    legalHold = StrictBooleanField()  # noqa: N815


@extend_schema(
    methods=["GET"],
    parameters=[
        OpenApiParameter(
            "serverCallId", OpenApiTypes.STR, description="Only recordings of this call."
        )
    ],
)
class RecordingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet
):
    model = Recording
    serializer_class = RecordingSerializer
    permission_actions = {
        "list": Action.READ,
        "retrieve": Action.READ,
        "destroy": Action.RECORDINGS_DELETE,
        "partial_update": Action.RECORDINGS_LEGAL_HOLD,
    }
    lookup_field = "recording_id"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> Any:
        rows = super().get_queryset().select_related("call", "tenant").prefetch_related("chunks")
        if "serverCallId" in self.request.query_params:
            rows = rows.filter(call__server_call_id=self.request.query_params["serverCallId"])
        return rows.order_by("-started_at")

    def perform_destroy(self, instance: Recording) -> None:
        services.delete_recording(self.tenant, instance, actor=self.request.user)

    @extend_schema(request=LegalHoldBody, responses=RecordingSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """PATCH {"legalHold": true|false}."""
        recording = self.get_object()
        body = LegalHoldBody(data=request.data)
        if not isinstance(request.data, dict):
            raise BadRequest("The request body must be a JSON object.")
        body.is_valid(raise_exception=True)
        services.set_legal_hold(
            self.tenant, recording, held=body.validated_data["legalHold"], actor=request.user
        )
        return Response(self.get_serializer(recording).data)
