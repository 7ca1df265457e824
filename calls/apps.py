from django.apps import AppConfig
from django.db.models.signals import post_save


class CallsConfig(AppConfig):
    name = "calls"
    portal_menu = [
        ("calls", 10, "Calls", "portal:calls"),
        ("calls", 50, "Softphone", "portal:softphone"),
        ("developers", 40, "Test callees", "portal:callees"),
    ]
    portal_slots = {
        "dashboard_cards": [(10, "calls.portal.dashboard.cards")],
        "dashboard": [(10, "calls.portal.dashboard.outcomes")],
        "call_detail": [(20, "calls.portal.sip_panel.call_sip")],
    }

    def ready(self) -> None:
        from calls.models import CarrierCommand
        from calls.nudge import queue_nudge

        post_save.connect(queue_nudge, sender=CarrierCommand, dispatch_uid="calls.nudge")
