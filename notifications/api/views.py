"""The notifications part of the tenant REST API (`/t/<slug>/api/v1/`): audiences (with
a live count and CSV upload) and notifications (create, preview, launch, pause, resume,
cancel, progress, results). Each operation's action in the permission table is named on
its view (tenants.permissions)."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models.deletion import ProtectedError
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from callauto.errors import Conflict, NotFound
from callauto.parsers import JSONParser
from notifications import audiences, audio, progress, services
from notifications.api import serializers as s
from notifications.models import Audience, Disposition, Notification, Recipient
from reminders.api.views import field_errors
from tenants.api.base import TenantViewSet
from tenants.api.filters import ApiFilterSet
from tenants.permissions import Action

READ = {"list": Action.READ, "retrieve": Action.READ}
EDIT = Action.NOTIFICATIONS_EDIT
LAUNCH = Action.NOTIFICATIONS_LAUNCH


class RecipientFilter(ApiFilterSet):
    disposition = filters.ChoiceFilter(choices=Disposition.choices)
    state = filters.ChoiceFilter(choices=Recipient.State.choices)
    area = filters.CharFilter()
    phone = filters.CharFilter()
    round = filters.NumberFilter()
    acknowledged = filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = Recipient
        fields: list[str] = []


class NotificationFilter(ApiFilterSet):
    status = filters.ChoiceFilter(choices=Notification.Status.choices)

    class Meta:
        model = Notification
        fields: list[str] = []


class AudienceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    model = Audience
    serializer_class = s.AudienceSerializer
    permission_actions = {
        **READ,
        "count": Action.READ,
        **dict.fromkeys(["create", "update", "partial_update", "destroy", "upload"], EDIT),
    }
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def perform_create(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: serializers.Serializer, audience: Audience | None) -> None:
        try:
            serializer.instance = services.save_audience(
                self.tenant,
                actor=self.request.user,
                audience=audience,
                **serializer.validated_data,
            )
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc

    def perform_destroy(self, instance: Audience) -> None:
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("Notifications use this audience.") from None

    @extend_schema(responses={200: s.AudienceCountSerializer})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def count(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The live count (normal and life-safety) and the first rows."""
        audience = self.get_object()
        count = audiences.count(audience)
        rows = audiences.first_rows(audience, life_safety=False)
        return Response(
            {
                "matching": count.matching,
                "reachable": count.reachable,
                "lifeSafety": count.life_safety,
                "optedOut": count.opted_out,
                "firstRows": [
                    {"contact": c.pk, "name": c.name, "phone": c.phone, "area": c.area}
                    for c in rows
                ],
            }
        )

    @extend_schema(request=s.AudienceUploadSerializer, responses={200: s.AudienceCountSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def upload(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Upsert contacts from a CSV (name, phone; optional area, tags, language, timeZone)
        into the audience's explicit list. All rows or none."""
        audience = self.get_object()
        body = s.AudienceUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                audiences.upload_csv(
                    self.tenant, audience, body.validated_data["csv"], actor=request.user
                )
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc
        return self.count(request, *args, **kwargs)


class NotificationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantViewSet,
):
    model = Notification
    serializer_class = s.NotificationSerializer
    filterset_class = NotificationFilter
    permission_actions = {
        **READ,
        **dict.fromkeys(["preview", "progress", "results"], Action.READ),
        **dict.fromkeys(["create", "update", "partial_update", "audio"], EDIT),
        **dict.fromkeys(["launch", "pause", "resume", "cancel"], LAUNCH),
    }
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> models.QuerySet:
        if getattr(self, "swagger_fake_view", False) and self.action == "results":
            return Recipient.unscoped.none()  # the schema reads the results' filters from it
        return super().get_queryset().prefetch_related("caller_ids")

    def _notification_for_results(self) -> Notification:
        # get_object() would filter notifications with the results' (recipient) filters.
        pk = str(self.kwargs.get("pk", ""))
        found = Notification.objects.for_tenant(self.tenant).filter(
            pk=int(pk) if pk.isdigit() and len(pk) < 19 else None
        )
        if not found:
            raise NotFound()
        self.check_object_permissions(self.request, found[0])
        return found[0]

    def perform_create(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: serializers.Serializer, notification: Notification | None) -> None:
        try:
            serializer.instance = services.save_notification(
                self.tenant,
                actor=self.request.user,
                notification=notification,
                **serializer.validated_data,
            )
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc
        except services.InvalidTransition as exc:
            raise Conflict(str(exc)) from None

    def _verb(self, verb: Any, **kwargs: Any) -> Response:
        notification = self.get_object()
        try:
            done = verb(self.tenant, notification.pk, actor=self.request.user, **kwargs)
        except services.InvalidTransition as exc:
            raise Conflict(str(exc)) from None
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc
        return Response(s.NotificationSerializer(done).data)

    @extend_schema(
        methods=["POST"],
        request={
            "multipart/form-data": s.AudioUploadSerializer,
            "application/json": s.AudioUploadSerializer,
        },
        responses={200: s.NotificationSerializer},
    )
    @extend_schema(methods=["DELETE"], request=None, responses={200: s.NotificationSerializer})
    @action(detail=True, methods=["post", "delete"], filter_backends=[])
    def audio(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """POST: a draft's message as a WAV (PCM, at most 1.8 MB and 180 s; multipart `file`
        or JSON `base64`), played instead of the text. DELETE: back to the text."""
        self.get_object()  # another tenant's: 404 before any 400 about the body
        if request.method == "DELETE":
            return self._verb(audio.detach)
        body = s.AudioUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return self._verb(audio.attach, data=data["data"], name=data.get("fileName", ""))

    @extend_schema(responses={200: s.PreviewSerializer})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def preview(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Before launch: audience size (and what life-safety changes), the first rows
        with their rendered prompt, and the time to reach everyone at the tenant's limits."""
        return Response(services.preview(self.get_object()))

    @extend_schema(request=None, responses={200: s.NotificationSerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def launch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Launch a draft: now, or at its scheduledAt."""
        return self._verb(services.launch)

    @extend_schema(request=None, responses={200: s.NotificationSerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def pause(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Stop dialling; calls in progress finish."""
        return self._verb(services.pause)

    @extend_schema(request=None, responses={200: s.NotificationSerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def resume(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._verb(services.resume)

    @extend_schema(request=s.CancelSerializer, responses={200: s.NotificationSerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Stop new dials at once; calls in progress finish, or are hung up (hangUp)."""
        body = s.CancelSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        return self._verb(services.cancel, hang_up=body.validated_data.get("hangUp"))

    @extend_schema(responses={200: s.ProgressSerializer})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def progress(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Counts by outcome, current calls/s, ETA, reach over time, per-zone table."""
        return Response(progress.progress(self.get_object()))

    @extend_schema(responses={200: s.RecipientSerializer(many=True)})
    @action(detail=True, methods=["get"], filterset_class=RecipientFilter)
    def results(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Per-contact outcomes with each call, filtered by disposition, state, area..."""
        notification = self._notification_for_results()
        rows = (
            Recipient.objects.for_tenant(self.tenant)
            .filter(notification=notification)
            .prefetch_related("dials")
            .order_by("pk")
        )
        page = self.paginate_queryset(self.filter_queryset(rows))
        return self.get_paginated_response(s.RecipientSerializer(page, many=True).data)
