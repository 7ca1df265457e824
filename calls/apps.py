from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save

from callauto.schedules import every


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """The live-call counters are recounted every minute (calls.live_calls)."""
    every("calls.reconcile_live_calls", "calls.tasks.reconcile_live_calls", minutes=1)


def count_new_call(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    """A call made anywhere but CreateCall (incoming, peer-to-peer) counts as live too."""
    from calls import live_calls
    from calls.models import Call

    counted = getattr(instance, "takes_slot", False)
    if created and instance.state != Call.State.DISCONNECTED and not counted:
        live_calls.added(instance)


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
        from calls.models import Call, CarrierCommand
        from calls.nudge import queue_nudge

        post_save.connect(queue_nudge, sender=CarrierCommand, dispatch_uid="calls.nudge")
        post_save.connect(count_new_call, sender=Call, dispatch_uid="calls.live_calls")
        post_migrate.connect(ensure_schedules, sender=self)
