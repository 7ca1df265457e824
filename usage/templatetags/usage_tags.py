"""Usage figures for other apps' pages, so their Python never imports usage/."""

from django import template

from usage import reports

register = template.Library()


@register.inclusion_tag("portal/usage/_call_cost.html")
def call_cost(tenant, call) -> dict:
    return {"figures": reports.call_usage(tenant, call.pk), "plan": tenant.rate_plan}
