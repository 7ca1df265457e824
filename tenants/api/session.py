"""Portal sessions on the tenant REST API: a signed-in member of the URL's tenant may use
`/t/<slug>/api/v1/` from the browser. Reads need membership, writes operator or above;
CSRF is enforced as for any session-authenticated write.

It runs before the HMAC authentication and steps aside (returns None) for requests that
carry an Authorization header or no session, so access keys work exactly as before. The
Call Automation API (`/calling/`) stays HMAC-only.
"""

import re
from typing import Any

from rest_framework import authentication, permissions
from rest_framework.request import Request

from callauto.errors import NotFound
from tenants.models import Membership

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
        self.enforce_csrf(request)
        return user, membership


class OperatorWrites(permissions.BasePermission):
    """Access keys may do anything; portal members read, operators and above write."""

    message = "Your role cannot change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if not isinstance(request.auth, Membership) or request.method in permissions.SAFE_METHODS:
            return True
        return request.auth.has_role(Membership.Role.OPERATOR)
