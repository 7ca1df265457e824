from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    portal_menu = [
        ("overview", 0, "Dashboard", "portal:dashboard"),
        ("developers", 0, "Developers", "portal:developers"),
    ]
