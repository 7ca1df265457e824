"""Public documents for validators of our callbacks: the JWKS and the OpenID configuration."""

from django.http import HttpRequest, JsonResponse

from webhooks import signing


def jwks(request: HttpRequest) -> JsonResponse:
    """Public keys that verify callback bearer tokens."""
    return JsonResponse(signing.jwks())


def openid_configuration(request: HttpRequest) -> JsonResponse:
    """Where ACS-style validators find our callback-token issuer and keys."""
    return JsonResponse(
        {"issuer": signing.issuer(), "jwks_uri": signing.issuer() + "/calling/keys"}
    )
