"""The one place that decides which tenant a request is about.

Both the portal (`/portal/t/<slug>/...`) and the APIs (`/t/<slug>/calling/...`,
`/t/<slug>/api/v1/...`) carry the tenant's slug in the path: the ACS SDK keeps an
endpoint's path, so a connection string `endpoint=https://host/t/<slug>/` reaches its
tenant on any host, a bare IP included. Nothing else reads the slug, hosts or headers.
"""

from django.http import Http404, HttpRequest

from callauto.compiled import Compiled
from tenants.models import AccessKey, Membership, RatePlan, Tenant

KEYS_BY_SLUG = Compiled(
    lambda slug: AccessKey.unscoped.filter(tenant__slug=slug).select_related("tenant__rate_plan"),
    [AccessKey, Tenant, RatePlan],
)


def resolve_tenant(request: HttpRequest) -> Tenant | None:
    """Return the tenant named by the request's path, or None for tenant-less pages.

    Raises Http404 for an unknown slug and, for a signed-in portal user, for a tenant
    they are not a member of (foreign ids are 404, never 403). API requests are
    checked against the tenant's keys by the HMAC authentication instead.
    """
    match = request.resolver_match
    slug = match.kwargs.get("tenant_slug") if match else None
    if slug is None:
        return None
    # One statement for the tenant, its rate plan and its access keys: the API checks a
    # key on every request (callauto.hmac_auth), and read together they are exactly as
    # stored now, so a regenerated key or a suspension counts at once in every process.
    # Compiled once per process: building this select_related query was most of an
    # authenticated read's Python (issue 15, callauto.compiled).
    keys = [key for key, _, _ in KEYS_BY_SLUG.rows(slug)]
    if keys:
        tenant = keys[0].tenant
        for key in keys:
            key.tenant = tenant
    else:
        tenant = Tenant.objects.filter(slug=slug).select_related("rate_plan").first()
        if tenant is None:
            raise Http404("No such tenant.")
    tenant.access_keys_read = keys  # type: ignore[attr-defined]
    return tenant


def membership_for(request: HttpRequest, tenant: Tenant) -> Membership:
    """The signed-in user's membership of `tenant`; Http404 when there is none."""
    user = request.user
    membership = (
        Membership.objects.for_tenant(tenant).filter(user=user).first()
        if user.is_authenticated
        else None
    )
    if membership is None:
        raise Http404("No such tenant.")
    return membership
