from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    portal_menu = [
        ("settings", 80, "Audit log", "portal:audit_log"),
        ("settings", 90, "Your time zone", "portal:my_preferences"),
        ("developers", 10, "Keys", "portal:access_keys"),
        ("settings", 20, "Numbers", "portal:phone_numbers"),
        ("settings", 25, "SIP trunks", "portal:trunks"),
        ("settings", 50, "Members", "portal:members"),
        ("settings", 60, "Retention", "portal:retention"),
        ("settings", 70, "Rates", "portal:rate_plan"),
    ]
    portal_slots = {"dashboard": [(90, "tenants.portal.dashboard.facts")]}
