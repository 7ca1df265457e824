"""What the callee hears: the appointment time in their zone and language, the prompts."""

from datetime import datetime
from zoneinfo import ZoneInfo

# Day and month names for the languages we speak; anything else falls back to English.
NAMES = {
    "en": (
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
        "January February March April May June July August September October November December",
    ),
    "es": (
        "lunes martes miércoles jueves viernes sábado domingo",
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    ),
    "de": (
        "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag",
        "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    ),
    "fr": (
        "lundi mardi mercredi jeudi vendredi samedi dimanche",
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    ),
}

GOODBYE = {
    "confirmed": "Thank you. Your appointment is confirmed. Goodbye.",
    "cancelled": "Your appointment has been cancelled. Goodbye.",
    "opted-out": "You will not receive these calls anymore. Goodbye.",
    "office-unavailable": "Sorry, the office cannot be reached right now. Please call back. "
    "Goodbye.",
    "voicemail": "Hello {name}, this is a reminder of your appointment on {when}. "
    "Please call us if you need to change it. Goodbye.",
}


def spoken_time(when: datetime, zone: ZoneInfo, language: str) -> str:
    """ "Tuesday, March 3 at 2:30 PM" in the contact's zone (and their language's names)."""
    local = when.astimezone(zone)
    days, months = (names.split() for names in NAMES.get(language[:2].lower(), NAMES["en"]))
    day, month = days[local.weekday()], months[local.month - 1]
    if language[:2].lower() == "en" or language[:2].lower() not in NAMES:
        hour = local.hour % 12 or 12
        suffix = "AM" if local.hour < 12 else "PM"
        return f"{day}, {month} {local.day} at {hour}:{local.minute:02d} {suffix}"
    return f"{day}, {local.day} {month}, {local.hour}:{local.minute:02d}"
