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
