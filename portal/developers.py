"""The Developers page: everything an application needs to talk to this tenant, in one
place (connection string, API reference, event webhook, callback-token keys, quick start)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from tenants.models import AccessKey
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page
from webhooks.models import EventSubscription


@tenant_page(write=None)
def developers(request: HttpRequest) -> HttpResponse:
    """Read-only: the connection string only for those who may see keys (admins, owners)."""
    tenant = request.tenant
    primary = AccessKey.objects.for_tenant(tenant).filter(name=AccessKey.Name.PRIMARY).first()
    can_see_keys = permits(request, Action.KEYS_VIEW)
    connection_string = (
        tenant.connection_string(primary) if can_see_keys and primary is not None else None
    )
    return render(
        request,
        "portal/developers.html",
        {
            "connection_string": connection_string,
            "endpoint": tenant.endpoint,
            "docs_url": f"/t/{tenant.slug}/api/v1/docs",
            "schema_url": f"/t/{tenant.slug}/api/v1/schema",
            "jwks_url": request.build_absolute_uri(reverse("jwks")),
            "openid_url": request.build_absolute_uri(reverse("openid-configuration")),
            "subscriptions": EventSubscription.objects.for_tenant(tenant).order_by("pk"),
        },
    )
