"""A call's SIP legs on its portal page (the "call_detail" slot): each leg's media quality
(packets, loss, jitter, MOS) and a ladder diagram of every SIP message of it, drawn on
the server as SVG (Twilio's SIP debugger and Homer draw the same picture), with each
message's headers and body below it."""

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.html import escape

from calls.models import Call, Participant
from tenants.models import Tenant

US = "callauto"
COLUMN = 260  # px between two lanes
ROW = 28  # px per message
TOP = 40


def call_sip(request: HttpRequest, *, tenant: Tenant, call: Call) -> str:
    legs = (
        Participant.objects.for_tenant(tenant)
        .filter(call=call)
        .exclude(trunk__isnull=True, sip_trace__isnull=True)
        .select_related("trunk")
        .order_by("pk")
    )
    rows = [
        {
            "leg": leg,
            "quality": leg.media_quality or {},
            "ladder": ladder_svg(leg.sip_trace or []),
            "messages": _messages(leg.sip_trace or []),
        }
        for leg in legs
    ]
    if not rows:
        return ""
    return render_to_string("portal/calls/_call_sip.html", {"legs": rows}, request)


def _messages(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = trace[0]["at"] if trace else 0.0
    return [
        {**entry, "offset_ms": round((entry["at"] - start) * 1000, 1), "index": index + 1}
        for index, entry in enumerate(trace)
    ]


def ladder_svg(trace: list[dict[str, Any]]) -> str:
    """The ladder: one lane for us, one per peer address; an arrow per message, labelled
    with its first line and its time since the leg's first message."""
    if not trace:
        return ""
    lanes = [US]
    for entry in trace:
        if entry["peer"] not in lanes:
            lanes.append(entry["peer"])
    width = COLUMN * (len(lanes) - 1) + 240
    height = TOP + ROW * len(trace) + 20
    x = {lane: 120 + COLUMN * index for index, lane in enumerate(lanes)}
    parts = [
        f'<svg class="sip-ladder" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="SIP ladder diagram, {len(trace)} messages">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="currentColor"/></marker></defs>',
    ]
    for lane, lx in x.items():
        parts.append(
            f'<text x="{lx}" y="18" text-anchor="middle" font-weight="bold">{escape(lane)}</text>'
            f'<line x1="{lx}" y1="26" x2="{lx}" y2="{height - 10}" stroke="#999" '
            'stroke-dasharray="4 3"/>'
        )
    start = trace[0]["at"]
    for index, entry in enumerate(trace):
        y = TOP + ROW * index + 10
        ours, theirs = x[US], x[entry["peer"]]
        x1, x2 = (ours, theirs) if entry["direction"] == "out" else (theirs, ours)
        label = _label(entry["first_line"])
        offset = (entry["at"] - start) * 1000
        colour = "#b00" if label[:1] in "3456" and label[:1].isdigit() else "#036"
        parts.append(
            f'<g color="{colour}"><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" '
            f'stroke="currentColor" marker-end="url(#arrow)"/>'
            f'<text x="{(x1 + x2) / 2}" y="{y - 4}" text-anchor="middle" font-size="12" '
            f'fill="currentColor"><a href="#sip-{index + 1}">{escape(label)}</a></text>'
            f'<text x="4" y="{y + 4}" font-size="11" fill="#666">{offset:.0f} ms</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _label(first_line: str) -> str:
    """ "INVITE sip:..." -> "INVITE"; "SIP/2.0 200 OK" -> "200 OK"."""
    if first_line.startswith("SIP/2.0 "):
        return first_line.removeprefix("SIP/2.0 ")[:40]
    return first_line.split(" ", 1)[0]
