"""The reminders part of the tenant REST API (`/t/<slug>/api/v1/`): contacts,
appointments (with bulk upsert by externalId), plans, attempts (read-only), suppressions,
CSV imports, on-demand dispatch. Access keys (HMAC) or portal sessions; each operation's
action in the permission table (tenants.permissions) is named on its view."""

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models.deletion import ProtectedError
from django.http import HttpResponse
from django.utils import translation
from django_filters import rest_framework as filters
from django_q.tasks import async_task
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callauto.errors import Conflict, JsonErrorsMixin
from callauto.parsers import JSONParser
from reminders import csv_import, services
from reminders.api import serializers as s
from reminders.models import (
    Appointment,
    Attempt,
    Contact,
    Disposition,
    ImportJob,
    ReminderPlan,
    Suppression,
)
from tenants.api.base import TenantViewSet
from tenants.api.filters import ApiFilterSet
from tenants.api.schema import rendered_schema
from tenants.permissions import Action


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def field_errors(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as the API's 400 with a detail per (camelCase) field."""
    if hasattr(exc, "error_dict"):
        return ValidationError({_camel(k): v for k, v in exc.message_dict.items()})
    return ValidationError(exc.messages)


READ = {"list": Action.READ, "retrieve": Action.READ}
EDIT = Action.REMINDERS_EDIT


class RemindersViewSet(TenantViewSet):
    @property
    def actor(self) -> Any:
        return self.request.user


# --- filters --------------------------------------------------------------------------


class ContactFilter(ApiFilterSet):
    phone = filters.CharFilter()
    externalId = filters.CharFilter(field_name="external_id")  # noqa: N815

    class Meta:
        model = Contact
        fields: list[str] = []


class AppointmentFilter(ApiFilterSet):
    status = filters.ChoiceFilter(choices=Appointment.Status.choices)
    contact = filters.NumberFilter(field_name="contact_id")
    plan = filters.NumberFilter(field_name="plan_id")
    externalId = filters.CharFilter(field_name="external_id")  # noqa: N815
    startsAfter = filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")  # noqa: N815
    startsBefore = filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")  # noqa: N815

    class Meta:
        model = Appointment
        fields: list[str] = []


class AttemptFilter(ApiFilterSet):
    appointment = filters.NumberFilter(field_name="appointment_id")
    externalId = filters.CharFilter(field_name="appointment__external_id")  # noqa: N815
    disposition = filters.ChoiceFilter(choices=Disposition.choices)
    state = filters.ChoiceFilter(choices=Attempt.State.choices)
    reminderIndex = filters.NumberFilter(field_name="reminder_index")  # noqa: N815
    dialedAfter = filters.IsoDateTimeFilter(field_name="dialed_at", lookup_expr="gte")  # noqa: N815
    dialedBefore = filters.IsoDateTimeFilter(field_name="dialed_at", lookup_expr="lt")  # noqa: N815

    class Meta:
        model = Attempt
        fields: list[str] = []


class SuppressionFilter(ApiFilterSet):
    phone = filters.CharFilter()
    reason = filters.ChoiceFilter(choices=Suppression.Reason.choices)

    class Meta:
        model = Suppression
        fields: list[str] = []


# --- viewsets -------------------------------------------------------------------------


class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    RemindersViewSet,
):
    model = Contact
    serializer_class = s.ContactSerializer
    permission_actions = {
        **READ,
        **dict.fromkeys(["create", "update", "partial_update", "destroy"], EDIT),
    }
    filterset_class = ContactFilter

    def perform_create(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance: Contact) -> None:
        services.delete_contact(self.tenant, instance, actor=self.actor)

    def _save(self, serializer: serializers.Serializer, contact: Contact | None) -> None:
        try:
            serializer.instance = services.save_contact(
                self.tenant, actor=self.actor, contact=contact, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc


class PlanViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    RemindersViewSet,
):
    model = ReminderPlan
    serializer_class = s.PlanSerializer
    permission_actions = {
        **READ,
        **dict.fromkeys(["create", "update", "partial_update", "destroy"], EDIT),
    }

    def perform_create(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer: serializers.Serializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: serializers.Serializer, plan: ReminderPlan | None) -> None:
        try:
            serializer.instance = services.save_plan(
                self.tenant, actor=self.actor, plan=plan, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc

    def perform_destroy(self, instance: ReminderPlan) -> None:
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("The plan has appointments; deactivate it instead.") from None


class AppointmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    RemindersViewSet,
):
    model = Appointment
    serializer_class = s.AppointmentSerializer
    permission_actions = {
        **READ,
        **dict.fromkeys(["create", "update", "partial_update", "bulk", "cancel"], EDIT),
    }
    filterset_class = AppointmentFilter

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action == "retrieve":
            return s.AppointmentDetailSerializer
        if self.action == "bulk":
            return s.BulkSerializer
        return s.AppointmentSerializer

    def get_queryset(self) -> models.QuerySet:
        rows = super().get_queryset().select_related("contact", "plan")
        return rows.prefetch_related("attempts") if self.action == "retrieve" else rows

    @extend_schema(responses={201: s.AppointmentSerializer, 200: s.AppointmentSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create, or update the appointment with the same externalId (an upsert)."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        appointment, created = self._upsert(data.pop("external_id"), data)
        return Response(s.AppointmentSerializer(appointment).data, status=201 if created else 200)

    def perform_update(self, serializer: serializers.Serializer) -> None:
        data = dict(serializer.validated_data)
        external_id = data.pop("external_id", serializer.instance.external_id)
        if external_id != serializer.instance.external_id:
            raise ValidationError({"externalId": "An appointment's externalId cannot change."})
        serializer.instance, _ = self._upsert(external_id, data)

    def _upsert(self, external_id: str, data: dict) -> tuple[Appointment, bool]:
        try:
            return services.save_appointment(
                self.tenant, actor=self.actor, external_id=external_id, **data
            )
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc

    @extend_schema(request=s.BulkSerializer, responses={200: s.AppointmentSerializer(many=True)})
    @action(detail=False, methods=["post"], pagination_class=None, filter_backends=[])
    def bulk(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Upsert up to 1000 appointments by externalId, contacts by phone: all or none."""
        body = request.data if isinstance(request.data, dict) else {"appointments": request.data}
        serializer = s.BulkSerializer(data=body, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        saved = []
        try:
            with transaction.atomic():
                for item in serializer.validated_data["appointments"]:
                    saved.append(self._bulk_one(item))
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc
        return Response(s.AppointmentSerializer([a for a, _ in saved], many=True).data)

    def _bulk_one(self, item: dict) -> tuple[Appointment, bool]:
        person = item["contact"]
        contact = Contact.objects.for_tenant(self.tenant).filter(phone=person["phone"]).first()
        contact = services.save_contact(
            self.tenant,
            actor=self.actor,
            contact=contact,
            name=person["name"],
            phone=person["phone"],
            time_zone=person.get("timeZone", "") or (contact.time_zone if contact else ""),
            **{k: person[k] for k in ("language", "consent") if k in person},
        )
        fields = {"contact": contact, "plan": item["plan"], "starts_at": item["startsAt"]}
        fields.update({k: item[k] for k in ("provider", "location", "status") if k in item})
        return services.save_appointment(
            self.tenant, actor=self.actor, external_id=item["externalId"], **fields
        )

    @extend_schema(request=None, responses={200: s.AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        appointment = services.cancel_appointment(
            self.tenant, self.get_object().pk, actor=self.actor
        )
        return Response(s.AppointmentSerializer(appointment).data)


class AttemptViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RemindersViewSet):
    model = Attempt
    serializer_class = s.AttemptSerializer
    permission_actions = READ
    filterset_class = AttemptFilter


class SuppressionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    RemindersViewSet,
):
    model = Suppression
    serializer_class = s.SuppressionSerializer
    permission_actions = {**READ, "create": EDIT, "destroy": EDIT}
    filterset_class = SuppressionFilter

    def perform_create(self, serializer: serializers.Serializer) -> None:
        serializer.instance = services.suppress(
            self.tenant,
            serializer.validated_data["phone"],
            actor=self.actor,
            reason=serializer.validated_data.get("reason", Suppression.Reason.REQUESTED),
            source=Suppression.Source.API,
        )

    def perform_destroy(self, instance: Suppression) -> None:
        services.unsuppress(self.tenant, instance, actor=self.actor)


class ImportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, RemindersViewSet
):
    model = ImportJob
    serializer_class = s.ImportJobSerializer
    permission_actions = {**READ, "create": EDIT}
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return s.ImportSerializer if self.action == "create" else s.ImportJobSerializer

    @extend_schema(request=s.ImportSerializer, responses={202: s.ImportJobSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Upload a CSV (see README, "Reminder campaigns"); poll the job for progress."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            with transaction.atomic():
                job = csv_import.start_import(
                    self.tenant,
                    actor=self.actor,
                    plan=data["plan"],
                    content=data["csv"],
                    skip_bad_rows=data["skipBadRows"],
                )
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc
        job.refresh_from_db()
        return Response(s.ImportJobSerializer(job).data, status=202)


class DispatchView(APIView):
    """Run the dispatcher for this tenant now (one pass), besides the minute schedule."""

    permission_actions = {"post": Action.REMINDERS_DISPATCH}

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("DispatchQueued", {"queued": serializers.BooleanField()})
        },
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        async_task("reminders.tasks.dispatch_reminders", request.tenant.pk, 0)
        return Response({"queued": True}, status=202)


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    """The OpenAPI schema of the tenant API (YAML, or JSON with ?format=json)."""

    permission_actions = {"get": Action.READ}

    def _get_schema_response(self, request: Request) -> HttpResponse:
        # Authentication, permission and negotiation ran as for every route; the body is
        # the tenant-independent schema, made once per process (tenants.api.schema).
        version = self.api_version or request.version or self._get_version_parameter(request)
        renderer, media_type = request.accepted_renderer, request.accepted_media_type
        content = rendered_schema(translation.get_language(), version, type(renderer), media_type)
        # The headers DRF's Response would set for this renderer.
        content_type = renderer.media_type
        if renderer.charset:
            content_type = f"{content_type}; charset={renderer.charset}"
        filename = self._get_filename(request, version)
        return HttpResponse(
            content,
            content_type=content_type,
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )


class DocsView(JsonErrorsMixin, SpectacularRedocView):
    """The API reference page (Redoc from drf-spectacular-sidecar, served by us)."""

    permission_actions = {"get": Action.READ}

    template_name = "reminders/api_docs.html"

    def _get_schema_url(self, request: Request) -> str:
        # The schema sits beside this page under the same tenant path.
        return request.path.rsplit("/", 1)[0] + "/schema"

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # This page only: Redoc (styled-components) writes its styles into <style>
        # elements at run time and builds its search worker from a blob: URL. The page
        # shows our own schema, no user content; every other page keeps the strict policy.
        response._csp_update = {"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]}
        return response
