"""Recording routes (ACS-WIRE.md §4) and the chunk downloads their events point to."""

from typing import Any

from django.http import HttpResponse, JsonResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls.api.idempotency import once
from calls.api.serializers import parse
from recordings import ranges, services
from recordings.api.serializers import StartRecordingBody
from recordings.models import Recording
from recordings.services import RECORDING_KIND
from tenants.permissions import Action


def state_response(recording: Recording) -> dict[str, str]:
    return {
        "recordingId": recording.recording_id,
        "recordingState": recording.wire_state,
        "recordingKind": RECORDING_KIND,
    }


class RecordingApiView(APIView):
    # Starting, pausing and stopping a recording is driving the call (tenants.permissions).
    permission_actions = {
        "get": Action.READ,
        "post": Action.CALLS_DRIVE,
        "delete": Action.CALLS_DRIVE,
    }

    @property
    def tenant(self) -> Any:
        return self.request.tenant


class StartRecordingView(RecordingApiView):
    def post(self, request: Request, tenant_slug: str) -> Response:
        def act() -> Response:
            data = parse(StartRecordingBody, request)
            recording = services.start_recording(
                self.tenant, actor=request.user, options=data["options"], **data["locator"]
            )
            return Response(state_response(recording), status=200)

        return once(request, self.tenant, act)


class RecordingView(RecordingApiView):
    def get(self, request: Request, tenant_slug: str, recording_id: str) -> Response:
        return Response(state_response(services.get_recording(self.tenant, recording_id)))

    def delete(self, request: Request, tenant_slug: str, recording_id: str) -> Response:
        services.stop_recording(self.tenant, recording_id, actor=request.user)
        return Response(status=204)


class PauseView(RecordingApiView):
    def post(self, request: Request, tenant_slug: str, recording_id: str) -> Response:
        services.pause_recording(self.tenant, recording_id, actor=request.user)
        return Response(status=202)


class ResumeView(RecordingApiView):
    def post(self, request: Request, tenant_slug: str, recording_id: str) -> Response:
        services.resume_recording(self.tenant, recording_id, actor=request.user)
        return Response(status=202)


class ContentView(RecordingApiView):
    """The audio file; `Range: bytes=a-b` gets 206 with just those bytes."""

    def get(self, request: Request, tenant_slug: str, document_id: str) -> HttpResponse:
        return ranges.serve_chunk(request._request, services.get_chunk(self.tenant, document_id))


class MetadataView(RecordingApiView):
    def get(self, request: Request, tenant_slug: str, document_id: str) -> HttpResponse:
        chunk = services.get_chunk(self.tenant, document_id)
        return JsonResponse(chunk.metadata)


class ObjectView(RecordingApiView):
    """deleteLocation: deletes the recording the chunk belongs to (files and rows)."""

    permission_actions = {"delete": Action.RECORDINGS_DELETE}

    def delete(self, request: Request, tenant_slug: str, document_id: str) -> HttpResponse:
        chunk = services.get_chunk(self.tenant, document_id)
        services.delete_recording(self.tenant, chunk.recording, actor=request.user)
        return HttpResponse(status=200)
