from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from portal import registry
from tenants.models import Membership
from tenants.portal.access import page_capabilities


def portal(request: HttpRequest) -> dict:
    """The tenant switcher's entries, the navigation, the current tenant, and what the
    member may do there (`can.<action>`, from the permission table), for every page."""
    user = getattr(request, "user", None)
    # Only a signed-in person has a switcher; an API page rendered for an access key
    # (request.user is then the key's principal) has none.
    if not isinstance(user, AbstractBaseUser) or not user.is_authenticated:
        return {}
    memberships = (
        Membership.unscoped.filter(user=user).select_related("tenant").order_by("tenant__name")
    )
    return {
        "switcher": memberships,
        "portal_menu": registry.menu(),
        "tenant": getattr(request, "tenant", None),
        "membership": getattr(request, "membership", None),
        "can": page_capabilities(request),
    }
