"""Portal pages of the calls app: scripted test callees, event webhooks."""

import zoneinfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import APIException

from calls import delivery as delivery_service
from calls import services, signing
from calls.callees import delete_callee, save_callee
from calls.forms import EventSubscriptionForm, PeerCallForm, RingForm, SimulatedCalleeForm
from calls.models import Call, Delivery, DisabledEndpoint, EventSubscription, SimulatedCallee
from calls.portal_forms import DeliveryFilterForm
from tenants.forms import form_error
from tenants.models import PhoneNumber
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page


def _save(request: HttpRequest, form: SimulatedCalleeForm) -> SimulatedCallee | None:
    """Store a valid form through the service; None (with errors on the form) otherwise."""
    if not form.is_valid():
        return None
    callee_id = form.callee.pk if form.callee is not None else None
    try:
        return save_callee(
            request.tenant,
            actor=request.user,
            callee_id=callee_id,
            **form.cleaned_data,
        )
    except SimulatedCallee.DoesNotExist:
        raise Http404("No such callee.") from None  # removed while the form was open
    except ValidationError as exc:
        form_error(form, exc)
        return None


@tenant_page(write=Action.CALLEES_MANAGE)
def callees(request: HttpRequest) -> HttpResponse:
    """List the tenant's scripted callees; admins add and remove them."""
    tenant = request.tenant
    form = SimulatedCalleeForm(tenant=tenant)
    if request.method == "POST" and "remove" in request.POST:
        try:
            delete_callee(tenant, int(request.POST["remove"]), actor=request.user)
        except (ValueError, SimulatedCallee.DoesNotExist):
            raise Http404("No such callee.") from None
        messages.success(request, "Callee removed.")
        return redirect("portal:callees", tenant_slug=tenant.slug)
    if request.method == "POST":
        form = SimulatedCalleeForm(request.POST, tenant=tenant)
        callee = _save(request, form)
        if callee is not None:
            messages.success(request, f"{callee.raw_id} added.")
            return redirect("portal:callees", tenant_slug=tenant.slug)
    rows = SimulatedCallee.objects.for_tenant(tenant).order_by("raw_id")
    return render(
        request,
        "portal/calls/callees.html",
        {
            "callees": rows,
            "form": form,
            "can_change": permits(request, Action.CALLEES_MANAGE),
        },
    )


@tenant_page(write=Action.CALLEES_MANAGE)
def edit_callee(request: HttpRequest, callee_id: int) -> HttpResponse:
    """Show one scripted callee; admins change it."""
    tenant = request.tenant
    try:
        callee = SimulatedCallee.objects.for_tenant(tenant).get(pk=callee_id)
    except SimulatedCallee.DoesNotExist:
        raise Http404("No such callee.") from None
    form = SimulatedCalleeForm(tenant=tenant, callee=callee)
    if request.method == "POST":
        form = SimulatedCalleeForm(request.POST, tenant=tenant, callee=callee)
        saved = _save(request, form)
        if saved is not None:
            messages.success(request, f"{saved.raw_id} saved.")
            return redirect("portal:callees", tenant_slug=tenant.slug)
    return render(
        request,
        "portal/calls/edit_callee.html",
        {
            "callee": callee,
            "form": form,
            "can_change": permits(request, Action.CALLEES_MANAGE),
        },
    )


@tenant_page(write=Action.WEBHOOKS_MANAGE)
def webhooks(request: HttpRequest) -> HttpResponse:
    """Event subscriptions (IncomingCall webhook), and ringing a number to test them."""
    tenant = request.tenant
    numbers = list(PhoneNumber.objects.for_tenant(tenant).values_list("e164", flat=True))
    form = EventSubscriptionForm()
    ring_form = RingForm(numbers=numbers)
    if request.method == "POST" and "remove" in request.POST:
        try:
            services.unsubscribe_events(tenant, int(request.POST["remove"]), actor=request.user)
        except (ValueError, EventSubscription.DoesNotExist):
            raise Http404("No such webhook.") from None
        messages.success(request, "Webhook removed.")
        return redirect("portal:webhooks", tenant_slug=tenant.slug)
    if request.method == "POST" and "rotate_secret" in request.POST:
        signing.rotate_webhook_secret(tenant, actor=request.user)
        messages.success(request, "New signing secret; the old one also signs for 24 hours.")
        return redirect("portal:webhooks", tenant_slug=tenant.slug)
    peer_form = PeerCallForm()
    if request.method == "POST" and "peer" in request.POST:
        peer_form = PeerCallForm(request.POST)
        if peer_form.is_valid():
            try:
                call = services.simulate_p2p_call(
                    tenant,
                    caller=peer_form.cleaned_data["caller"],
                    callee=peer_form.cleaned_data["callee"],
                )
            except APIException as exc:
                peer_form.add_error(None, str(exc.detail))
            else:
                messages.success(
                    request, f"Peer-to-peer call placed; serverCallId {call.server_call_id}."
                )
                return redirect("portal:webhooks", tenant_slug=tenant.slug)
    elif request.method == "POST" and "ring" in request.POST:
        ring_form = RingForm(request.POST, numbers=numbers)
        if ring_form.is_valid():
            services.simulate_incoming_call(
                tenant,
                to_number=ring_form.cleaned_data["to_number"],
                caller=ring_form.cleaned_data["caller"],
            )
            messages.success(request, "Ringing: your IncomingCall webhook hears of it now.")
            return redirect("portal:webhooks", tenant_slug=tenant.slug)
    elif request.method == "POST":
        form = EventSubscriptionForm(request.POST)
        if form.is_valid():
            try:
                services.subscribe_events(
                    tenant,
                    endpoint_url=form.cleaned_data["endpoint_url"],
                    event_types=form.cleaned_data["event_types"],
                    actor=request.user,
                )
            except ValidationError as exc:  # the address changed between form and save
                form_error(form, exc)
            else:
                messages.success(request, "Webhook added; it is validated in the background.")
                return redirect("portal:webhooks", tenant_slug=tenant.slug)
    return render(
        request,
        "portal/calls/webhooks.html",
        {
            "subscriptions": EventSubscription.objects.for_tenant(tenant).order_by("created_at"),
            "form": form,
            "ring_form": ring_form,
            "peer_form": peer_form,
            "peer_calls": Call.objects.for_tenant(tenant)
            .filter(direction=Call.Direction.PEER_TO_PEER)
            .order_by("-created_at")[:10],
            "can_change": permits(request, Action.WEBHOOKS_MANAGE),
            "secrets": signing.webhook_secrets(tenant)
            if permits(request, Action.WEBHOOKS_MANAGE)
            else [],
        },
    )


@tenant_page(write=Action.DELIVERIES_REDELIVER)
def deliveries(request: HttpRequest) -> HttpResponse:
    """Dead and retrying callbacks (or any state asked for), disabled endpoints; operators
    redeliver one, or every dead one since a time."""
    tenant = request.tenant
    if request.method == "POST":
        return _delivery_action(request)
    everything = Delivery.objects.for_tenant(tenant)
    form = DeliveryFilterForm(request.GET)
    rows = form.apply(everything) if form.is_valid() else everything.none()
    rows = rows.select_related("event", "event__connection").order_by("-created_at")
    return render(
        request,
        "portal/calls/deliveries.html",
        {
            "deliveries": Paginator(rows, 50).get_page(request.GET.get("page")),
            "form": form,
            "endpoint": form.cleaned_data.get("url", "") if form.is_valid() else "",
            "endpoints": everything.values_list("url", flat=True).distinct().order_by("url")[:50],
            "disabled": DisabledEndpoint.objects.for_tenant(tenant).order_by("url"),
            "can_change": permits(request, Action.DELIVERIES_REDELIVER),
        },
    )


def _delivery_action(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    try:
        if "redeliver" in request.POST:
            delivery_service.redeliver(tenant, int(request.POST["redeliver"]), actor=request.user)
            messages.success(request, "Queued for delivery again.")
        elif "enable" in request.POST:
            delivery_service.enable_endpoint(
                tenant, int(request.POST["enable"]), actor=request.user
            )
            messages.success(request, "Endpoint enabled.")
        else:
            since = parse_datetime(request.POST.get("since", ""))
            if since is None:
                messages.error(request, "Give a time such as 2026-11-25 09:00.")
            else:
                if since.tzinfo is None:
                    since = timezone.make_aware(since, zoneinfo.ZoneInfo(tenant.time_zone))
                count = delivery_service.redeliver_dead_since(tenant, since, actor=request.user)
                messages.success(request, f"{count} dead deliveries queued again.")
    except (ValueError, Delivery.DoesNotExist, DisabledEndpoint.DoesNotExist):
        raise Http404("No such delivery.") from None
    return redirect("portal:deliveries", tenant_slug=tenant.slug)
