import factory
from django.contrib.auth import get_user_model

from tenants import services
from tenants.models import Membership, Tenant


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct horse battery")


def make_tenant(slug: str, *, owner=None, name: str | None = None) -> Tenant:
    """A tenant as the product makes one: through the service, with both access keys."""
    return services.create_tenant(name or slug.title(), slug, actor=None, owner=owner)


def add_member(tenant: Tenant, role: str, username: str | None = None) -> Membership:
    user = UserFactory(**({"username": username} if username else {}))
    return Membership.unscoped.create(tenant=tenant, user=user, role=role)


def make_call_delivery(
    tenant: Tenant,
    call,
    *,
    state: str = "pending",
    url: str = "https://app.example.com/cb",
    event_type: str = "CallConnected",
    sequence: int = 1,
):
    """A CallEvent of `call` with its outbox row, as the engine writes them (calls.events),
    in a given delivery state. Returns the Delivery."""
    from calls.models import CallEvent
    from webhooks.models import Delivery

    delivery = Delivery.unscoped.create(
        tenant=tenant, event_type=event_type, payload={}, sequence=sequence, url=url,
        state=state, labels={"serverCallId": call.server_call_id, "call": call.pk},
    )  # fmt: skip
    CallEvent.unscoped.create(
        tenant=tenant, call=call, sequence_number=sequence, event_type=event_type, data={},
        callback_uri=url, event_id=delivery.message_id, delivery=delivery,
    )  # fmt: skip
    return delivery
