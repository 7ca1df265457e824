"""What the apps contribute to the portal shell, read from their AppConfigs.

An app's config may declare, without importing anything of the portal:

- `portal_menu`: `[(section, order, label, url name), ...]`, the links in the navigation
  (`section` is "main" or "settings"; a link's URL takes the tenant's slug);
- `portal_slots`: `{slot name: [(order, "dotted.path.to.function"), ...]}`, pieces of
  pages: the function takes the request and the slot's keyword arguments and returns
  HTML (or "" to show nothing). Slots: "dashboard" (tenant), "call_detail" (tenant, call).

So a lower app's page can show what a higher app knows (the call page shows the call's
recordings and cost) while no lower app imports a higher one.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class MenuItem:
    section: str
    order: int
    label: str
    url_name: str


@functools.cache
def menu() -> tuple[MenuItem, ...]:
    items = [
        MenuItem(*entry)
        for config in apps.get_app_configs()
        for entry in getattr(config, "portal_menu", ())
    ]
    return tuple(sorted(items, key=lambda item: (item.section != "main", item.order)))


@functools.cache
def slot(name: str) -> tuple[Callable[..., str], ...]:
    pieces = [
        (order, path)
        for config in apps.get_app_configs()
        for order, path in getattr(config, "portal_slots", {}).get(name, ())
    ]
    return tuple(import_string(path) for _order, path in sorted(pieces))
