"""What the apps contribute to the portal shell, read from their AppConfigs.

An app's config may declare, without importing anything of the portal:

- `portal_menu`: `[(section, order, label, url name), ...]`, the links in the navigation
  (`section` is one of SECTIONS' keys; a link's URL takes the tenant's slug). The sidebar
  groups links by section in SECTIONS' order; "main" is an old name of "overview", and a
  section not listed gets a group of its own, titled after it, before Settings;
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


# The sidebar's groups, in order: (section key, heading).
SECTIONS = (
    ("overview", "Overview"),
    ("calls", "Calls"),
    ("campaigns", "Campaigns"),
    ("recordings", "Recordings"),
    ("developers", "Developers"),
    ("settings", "Settings"),
)
ALIASES = {"main": "overview"}


@dataclass(frozen=True)
class MenuGroup:
    section: str
    heading: str
    items: tuple[MenuItem, ...]


@functools.cache
def menu() -> tuple[MenuItem, ...]:
    """Every app's links, in sidebar order (groups as SECTIONS, then each link's order)."""
    return tuple(item for group in groups() for item in group.items)


@functools.cache
def groups() -> tuple[MenuGroup, ...]:
    """The sidebar: the apps' links grouped by section. Unknown sections still show, each
    as its own group just before Settings, so a new app's entries never disappear."""
    by_section: dict[str, list[MenuItem]] = {}
    for config in apps.get_app_configs():
        for section, order, label, url_name in getattr(config, "portal_menu", ()):
            section = ALIASES.get(section, section)
            by_section.setdefault(section, []).append(MenuItem(section, order, label, url_name))
    known = [key for key, _heading in SECTIONS]
    unknown = sorted(set(by_section) - set(known))
    order = [*known[:-1], *unknown, known[-1]]
    headings = dict(SECTIONS)
    return tuple(
        MenuGroup(
            section,
            headings.get(section, section.replace("_", " ").capitalize()),
            tuple(sorted(by_section[section], key=lambda item: (item.order, item.label))),
        )
        for section in order
        if section in by_section
    )


@functools.cache
def slot(name: str) -> tuple[Callable[..., str], ...]:
    pieces = [
        (order, path)
        for config in apps.get_app_configs()
        for order, path in getattr(config, "portal_slots", {}).get(name, ())
    ]
    return tuple(import_string(path) for _order, path in sorted(pieces))
