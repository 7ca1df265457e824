"""The sidebar is built from the apps' portal_menu entries only (issue 17, item 4)."""

import pytest
from django.apps import apps

from portal import registry


@pytest.fixture
def extra_entries(monkeypatch):
    """Give one app more menu entries, as another branch's app would declare them."""
    config = apps.get_app_config("usage")

    def add(*entries: tuple) -> None:
        monkeypatch.setattr(config, "portal_menu", [*config.portal_menu, *entries])
        registry.groups.cache_clear()
        registry.menu.cache_clear()

    yield add
    registry.groups.cache_clear()
    registry.menu.cache_clear()


def test_groups_come_in_the_sidebars_order():
    headings = [group.heading for group in registry.groups()]

    assert headings == ["Overview", "Calls", "Campaigns", "Recordings", "Developers", "Settings"]


def test_an_unknown_section_gets_its_own_group_before_settings(extra_entries):
    extra_entries(("billing", 10, "Invoices", "portal:usage"))

    headings = [group.heading for group in registry.groups()]

    assert headings[-2:] == ["Billing", "Settings"]


def test_main_is_an_old_name_of_overview_and_known_sections_take_new_pages(extra_entries):
    extra_entries(
        ("main", 99, "Old style", "portal:usage"),
        ("campaigns", 30, "Notifications", "portal:usage"),
        ("settings", 35, "Trunks", "portal:usage"),
    )

    labels = {group.section: [item.label for item in group.items] for group in registry.groups()}

    assert labels["overview"][-1] == "Old style"
    assert labels["campaigns"][-1] == "Notifications"
    assert "Trunks" in labels["settings"]
