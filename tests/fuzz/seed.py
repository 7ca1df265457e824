"""A tenant with a row of every kind the tenant API serves, in the states where optional
fields are empty (null): what a schema check needs to see to catch a field that may be
null but is not declared so. Built through the services where they reach the state, and
as rows where only time or a failing network would (a pending delivery, a dialing call)."""

from datetime import timedelta

from django.utils import timezone

from calls import server_call_verbs
from calls.identifiers import Identifier
from recordings import services as recording_services
from recordings.services import RecordingOptions
from reminders import csv_import
from reminders import services as reminder_services
from reminders.models import Appointment, Attempt
from tenants import services as tenant_services
from tenants.models import PhoneNumber, Tenant
from webhooks.models import Delivery, DeliveryAttempt

OUR_NUMBER = "+14255550100"
CUSTOMER = "8:acs:resource_customer"
AGENT = "8:acs:resource_agent"
EXPERT = "+14255550177"
CSV = "external_id,name,phone,starts_at\nC-1,Cy,+14255550133,2030-03-03T10:00:00-05:00\n"


def seed_tenant(tenant: Tenant, gateway, callback_url: str) -> dict[str, object]:
    """Rows of every kind for `tenant`; `gateway` is the test's GatewayHarness."""
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    number = PhoneNumber.objects.for_tenant(tenant).get(e164=OUR_NUMBER)
    plan = reminder_services.save_plan(
        tenant, actor=None, name="Clinic", caller_id=number, offsets_minutes=[120]
    )
    contact = reminder_services.save_contact(
        tenant, actor=None, name="Ann", phone="+14255550123", external_id="P-1"
    )
    reminder_services.save_contact(tenant, actor=None, name="Bo", phone="+14255550124")
    soon, _ = reminder_services.save_appointment(
        tenant,
        actor=None,
        external_id="A-1",
        contact=contact,
        plan=plan,
        starts_at=timezone.now() + timedelta(days=2),
    )
    past, _ = reminder_services.save_appointment(
        tenant,
        actor=None,
        external_id="A-2",
        contact=contact,
        plan=plan,
        starts_at=timezone.now() - timedelta(days=1),  # nothing more is due: no next attempt
    )
    Attempt.unscoped.create(  # placed, not yet dialled: every time but due_at is null
        tenant=tenant, appointment=soon, reminder_index=0, attempt_number=1, due_at=timezone.now()
    )
    reminder_services.suppress(tenant, "+14255550199", actor=None)
    csv_import.start_import(tenant, actor=None, plan=plan, content=CSV, skip_bad_rows=False)

    # A peer-to-peer call the app is not in; an expert is added by serverCallId, so its
    # events are delivered without a call connection.
    call = server_call_verbs.simulate_p2p_call(
        tenant, caller=Identifier.user(CUSTOMER), callee=Identifier.user(AGENT)
    )
    gateway.advance(2)
    server_call_verbs.add_participant_out_of_call(
        tenant,
        call.server_call_id,
        target=Identifier.phone(EXPERT),
        callback_uri=callback_url,
        source_caller_id=OUR_NUMBER,
    )
    gateway.advance(2)
    recording = recording_services.start_recording(
        tenant, actor=None, options=RecordingOptions(), server_call_id=call.server_call_id
    )
    delivery = Delivery.unscoped.filter(tenant=tenant).order_by("pk").first()
    DeliveryAttempt.unscoped.create(  # a connection error: no status code
        tenant=tenant,
        delivery=delivery,
        number=1,
        started_at=timezone.now(),
        error_class="ConnectError",
    )
    # Notifications (issue 16): a launched one, whose recipient has every optional field empty.
    from notifications import services as notifications

    audience = notifications.save_audience(tenant, actor=None, name="Everyone", everyone=True)
    notification = notifications.save_notification(
        tenant, actor=None, name="Outage", audience=audience, message="Power is off.",
        caller_ids=[number],
    )  # fmt: skip
    notifications.launch(tenant, notification.pk, actor=None)
    return {
        "audience": audience,
        "notification": notification,
        "plan": plan,
        "contact": contact,
        "appointment": soon,
        "past": Appointment.unscoped.get(pk=past.pk),
        "call": call,
        "recording": recording,
        "delivery": delivery,
    }
