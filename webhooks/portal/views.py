"""Portal pages of the outbox: event webhooks and the signing secret, callback deliveries."""

import zoneinfo

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page
from tenants.portal.listing import filter_data, is_live, keyset_page
from webhooks import delivery as delivery_service
from webhooks import signing, subscriptions
from webhooks.models import Delivery, DisabledEndpoint, EventSubscription
from webhooks.portal import endpoints
from webhooks.portal.forms import DeliveryFilterForm, EventSubscriptionForm


@tenant_page(write=Action.WEBHOOKS_MANAGE)
def webhooks(request: HttpRequest) -> HttpResponse:
    """Event subscriptions (the IncomingCall webhook) and the Standard Webhooks secret."""
    tenant = request.tenant
    form = EventSubscriptionForm()
    if request.method == "POST" and "remove" in request.POST:
        try:
            subscriptions.unsubscribe_events(
                tenant, int(request.POST["remove"]), actor=request.user
            )
        except (ValueError, EventSubscription.DoesNotExist):
            raise Http404("No such webhook.") from None
        messages.success(request, "Webhook removed.")
        return redirect("portal:webhooks", tenant_slug=tenant.slug)
    if request.method == "POST" and "rotate_secret" in request.POST:
        signing.rotate_webhook_secret(tenant, actor=request.user)
        messages.success(request, "New signing secret; the old one also signs for 24 hours.")
        return redirect("portal:webhooks", tenant_slug=tenant.slug)
    if request.method == "POST":
        form = EventSubscriptionForm(request.POST)
        if form.is_valid():
            subscriptions.subscribe_events(
                tenant,
                endpoint_url=form.cleaned_data["endpoint_url"],
                event_types=form.cleaned_data["event_types"],
                actor=request.user,
            )
            messages.success(request, "Webhook added; it is validated in the background.")
            return redirect("portal:webhooks", tenant_slug=tenant.slug)
    is_admin = permits(request, Action.WEBHOOKS_MANAGE)
    return render(
        request,
        "portal/webhooks/webhooks.html",
        {
            "subscriptions": EventSubscription.objects.for_tenant(tenant).order_by("created_at"),
            "form": form,
            "can_change": is_admin,
            "secrets": signing.webhook_secrets(tenant) if is_admin else [],
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
    form = DeliveryFilterForm(filter_data(request) or {})
    rows = form.apply(everything) if form.is_valid() else everything.none()
    page = keyset_page(rows, request.GET)
    for delivery in page:
        delivery.endpoint = endpoints.endpoint_group(delivery.url)
    context = {
        "deliveries": page,
        "form": form,
        "can_change": permits(request, Action.DELIVERIES_REDELIVER),
    }
    if is_live(request):
        return render(request, "portal/webhooks/_delivery_rows.html", context)
    groups = endpoints.recent_groups(everything)
    chosen = form.cleaned_data.get("url", "") if form.is_valid() else ""
    return render(
        request,
        "portal/webhooks/deliveries.html",
        {
            **context,
            "endpoint": chosen,
            "groups": groups,
            "endpoint_choices": sorted({g["group"] for g in groups} | ({chosen} - {""})),
            "sample": endpoints.SAMPLE,
            "disabled": _masked(DisabledEndpoint.objects.for_tenant(tenant).order_by("url")),
        },
    )


def _masked(disabled: object) -> list[DisabledEndpoint]:
    rows = list(disabled)  # type: ignore[call-overload]
    for row in rows:
        row.endpoint = endpoints.endpoint_group(row.url)
    return rows


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
