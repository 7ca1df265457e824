"""`{% slot "name" key=value ... %}`: the pieces other apps contribute to a page."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from portal import registry

register = template.Library()


@register.simple_tag(takes_context=True)
def slot(context: template.Context, name: str, **kwargs: object) -> SafeString:
    request = context["request"]
    # Each piece renders its own template with autoescaping; the joined HTML is safe.
    return mark_safe("".join(piece(request, **kwargs) for piece in registry.slot(name)))
