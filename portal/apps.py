from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    portal_menu = [
        ("main", 0, "Dashboard", "portal:dashboard"),
        ("developers", 10, "Developers", "portal:developers"),
    ]
