"""Portal sessions on the tenant REST API: a signed-in member of the URL's tenant may use
`/t/<slug>/api/v1/` from the browser, with their membership's role in the permission
table (tenants.api.permissions); CSRF is enforced as for any session-authenticated write.
A suspended tenant's members are refused (403), as its access keys are.

It runs before the HMAC authentication and steps aside (returns None) for requests that
carry an Authorization header or no session, so access keys work exactly as before. The
Call Automation API (`/calling/`) stays HMAC-only.
"""

import re

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from callauto.errors import NotFound
from tenants.models import Membership
from tenants.permissions import SUSPENDED

TENANT_API = re.compile(r"^/t/[^/]+/api/")


class MemberSessionAuthentication(authentication.SessionAuthentication):
    def authenticate_header(self, request: Request) -> str:
        # DRF asks the first class for the 401 challenge; the API's challenge is HMAC's
        # (without one DRF would turn every failed HMAC request into a 403).
        return "HMAC-SHA256"

    def authenticate(self, request: Request) -> tuple | None:
        django_request = request._request
        if "Authorization" in request.headers or not TENANT_API.match(django_request.path):
            return None
        user = getattr(django_request, "user", None)
        tenant = getattr(django_request, "tenant", None)
        if user is None or not user.is_authenticated or tenant is None:
            return None
        membership = Membership.objects.for_tenant(tenant).filter(user=user).first()
        if membership is None:
            raise NotFound("No such tenant.")  # as the portal: foreign tenants do not exist
        if not tenant.is_active:
            # Authenticated but not allowed, exactly as HMAC answers a suspended tenant.
            raise exceptions.PermissionDenied(SUSPENDED)
        self.enforce_csrf(request)
        return user, membership
