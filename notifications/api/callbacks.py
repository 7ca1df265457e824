"""The notifications app's own callback endpoint: the platform POSTs each call's
CloudEvents here (durable delivery, JWT-signed, checked against our JWKS as a customer's
app would); the call flow advances on them. And the uploaded messages the engine fetches."""

from django.core.files.storage import default_storage
from django.http import FileResponse
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callauto.errors import BadRequest, NotFound
from notifications import calling
from notifications.models import Dial, Notification
from reminders.callback_auth import CallbackJwtAuthentication


class CallbackView(APIView):
    authentication_classes = [CallbackJwtAuthentication]
    permission_classes = [IsAuthenticated]
    schema = None  # not part of the tenant's API surface

    def post(self, request: Request, tenant_slug: str, token: str) -> Response:
        events = request.data
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise BadRequest("The body must be an array of CloudEvents.")
        try:
            calling.handle_events(request.tenant, token, events)
        except Dial.DoesNotExist:
            raise NotFound("No notification call has this callback.") from None
        return Response(status=204)


class AudioView(APIView):
    """An uploaded message, as the engine fetches a file play source: no credentials, the
    unguessable token (notifications.audio) is the key; another tenant's token is a 404."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = None

    def get(self, request: Request, tenant_slug: str, token: str) -> FileResponse:
        found = Notification.unscoped.filter(tenant__slug=tenant_slug, audio_token=token).exclude(
            audio_token=""
        )
        name = found.values_list("audio_file", flat=True).first()
        if not name:
            raise NotFound("No notification message has this address.")
        response = FileResponse(default_storage.open(name, "rb"), content_type="audio/wav")
        response["Cache-Control"] = "private, max-age=3600"
        return response
