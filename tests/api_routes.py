"""Every route of the two APIs (/t/<slug>/calling/ and /t/<slug>/api/v1/), read from the
URL configuration, so a test that loops over them also covers routes added later."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve

API_PREFIXES = ("t/<slug:tenant_slug>/calling/", "t/<slug:tenant_slug>/api/v1/")
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    template: str  # as declared, e.g. "t/<slug:tenant_slug>/calling/recordings/<ccid:recording_id>"
    view: type
    methods: tuple[str, ...]  # upper case, the ones the view answers

    def path(self, slug: str, **values: str) -> str:
        """A concrete path for tenant `slug`: `values` by parameter name, "1" for the rest."""
        values = {"tenant_slug": slug, **values}

        def fill(match: re.Match) -> str:
            return values.get(match["name"], "1")

        path = re.sub(r"\(\?P<(?P<name>\w+)>[^)]*\)", fill, self.template)  # regex routes
        path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", fill, path)
        return "/" + path.replace("^", "").replace("$", "").replace("/?", "")

    @property
    def is_calling(self) -> bool:
        return "/calling/" in self.template


def _walk(patterns: list, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def api_routes() -> list[Route]:
    routes = []
    for template, callback in _walk(get_resolver().url_patterns):
        if not template.startswith(API_PREFIXES):
            continue
        view = getattr(callback, "cls", None)
        if view is None:
            continue
        actions = getattr(callback, "actions", None)
        if actions:  # a DRF viewset route: its own method → action map
            methods = tuple(m.upper() for m in actions)
        else:
            methods = tuple(m.upper() for m in HTTP_METHODS if hasattr(view, m))
        routes.append(Route(template, view, methods))
    return routes


def check_routes_resolve(slug: str) -> None:
    """Each generated path resolves to its own view (guards the substitution above)."""
    for route in api_routes():
        assert getattr(resolve(route.path(slug)).func, "cls", None) is route.view, route
