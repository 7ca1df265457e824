from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

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
        "portal_nav": _navigation(request),
        # The zone every time on a tenant's page is shown in (tenant_page activates it).
        "display_zone": timezone.get_current_timezone_name(),
        "tenant": getattr(request, "tenant", None),
        "membership": getattr(request, "membership", None),
        "can": page_capabilities(request),
    }


def _navigation(request: HttpRequest) -> list[dict]:
    """The sidebar's groups with each link's URL; the current page is the link whose URL
    is the longest prefix of this path (so a call's page highlights Calls)."""
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        return []
    groups = [
        {
            "heading": group.heading,
            "section": group.section,
            "items": [
                {"label": item.label, "url": reverse(item.url_name, args=[tenant.slug])}
                for item in group.items
            ],
        }
        for group in registry.groups()
    ]
    links = [link for group in groups for link in group["items"]]
    matching = [link for link in links if request.path.startswith(link["url"])]
    if matching:
        max(matching, key=lambda link: len(link["url"]))["current"] = True
    return groups
