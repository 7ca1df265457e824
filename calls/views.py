"""Portal pages of the calls app for trying things out: scripted test callees, ringing one
of the tenant's numbers, a peer-to-peer call."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework.exceptions import APIException

from calls import incoming_verbs, server_call_verbs
from calls.callees import delete_callee, save_callee
from calls.forms import PeerCallForm, RingForm, SimulatedCalleeForm
from calls.models import Call, SimulatedCallee
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
    """List the tenant's scripted callees; admins add and remove them, ring one of the
    tenant's numbers and place peer-to-peer calls to try their webhooks."""
    tenant = request.tenant
    form = SimulatedCalleeForm(tenant=tenant)
    numbers = list(PhoneNumber.objects.for_tenant(tenant).values_list("e164", flat=True))
    ring_form, peer_form = RingForm(numbers=numbers), PeerCallForm()
    if request.method == "POST" and "peer" in request.POST:
        peer_form = PeerCallForm(request.POST)
        if peer_form.is_valid():
            try:
                call = server_call_verbs.simulate_p2p_call(
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
                return redirect("portal:callees", tenant_slug=tenant.slug)
    elif request.method == "POST" and "ring" in request.POST:
        ring_form = RingForm(request.POST, numbers=numbers)
        if ring_form.is_valid():
            incoming_verbs.simulate_incoming_call(
                tenant,
                to_number=ring_form.cleaned_data["to_number"],
                caller=ring_form.cleaned_data["caller"],
                actor=request.user,
            )
            messages.success(request, "Ringing: your IncomingCall webhook hears of it now.")
            return redirect("portal:callees", tenant_slug=tenant.slug)
    elif request.method == "POST" and "remove" in request.POST:
        try:
            delete_callee(tenant, int(request.POST["remove"]), actor=request.user)
        except (ValueError, SimulatedCallee.DoesNotExist):
            raise Http404("No such callee.") from None
        messages.success(request, "Callee removed.")
        return redirect("portal:callees", tenant_slug=tenant.slug)
    elif request.method == "POST":
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
            "ring_form": ring_form,
            "peer_form": peer_form,
            "peer_calls": Call.objects.for_tenant(tenant)
            .filter(direction=Call.Direction.PEER_TO_PEER)
            .order_by("-created_at")[:10],
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
