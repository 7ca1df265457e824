"""RTP (RFC 3550) packets, RFC 4733 telephone-events and RTCP sender/receiver reports.

Pure functions on bytes, so the stream and the tests share them. Parsing honours CSRCs,
the header extension and padding (trunks and SBCs do send them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

EVENT_KEYS = "0123456789*#ABCD"  # RFC 4733 events 0-15
KEY_EVENTS = {key: index for index, key in enumerate(EVENT_KEYS)}
RTCP_SR, RTCP_RR = 200, 201


class RtpError(ValueError):
    """Not an RTP packet we can read."""


@dataclass(frozen=True)
class RtpPacket:
    pt: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False


def build(
    pt: int, seq: int, timestamp: int, ssrc: int, payload: bytes, marker: bool = False
) -> bytes:
    header = struct.pack(
        "!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc
    )
    return header + payload


def parse(data: bytes) -> RtpPacket:
    if len(data) < 12:
        raise RtpError("shorter than an RTP header")
    first, second, seq, timestamp, ssrc = struct.unpack_from("!BBHII", data)
    if first >> 6 != 2:
        raise RtpError("not RTP version 2")
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20 and end > offset:  # padding: the last byte says how much
        end -= data[-1]
    if offset > end:
        raise RtpError("truncated RTP packet")
    return RtpPacket(second & 0x7F, seq, timestamp, ssrc, data[offset:end], bool(second & 0x80))


def is_rtcp(data: bytes) -> bool:
    """RTCP shares a port only with rtcp-mux; its packet types 200-204 tell it apart."""
    return len(data) >= 2 and 192 <= data[1] <= 223


# --- RFC 4733 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TelephoneEvent:
    key: str
    end: bool
    volume: int
    duration: int  # in timestamp units (8 kHz)


def build_event(key: str, *, end: bool, duration: int, volume: int = 10) -> bytes:
    return struct.pack("!BBH", KEY_EVENTS[key], (0x80 if end else 0) | (volume & 0x3F), duration)


def parse_event(payload: bytes) -> TelephoneEvent | None:
    """The event in an RFC 4733 payload, or None for events that are not keys (e.g. flash)."""
    if len(payload) < 4:
        return None
    event, flags, duration = struct.unpack_from("!BBH", payload)
    if event >= len(EVENT_KEYS):
        return None
    return TelephoneEvent(EVENT_KEYS[event], bool(flags & 0x80), flags & 0x3F, duration)


def event_packets(key: str, *, tone_ms: int = 100, frame_ms: int = 20) -> list[tuple[bytes, bool]]:
    """The payloads (and marker bits) that send one key, one per frame: the first with the
    marker, growing durations, then the end packet three times (RFC 4733 §2.5.1.4)."""
    step = frame_ms * 8
    frames = max(tone_ms // frame_ms, 1)
    out = [(build_event(key, end=False, duration=step * (i + 1)), i == 0) for i in range(frames)]
    last = step * frames
    out += [(build_event(key, end=True, duration=last), False) for _ in range(3)]
    return out


# --- RTCP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportBlock:
    ssrc: int
    fraction_lost: int  # of 256
    cumulative_lost: int
    highest_seq: int
    jitter: int  # timestamp units
    lsr: int = 0
    dlsr: int = 0


def build_report(
    ssrc: int,
    *,
    sender: tuple[int, int, int, int] | None,
    block: ReportBlock | None,
) -> bytes:
    """An SR (`sender` = (64-bit NTP time, RTP timestamp, packets sent, octets sent)) or,
    without `sender`, an RR; with at most one report block."""
    blocks = b""
    if block is not None:
        lost = block.cumulative_lost & 0xFFFFFF
        blocks = struct.pack(
            "!IBBHIIII",
            block.ssrc,
            block.fraction_lost & 0xFF,
            lost >> 16,
            lost & 0xFFFF,
            block.highest_seq,
            block.jitter,
            block.lsr,
            block.dlsr,
        )
    count = 1 if block is not None else 0
    if sender is not None:
        ntp, rtp_ts, packets, octets = sender
        body = struct.pack("!IQIII", ssrc, ntp, rtp_ts, packets, octets) + blocks
        kind = RTCP_SR
    else:
        body = struct.pack("!I", ssrc) + blocks
        kind = RTCP_RR
    return struct.pack("!BBH", 0x80 | count, kind, len(body) // 4) + body


def parse_reports(data: bytes) -> list[tuple[int, list[ReportBlock]]]:
    """(packet type, report blocks) of each SR/RR in a compound RTCP packet."""
    out: list[tuple[int, list[ReportBlock]]] = []
    offset = 0
    while offset + 4 <= len(data):
        first, kind, words = struct.unpack_from("!BBH", data, offset)
        end = offset + 4 + 4 * words
        if first >> 6 != 2 or end > len(data):
            break
        if kind in (RTCP_SR, RTCP_RR):
            position = offset + 8 + (20 if kind == RTCP_SR else 0)
            blocks = []
            for _ in range(first & 0x1F):
                if position + 24 > end:
                    break
                ssrc, fraction, high, low, seq, jitter, lsr, dlsr = struct.unpack_from(
                    "!IBBHIIII", data, position
                )
                blocks.append(
                    ReportBlock(ssrc, fraction, (high << 16) | low, seq, jitter, lsr, dlsr)
                )
                position += 24
            out.append((kind, blocks))
        offset = end
    return out
