"""Portal pages for calls: the filtered list, one call's detail and its live timeline."""

import json

from django.contrib import messages
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from calls import call_verbs, lookups
from calls.models import Call, CallEvent, MediaOperation, Participant, TranscriptLine
from calls.portal_forms import CallFilterForm
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page
from tenants.portal.listing import filter_data, keyset_page, render_list
from webhooks import delivery as delivery_service
from webhooks.models import Delivery, DeliveryAttempt, EventSubscription


@tenant_page(write=None)
@require_safe
def calls(request: HttpRequest) -> HttpResponse:
    """The tenant's calls, newest first, filtered by the query string, a page at a time
    (keyset on created_at, pk); `?live=1` answers the newest page's rows only."""
    tenant = request.tenant
    form = CallFilterForm(filter_data(request))
    # Outbound calls keep whom they dialled as participants, not on the call row.
    first_target = (
        Participant.objects.for_tenant(tenant)
        .filter(call=OuterRef("pk"), role=Participant.Role.TARGET)
        .order_by("pk")
        .values("raw_id")[:1]
    )
    rows = Call.objects.for_tenant(tenant).annotate(target=Subquery(first_target))
    if form.is_bound and form.is_valid():
        rows = form.apply(rows, tenant)
    page = keyset_page(rows, request.GET)
    context = {"form": form, "page": page}
    return render_list(request, "portal/calls/calls.html", "portal/calls/_calls_rows.html", context)


def _call(request: HttpRequest, call_id: int) -> Call:
    try:
        return Call.objects.for_tenant(request.tenant).get(pk=call_id)
    except Call.DoesNotExist:
        raise Http404("No such call.") from None


def _live_context(request: HttpRequest, call: Call) -> dict:
    """What changes while a call runs: its state, connections, legs, events, media
    operations and callbacks."""
    tenant = request.tenant
    events = list(
        CallEvent.objects.for_tenant(tenant)
        .filter(call=call)
        .select_related("connection")
        .order_by("created_at", "pk")
    )
    for event in events:
        event.pretty = json.dumps(event.data, indent=2)
    attempts = DeliveryAttempt.objects.for_tenant(tenant).order_by("number")
    return {
        "call": call,
        "connections": call.connections.order_by("created_at"),
        "participants": Participant.objects.for_tenant(tenant)
        .filter(call=call)
        .order_by("invited_at", "pk"),
        "events": events,
        "media_operations": MediaOperation.objects.for_tenant(tenant)
        .filter(call=call)
        .order_by("created_at", "pk"),
        # What the call's transcription heard, per participant with its time.
        "transcript": TranscriptLine.objects.for_tenant(tenant)
        .filter(call=call)
        .order_by("offset", "pk"),
        "deliveries": Delivery.objects.for_tenant(tenant)
        .filter(call_event__call=call)
        .prefetch_related(Prefetch("attempt_log", queryset=attempts))
        .order_by("created_at", "pk"),
        "can_redeliver": permits(request, Action.DELIVERIES_REDELIVER),
        "can_terminate": permits(request, Action.CALLS_DRIVE),
        # An incoming call nobody took: say why when no application could have heard it.
        "unheard": call.direction == Call.Direction.INBOUND
        and call.end_code == 408
        and not EventSubscription.objects.for_tenant(tenant).exists(),
    }


@tenant_page(write={"redeliver": Action.DELIVERIES_REDELIVER, "terminate": Action.CALLS_DRIVE})
def call_detail(request: HttpRequest, call_id: int) -> HttpResponse:
    """Everything about one call; operators redeliver its callbacks and terminate it
    from here (viewers see the page; their POSTs get 403 from tenant_page)."""
    tenant = request.tenant
    call = _call(request, call_id)
    if request.method == "POST" and "terminate" in request.POST:
        return _terminate(request, call)
    if request.method == "POST":
        try:
            # Only this call's callbacks: the form was on this call's page.
            delivery = Delivery.objects.for_tenant(tenant).get(
                call_event__call=call, pk=int(request.POST["redeliver"])
            )
        except (KeyError, ValueError, Delivery.DoesNotExist):
            raise Http404("No such delivery.") from None
        delivery_service.redeliver(tenant, delivery.pk, actor=request.user)
        messages.success(request, "Queued for delivery again.")
        return redirect("portal:call_detail", tenant_slug=tenant.slug, call_id=call.pk)
    return render(request, "portal/calls/call_detail.html", _live_context(request, call))


def _terminate(request: HttpRequest, call: Call) -> HttpResponse:
    """End the call for everyone, through the verb behind the API's terminate (audited)."""
    try:
        call_verbs.terminate_call(
            request.tenant, call.pk, actor=request.user, message=call_verbs.TERMINATED_FROM_PORTAL
        )
    except lookups.CallNotActive:
        messages.info(request, "The call had already ended.")
    else:
        messages.success(request, "The call was terminated: everyone in it was hung up.")
    return redirect("portal:call_detail", tenant_slug=request.tenant.slug, call_id=call.pk)


@tenant_page(write=None)
@require_safe
def call_timeline(request: HttpRequest, call_id: int) -> HttpResponse:
    """The live part of the call detail page, fetched again by call_detail.js."""
    call = _call(request, call_id)
    return render(request, "portal/calls/_call_live.html", _live_context(request, call))
