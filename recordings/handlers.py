"""The carrier's recording events, as the engine hands them over (calls.ingest)."""

from carrier.interface import CarrierEvent
from recordings import services


def recording_ready(event: CarrierEvent) -> bool:
    detail = event.detail
    chunk = services.store_file(
        detail["recording"],
        data=detail["data"],
        content_type=detail["content_type"],
        duration=float(detail["duration"]),
        metadata=detail["metadata"],
        end_reason=detail.get("end_reason", "stopped"),
    )
    return chunk is not None


def recording_failed(event: CarrierEvent) -> bool:
    detail = event.detail
    return services.fail_recording(
        detail["recording"], message=detail["message"], at_start=bool(detail.get("at_start"))
    )
