"""Every route of the URL configuration, as (URL template, view), for the role-matrix
test: nothing here is listed by hand, so a new route is covered (or fails) by itself."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from tenants.api.permissions import action_for, has_handler
from tenants.permissions import Action

PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")
NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
# DRF viewset methods DRF adds itself (HEAD follows GET; OPTIONS describes the route).
IMPLICIT = {"head", "options"}


@dataclass(frozen=True)
class Route:
    template: str  # "/t/{tenant_slug}/api/v1/recordings/{recording_id}"
    callback: Any
    name: str  # "portal:members", or "" for unnamed routes

    @property
    def view_class(self) -> Any:
        return getattr(self.callback, "cls", None)

    @property
    def is_drf(self) -> bool:
        return self.view_class is not None

    @property
    def page_access(self) -> Any:
        return getattr(self.callback, "page_access", None)

    def methods(self) -> list[str]:
        """The HTTP methods a DRF view answers (lower case, HEAD/OPTIONS aside)."""
        actions = getattr(self.callback, "actions", None)
        if actions is not None:
            return sorted(set(actions) - IMPLICIT)
        view = self.view_class
        return [m for m in view.http_method_names if m not in IMPLICIT and hasattr(view, m)]

    def action(self, method: str) -> Action | None:
        """The permission table's action for `method`, as the DRF permission finds it."""
        view = self.view_class(**self.callback.initkwargs)
        actions = getattr(self.callback, "actions", None)
        if actions is not None:
            view.action_map = actions
            view.action = actions.get(method)
        assert has_handler(view, method)
        return action_for(view, method)

    def url(self, values: dict[str, Any]) -> str:
        return self.template.format(**{k: values[k] for k in self.kwargs()})

    def kwargs(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.template)

    def __str__(self) -> str:
        return self.template


def _template(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        return PLACEHOLDER.sub(r"{\1}", str(pattern))
    assert isinstance(pattern, RegexPattern), pattern
    text = NAMED_GROUP.sub(r"{\1}", pattern._regex).lstrip("^").rstrip("$")
    text = text.replace("/?", "")  # "usage/?": the bare form is the canonical one
    if re.search(r"[\\()\[\]?*+^$|]", text):
        raise AssertionError(f"Cannot read the route {pattern._regex!r}; teach routes.py")
    return text


def _walk(patterns: list, prefix: str, namespace: str) -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            space = ":".join(filter(None, [namespace, entry.namespace or ""]))
            yield from _walk(entry.url_patterns, prefix + _template(entry.pattern), space)
        else:
            assert isinstance(entry, URLPattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
            yield Route("/" + prefix + _template(entry.pattern), entry.callback, name)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", ""))
