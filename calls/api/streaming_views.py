"""Media streaming and transcription routes: :startMediaStreaming, :stopMediaStreaming,
:startTranscription, :stopTranscription, :updateTranscription (all 202)."""

from rest_framework.request import Request
from rest_framework.response import Response

from callauto.errors import BadRequest
from calls import streaming_verbs
from calls.api.serializers import OperationBody, parse
from calls.api.streaming_serializers import LocaleBody
from calls.api.views import CallApiView

VERBS = (
    "startMediaStreaming",
    "stopMediaStreaming",
    "startTranscription",
    "stopTranscription",
    "updateTranscription",
)


class StreamingView(CallApiView):
    verb = ""

    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        with_locale = self.verb in ("startTranscription", "updateTranscription")
        data = parse(LocaleBody if with_locale else OperationBody, request)
        context = {
            "operation_context": data.get("operationContext", ""),
            "operation_callback_uri": data.get("operationCallbackUri", ""),
        }
        if self.verb == "startMediaStreaming":
            streaming_verbs.start_media_streaming(self.tenant, call_connection_id, **context)
        elif self.verb == "stopMediaStreaming":
            streaming_verbs.stop_media_streaming(self.tenant, call_connection_id, **context)
        elif self.verb == "startTranscription":
            streaming_verbs.start_transcription(
                self.tenant, call_connection_id, locale=data["locale"], **context
            )
        elif self.verb == "stopTranscription":
            streaming_verbs.stop_transcription(self.tenant, call_connection_id, **context)
        else:
            if not data["locale"]:
                raise BadRequest("locale: the new locale is required.")
            streaming_verbs.update_transcription(
                self.tenant, call_connection_id, locale=data["locale"], **context
            )
        return Response(status=202)
