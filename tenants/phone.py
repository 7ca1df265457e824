"""Phone number parsing, one place: E.164 in, E.164 out, via Google's libphonenumber."""

import phonenumbers
from django.core.exceptions import ValidationError


def normalize_e164(value: str) -> str:
    """Return `value` as E.164 (+14255550123); raise ValidationError if it is not a number.

    Only full international numbers are accepted: without a region there is no safe
    way to read a national one, and ACS identifiers carry E.164 anyway.
    """
    text = (value or "").strip()
    if not text.startswith("+"):
        raise ValidationError(f"{value!r} is not in E.164 form (it must start with +).")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{value!r} is not a phone number: {exc}.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{value!r} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
