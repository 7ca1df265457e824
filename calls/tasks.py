"""django-q2 task entry points of the calls app."""

import logging

from calls import live_calls

log = logging.getLogger(__name__)


def reconcile_live_calls() -> int:
    """Every minute: recount each tenant's live calls; log and fix any drift."""
    drifted = live_calls.reconcile()
    for tenant_id, (was, now) in drifted.items():
        log.warning("live-call counter of tenant %s said %s, counted %s", tenant_id, was, now)
    return len(drifted)
