"""`{{ value|when }}`: a moment in the portal's display zone (tenants.portal.zones), with
the exact UTC time on hover and machine-readable in `datetime`."""

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def when(value: datetime | None, pattern: str = "Y-m-d H:i:s") -> SafeString | str:
    if not isinstance(value, datetime):
        return ""
    utc = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat(),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        date_format(timezone.localtime(value), pattern),
    )
