"""The ACS-compatible Call Automation routes (ACS-WIRE.md §4), keyed by callConnectionId.

Views parse the body, call one service, and answer with exactly the status code the
SDK accepts for that operation.
"""

from typing import Any

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callauto.errors import NotFound, NotSupported
from calls import (
    call_verbs,
    incoming_verbs,
    lookups,
    media_verbs,
    participant_verbs,
    server_call_verbs,
    streaming_verbs,
)
from calls.api import render
from calls.api.idempotency import once
from calls.api.media_serializers import (
    HoldBody,
    PlayBody,
    RecognizeBody,
    SendDtmfBody,
    TargetBody,
)
from calls.api.serializers import (
    AddParticipantBody,
    AnswerBody,
    CancelAddBody,
    ConnectBody,
    CreateCallBody,
    MuteBody,
    OutOfCallAddBody,
    OutOfCallRemoveBody,
    RedirectBody,
    RejectBody,
    RemoveParticipantBody,
    TransferBody,
    parse,
)
from calls.identifiers import parse_participant_raw_id
from calls.models import Participant
from tenants.permissions import Action


def _context(data: dict) -> dict[str, str]:
    return {
        "operation_context": data.get("operationContext", ""),
        "operation_callback_uri": data.get("operationCallbackUri", ""),
    }


def _echo(data: dict) -> dict:
    return {"operationContext": data["operationContext"]} if data.get("operationContext") else {}


class CallApiView(APIView):
    # Reading a call is for any key; everything else drives calls (tenants.permissions).
    permission_actions = {
        "get": Action.READ,
        "post": Action.CALLS_DRIVE,
        "delete": Action.CALLS_DRIVE,
    }

    @property
    def tenant(self) -> Any:
        return self.request.tenant


class CreateCallView(CallApiView):
    def post(self, request: Request, tenant_slug: str) -> Response:
        def act() -> Response:
            data = parse(CreateCallBody, request)
            connection = call_verbs.create_call(
                self.tenant,
                targets=data["targets"],
                callback_uri=data["callbackUri"],
                source_caller_id=data["sourceCallerIdNumber"],
                source_display_name=data.get("sourceDisplayName", ""),
                operation_context=data.get("operationContext", ""),
            )
            streaming_verbs.configure(
                connection,
                media_streaming=data["media_streaming"],
                transcription=data["transcription"],
            )
            return Response(render.connection_properties(connection), status=201)

        return once(request, self.tenant, act)


class AnswerCallView(CallApiView):
    def post(self, request: Request, tenant_slug: str) -> Response:
        def act() -> Response:
            data = parse(AnswerBody, request)
            connection = incoming_verbs.answer_call(
                self.tenant,
                incoming_call_context=data["incomingCallContext"],
                callback_uri=data["callbackUri"],
                operation_context=data.get("operationContext", ""),
            )
            streaming_verbs.configure(
                connection,
                media_streaming=data["media_streaming"],
                transcription=data["transcription"],
            )
            return Response(render.connection_properties(connection), status=200)

        return once(request, self.tenant, act)


class RedirectCallView(CallApiView):
    def post(self, request: Request, tenant_slug: str) -> Response:
        def act() -> Response:
            data = parse(RedirectBody, request)
            incoming_verbs.redirect_call(
                self.tenant,
                incoming_call_context=data["incomingCallContext"],
                target=data["target"],
            )
            return Response(status=status.HTTP_204_NO_CONTENT)

        return once(request, self.tenant, act)


class RejectCallView(CallApiView):
    def post(self, request: Request, tenant_slug: str) -> Response:
        def act() -> Response:
            data = parse(RejectBody, request)
            incoming_verbs.reject_call(
                self.tenant,
                incoming_call_context=data["incomingCallContext"],
                reason=data["callRejectReason"],
            )
            return Response(status=status.HTTP_204_NO_CONTENT)

        return once(request, self.tenant, act)


class ConnectCallView(CallApiView):
    def post(self, request: Request, tenant_slug: str) -> Response:
        def act() -> Response:
            data = parse(ConnectBody, request)
            connection = call_verbs.connect_call(
                self.tenant,
                server_call_id=data["callLocator"],
                callback_uri=data["callbackUri"],
                operation_context=data.get("operationContext", ""),
            )
            return Response(render.connection_properties(connection), status=200)

        return once(request, self.tenant, act)


class TransferView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        def act() -> Response:
            data = parse(TransferBody, request)
            participant_verbs.transfer_to_participant(
                self.tenant,
                call_connection_id,
                target=data["targetParticipant"],
                transferee=data["transferee"],
                source_caller_id=data["sourceCallerIdNumber"],
                custom_context=data["custom_context"],
                **_context(data),
            )
            return Response(_echo(data), status=202)

        return once(request, self.tenant, act)


class CallConnectionView(CallApiView):
    def get(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        connection = lookups.get_connection(self.tenant, call_connection_id)
        return Response(render.connection_properties(connection))

    def delete(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        call_verbs.hang_up(self.tenant, call_connection_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TerminateView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        def act() -> Response:
            call_verbs.terminate(self.tenant, call_connection_id)
            return Response(status=status.HTTP_204_NO_CONTENT)

        return once(request, self.tenant, act)


class ParticipantsView(CallApiView):
    def get(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        connection = lookups.get_connection(self.tenant, call_connection_id)
        rows = render.CONNECTED_PARTICIPANTS.rows(connection.call_id)
        return Response({"value": [render.participant(p) for (p,) in rows]})


class ParticipantView(CallApiView):
    def get(
        self, request: Request, tenant_slug: str, call_connection_id: str, raw_id: str
    ) -> Response:
        connection = lookups.get_connection(self.tenant, call_connection_id)
        # Django has already percent-decoded the path (like unquote: "+" stays "+").
        target = parse_participant_raw_id(raw_id, "participantRawId")
        found = Participant.unscoped.filter(
            call_id=connection.call_id, raw_id=target.raw_id, state=Participant.State.CONNECTED
        ).first()
        if found is None:
            raise NotFound(f"{target.raw_id} is not in this call.", code="ParticipantNotFound")
        return Response(render.participant(found))


class AddParticipantView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        def act() -> Response:
            data = parse(AddParticipantBody, request)
            participant = participant_verbs.add_participant(
                self.tenant,
                call_connection_id,
                target=data["participantToAdd"],
                source_caller_id=data["sourceCallerIdNumber"],
                invitation_timeout=data.get("invitationTimeoutInSeconds"),
                custom_context=data["custom_context"],
                **_context(data),
            )
            body = {
                "participant": render.participant(participant),
                "invitationId": participant.invitation_id,
                **_echo(data),
            }
            return Response(body, status=202)

        return once(request, self.tenant, act)


class RemoveParticipantView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        def act() -> Response:
            data = parse(RemoveParticipantBody, request)
            participant_verbs.remove_participant(
                self.tenant,
                call_connection_id,
                target=data["participantToRemove"],
                **_context(data),
            )
            return Response(_echo(data), status=202)

        return once(request, self.tenant, act)


class CancelAddParticipantView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        def act() -> Response:
            data = parse(CancelAddBody, request)
            participant_verbs.cancel_add_participant(
                self.tenant,
                call_connection_id,
                invitation_id=data["invitationId"],
                **_context(data),
            )
            return Response({"invitationId": data["invitationId"], **_echo(data)}, status=202)

        return once(request, self.tenant, act)


class MuteParticipantView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        def act() -> Response:
            data = parse(MuteBody, request)
            participant_verbs.mute_participant(
                self.tenant,
                call_connection_id,
                target=data["target"],
                operation_context=data.get("operationContext", ""),
            )
            return Response(_echo(data), status=200)

        return once(request, self.tenant, act)


class PlayView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        data = parse(PlayBody, request)
        media_verbs.play(
            self.tenant,
            call_connection_id,
            sources=data["sources"],
            play_to=data["targets"],
            loop=data["loop"],
            interrupt=data["interruptCallMediaOperation"],
            **_context(data),
        )
        return Response(status=202)


class RecognizeView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        data = parse(RecognizeBody, request)
        media_verbs.recognize(
            self.tenant,
            call_connection_id,
            input_type=data["input_type"],
            choices=data["choices"],
            end_silence=data["end_silence"],
            target=data["target"],
            prompts=data["prompts"],
            interrupt_prompt=data["interrupt_prompt"],
            initial_silence=data["initial_silence"],
            inter_tone=data["inter_tone"],
            max_tones=data["max_tones"],
            stop_tones=data["stop_tones"],
            interrupt=data["interruptCallMediaOperation"],
            **_context(data),
        )
        return Response(status=202)


class CancelAllMediaView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        media_verbs.cancel_all_media(self.tenant, call_connection_id)
        return Response(status=202)


class ContinuousDtmfView(CallApiView):
    on = True

    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        data = parse(TargetBody, request)
        media_verbs.set_continuous_dtmf(
            self.tenant,
            call_connection_id,
            target=data["targetParticipant"],
            on=self.on,
            **_context(data),
        )
        return Response(status=200)


class SendDtmfView(CallApiView):
    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        def act() -> Response:
            data = parse(SendDtmfBody, request)
            media_verbs.send_dtmf(
                self.tenant,
                call_connection_id,
                tones=data["tones"],
                target=data["targetParticipant"],
                **_context(data),
            )
            return Response(_echo(data), status=202)

        return once(request, self.tenant, act)


class HoldView(CallApiView):
    on = True

    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        data = parse(HoldBody if self.on else TargetBody, request)
        media_verbs.set_hold(
            self.tenant,
            call_connection_id,
            target=data["targetParticipant"],
            on=self.on,
            music=data.get("music"),
            **_context(data),
        )
        return Response(status=200)


class OutOfCallAddView(CallApiView):
    def post(self, request: Request, tenant_slug: str, server_call_id: str) -> Response:
        def act() -> Response:
            data = parse(OutOfCallAddBody, request)
            participant = server_call_verbs.add_participant_out_of_call(
                self.tenant,
                server_call_id,
                target=data["participantToAdd"],
                callback_uri=data["callbackUri"],
                source_caller_id=data["sourceCallerIdNumber"],
                invitation_timeout=data.get("invitationTimeoutInSeconds"),
                operation_context=data.get("operationContext", ""),
            )
            body = {
                "participant": render.participant(participant),
                "invitationId": participant.invitation_id,
                **_echo(data),
            }
            return Response(body, status=202)

        return once(request, self.tenant, act)


class OutOfCallRemoveView(CallApiView):
    def post(self, request: Request, tenant_slug: str, server_call_id: str) -> Response:
        def act() -> Response:
            data = parse(OutOfCallRemoveBody, request)
            server_call_verbs.remove_participant_out_of_call(
                self.tenant,
                server_call_id,
                target=data["participantToRemove"],
                callback_uri=data["callbackUri"],
                operation_context=data.get("operationContext", ""),
            )
            return Response(_echo(data), status=202)

        return once(request, self.tenant, act)


class NotSupportedView(CallApiView):
    """Operations of the ACS API that callauto does not implement: a clear 400."""

    feature = ""

    def post(self, request: Request, tenant_slug: str, call_connection_id: str) -> Response:
        lookups.get_connection(self.tenant, call_connection_id)  # foreign ids stay 404
        raise NotSupported(f"{self.feature} is not supported by callauto yet.")
