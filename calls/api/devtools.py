"""Tenant API for trying things out without the portal (issue 17, item 14): scripted test
callees of the simulated carrier, and "ring one of my numbers" (an IncomingCall)."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callauto.errors import AcsError
from calls import incoming_verbs
from calls.callees import delete_callee, normalize_raw_id, save_callee
from calls.identifiers import parse_raw_id
from calls.models import SimulatedCallee
from tenants.api.base import TenantViewSet
from tenants.permissions import Action


class CalleeSerializer(serializers.ModelSerializer):
    rawId = serializers.CharField(source="raw_id", max_length=256)  # noqa: N815
    answerAfter = serializers.FloatField(source="answer_after", required=False)  # noqa: N815
    hangUpAfter = serializers.FloatField(  # noqa: N815
        source="hang_up_after", required=False, allow_null=True
    )
    keys = serializers.JSONField(
        required=False,
        help_text='Key presses: [[seconds, "1"], [seconds, "2", "prompt"], ...] (after the '
        'answer, or "prompt": into the next prompt played to the callee).',
    )

    class Meta:
        model = SimulatedCallee
        fields = ["id", "rawId", "outcome", "answerAfter", "hangUpAfter", "keys"]

    def validate_rawId(self, value: str) -> str:  # noqa: N802
        try:
            return normalize_raw_id(value)
        except DjangoValidationError as exc:
            raise ValidationError(exc.messages) from None


class CalleeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    """The simulated carrier's scripted callees: how a number answers when dialled."""

    model = SimulatedCallee
    serializer_class = CalleeSerializer
    permission_actions = {
        "list": Action.READ,
        "retrieve": Action.READ,
        **dict.fromkeys(["create", "update", "partial_update", "destroy"], Action.CALLEES_MANAGE),
    }

    def get_queryset(self) -> QuerySet[SimulatedCallee]:
        return super().get_queryset().order_by("pk")

    def perform_create(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, serializer.instance.pk)

    def perform_destroy(self, instance: SimulatedCallee) -> None:
        delete_callee(self.tenant, instance.pk, actor=self.request.user)

    def _save(self, serializer: serializers.Serializer, callee_id: int | None) -> None:
        try:
            serializer.instance = save_callee(
                self.tenant,
                actor=self.request.user,
                callee_id=callee_id,
                **serializer.validated_data,
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.messages) from exc


class CallerField(serializers.CharField):
    """Who calls: a number (+1...) or a raw id (4:+1..., 8:acs:...)."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data).strip()  # a string within max_length first
        try:
            return parse_raw_id(value if ":" in value else f"4:{value}", "from")
        except AcsError as exc:
            raise ValidationError(str(exc.detail)) from None


class RingSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=16, help_text="One of the tenant's numbers.")
    # "from" is a Python keyword: declared through the class namespace.
    vars()["from"] = CallerField(
        max_length=256, help_text="Who calls: +14255550199, 4:+1..., or 8:acs:..."
    )
    displayName = serializers.CharField(  # noqa: N815
        max_length=256, required=False, allow_blank=True, default=""
    )


class RingView(APIView):
    """Ring one of the tenant's numbers on the simulated carrier: the event webhook hears
    an IncomingCall, as the portal's Test callees page does."""

    permission_actions = {"post": Action.WEBHOOKS_MANAGE}

    @extend_schema(
        request=RingSerializer,
        responses={202: inline_serializer("Ringing", {"legId": serializers.CharField()})},
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        body = RingSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        command = incoming_verbs.simulate_incoming_call(
            request.tenant,
            to_number=data["to"],
            caller=data["from"],
            display_name=data["displayName"],
            actor=request.user,
        )
        return Response({"legId": command.payload["leg_id"]}, status=202)
