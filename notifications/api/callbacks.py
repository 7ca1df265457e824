"""The notifications app's own callback endpoint: the platform POSTs each call's
CloudEvents here (durable delivery, JWT-signed, checked against our JWKS as a customer's
app would); the call flow advances on them."""

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callauto.errors import BadRequest, NotFound
from notifications import calling
from notifications.models import Dial
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
