"""DRF's content negotiation with a shortcut for what the SDK sends (issue 15).

The API renders JSON only. A request that accepts it plainly (`Accept: application/json`,
`*/*`, or no Accept header: what the ACS SDK and most clients send) and asks for no other
format gets the one renderer without DRF parsing the header and ranking media types,
a few percent of an authenticated read's Python. Anything else goes through DRF's own
negotiation unchanged (a 406 for what we cannot render, `?format=`, several renderers).
"""

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

PLAIN_ACCEPTS = ("*/*", "application/json")


class PlainJsonNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        if (
            len(renderers) == 1
            and renderers[0].media_type == "application/json"
            and not format_suffix
            and request.META.get("HTTP_ACCEPT", "*/*") in PLAIN_ACCEPTS
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
