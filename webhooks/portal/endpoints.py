"""Callback endpoints as the deliveries page shows them: grouped, with the parts of a URL
that are usually secrets masked.

Callback URLs often carry a token (`https://app/cb/<token>`, `?sig=...`, user:password@),
and the deliveries page is seen by every member and ends up in screenshots. A group is
scheme://host[:port] and the first path segment when it reads like a word ("cb",
"callbacks"), then "…" for whatever follows. Filtering by a group selects every URL
under it (webhooks.portal.forms.DeliveryFilterForm).
"""

import re
from collections import Counter
from urllib.parse import urlsplit

from django.db.models import Q, QuerySet

from webhooks.models import Delivery

MASK = "…"
# A path segment shown in the clear: a short word, not something random-looking.
WORDLIKE = re.compile(r"[A-Za-z][A-Za-z_-]{0,23}")
# How many recent deliveries the endpoint menu and summary look at: bounded work however
# many deliveries the tenant has.
SAMPLE = 1000


def endpoint_group(url: str) -> str:
    """`https://host/cb/…` for `https://user:pw@host/cb/Zk3v9?sig=1` and the like."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    segments = [s for s in parts.path.split("/") if s]
    group = f"{parts.scheme}://{host}"
    shown = segments[:1] if segments and WORDLIKE.fullmatch(segments[0]) else []
    if shown:
        group += "/" + shown[0]
    if len(segments) > len(shown) or parts.query or "@" in parts.netloc:
        group += "/" + MASK
    return group


def under(group: str) -> Q:
    """Deliveries whose URL is in `group` (a group label, or any URL: itself and below)."""
    prefix = group.removesuffix(MASK)
    if prefix.endswith("/"):
        return Q(url__startswith=prefix) | Q(url=prefix.rstrip("/"))
    return Q(url=prefix) | Q(url__startswith=prefix + "/") | Q(url__startswith=prefix + "?")


def recent_groups(deliveries: QuerySet[Delivery]) -> list[dict]:
    """The endpoint groups of the latest SAMPLE deliveries, each with how many of those are
    dead, retrying and delivered, busiest first (one indexed query)."""
    recent = deliveries.order_by("-created_at", "-pk").values_list("url", "state")[:SAMPLE]
    counts: dict[str, Counter] = {}
    for url, state in recent:
        counts.setdefault(endpoint_group(url), Counter())[state] += 1
    rows = [
        {
            "group": group,
            "delivered": counter["delivered"],
            "retrying": counter["retrying"],
            "dead": counter["dead"],
            "other": counter["pending"] + counter["delivering"],
            "total": counter.total(),
        }
        for group, counter in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row["total"], row["group"]))
