"""What ended a leg, as ACS reports it: resultInformation (code, message, sipDetails)
from the carrier's event. A SIP trunk gives its final response (`sip_code`, `reason`);
the simulated carrier gives only the outcome kind."""

from typing import Any

from carrier.interface import SIP_REASONS, LegOutcome

# SIP final responses as ACS reports them: (code, message). Codes not listed: 5xx and
# anything else unexpected fail with 500 (sipDetails keeps the real code).
SIP_RESULTS: dict[int, tuple[int, str]] = {
    486: (486, "Busy here"),
    600: (486, "Busy everywhere"),
    408: (408, "Request timeout: the callee did not answer"),
    480: (408, "Temporarily unavailable: the callee did not answer"),
    487: (408, "Request terminated: the callee did not answer"),
    603: (603, "Declined"),
    404: (404, "Not found: the number does not exist"),
    484: (404, "Address incomplete: the number does not exist"),
    403: (403, "Forbidden by the SIP trunk"),
    401: (403, "The SIP trunk refused our credentials"),
    407: (403, "The SIP trunk refused our credentials"),
}


def leg_result(kind: str, detail: dict[str, Any]) -> tuple[int, str, int]:
    """(code, message, sip code) for a leg that ended with `kind` and `detail`."""
    sip_code = detail.get("sip_code")
    if not isinstance(sip_code, int) or sip_code < 300:
        code, message = SIP_REASONS.get(kind, SIP_REASONS[LegOutcome.FAILED])
        return code, message, code
    code, message = SIP_RESULTS.get(sip_code, (500, "The call could not be placed"))
    reason = str(detail.get("reason") or "")[:120]
    if reason and sip_code not in SIP_RESULTS:
        message = f"{message} (SIP {sip_code} {reason})"
    return code, message, sip_code
