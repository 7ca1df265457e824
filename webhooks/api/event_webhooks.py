"""Tenant API for the event webhook (Event Grid-style subscriptions: IncomingCall and other
call-independent events), as the portal's Webhooks page manages it (issue 17, item 14)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework import mixins, serializers
from rest_framework.exceptions import ValidationError

from tenants.api.base import TenantViewSet
from tenants.permissions import Action
from webhooks import subscriptions
from webhooks.models import EventSubscription


class EventWebhookSerializer(serializers.ModelSerializer):
    endpointUrl = serializers.URLField(source="endpoint_url", max_length=2048)  # noqa: N815
    eventTypes = serializers.ListField(  # noqa: N815
        source="event_types",
        child=serializers.CharField(max_length=100),
        required=False,
        default=list,
        max_length=50,
        help_text="Event types to receive (Microsoft.Communication.IncomingCall, ...); empty: all.",
    )
    lastError = serializers.CharField(source="last_error", read_only=True)  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)  # noqa: N815
    validatedAt = serializers.DateTimeField(  # noqa: N815
        source="validated_at", read_only=True, allow_null=True
    )

    class Meta:
        model = EventSubscription
        fields = [
            "id", "endpointUrl", "eventTypes", "state", "lastError", "createdAt", "validatedAt",
        ]  # fmt: skip
        read_only_fields = ["state"]


class EventWebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    """Add (it then answers the validation handshake), list and remove event webhooks."""

    model = EventSubscription
    serializer_class = EventWebhookSerializer
    permission_actions = {
        "list": Action.READ,
        "retrieve": Action.READ,
        "create": Action.WEBHOOKS_MANAGE,
        "destroy": Action.WEBHOOKS_MANAGE,
    }

    def get_queryset(self) -> QuerySet[EventSubscription]:
        return super().get_queryset().order_by("pk")

    def perform_create(self, serializer: serializers.Serializer) -> None:
        data = serializer.validated_data
        try:
            serializer.instance = subscriptions.subscribe_events(
                self.tenant,
                endpoint_url=data["endpoint_url"],
                event_types=data["event_types"],
                actor=self.request.user,
            )
        except DjangoValidationError as exc:
            raise ValidationError({"endpointUrl": exc.messages}) from exc

    def perform_destroy(self, instance: EventSubscription) -> None:
        subscriptions.unsubscribe_events(self.tenant, instance.pk, actor=self.request.user)
