"""Per-leg RTP quality figures: counts, loss, RFC 3550 jitter and an E-model MOS.

These are what the call page will show and what a support person asks first ("was the
line bad?"). Loss counts from extended sequence numbers (RFC 3550 A.3); jitter is the
interarrival estimate of RFC 3550 A.8; MOS is ITU-T G.107's E-model reduced to what a
G.711 leg can know: delay from the jitter buffer and the round trip, loss with PLC off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RATE = 8000


@dataclass
class Quality:
    packets_sent: int = 0
    octets_sent: int = 0
    packets_received: int = 0
    octets_received: int = 0
    duplicates: int = 0
    rtcp_sent: int = 0
    rtcp_received: int = 0
    remote_fraction_lost: float | None = None  # from the peer's RTCP report about us
    remote_jitter_ms: float | None = None
    rtt_ms: float | None = None
    _base_seq: int | None = None
    _max_seq: int = 0
    _cycles: int = 0
    _jitter: float = 0.0  # timestamp units, RFC 3550's J
    _transit: float | None = None
    _seen: set[int] = field(default_factory=set)
    _expected_before: int = 0  # packets expected from earlier sources (SSRCs)
    _expected_prior: int = 0
    _received_prior: int = 0

    def sent(self, octets: int) -> None:
        self.packets_sent += 1
        self.octets_sent += octets

    def received(self, seq: int, timestamp: int, arrival: float, octets: int) -> None:
        """Account one received RTP packet (`arrival` in seconds on any steady clock)."""
        if self._base_seq is None:
            self._base_seq, self._max_seq = seq, seq
        else:
            delta = (seq - self._max_seq) & 0xFFFF
            if delta == 0 or (delta >= 0x8000 and seq in self._seen):
                self.duplicates += 1
                return
            if delta < 0x8000:
                if seq < self._max_seq:
                    self._cycles += 1 << 16
                self._max_seq = seq
        self._seen.add(seq)
        if len(self._seen) > 512:
            self._seen = {s for s in self._seen if (self._max_seq - s) & 0xFFFF < 256}
        self.packets_received += 1
        self.octets_received += octets
        transit = arrival * RATE - timestamp
        if self._transit is not None:
            d = abs(transit - self._transit)
            self._jitter += (d - self._jitter) / 16
        self._transit = transit

    def new_source(self) -> None:
        """The peer switched SSRC (a re-INVITE, a media server, a DTMF generator): its
        sequence numbers start afresh, so count loss per source (RFC 3550 §6.4.1)."""
        self._expected_before = self.expected
        self._base_seq, self._max_seq, self._cycles = None, 0, 0
        self._seen = set()
        self._transit = None

    @property
    def expected(self) -> int:
        if self._base_seq is None:
            return self._expected_before
        return self._expected_before + self._cycles + self._max_seq - self._base_seq + 1

    @property
    def lost(self) -> int:
        return max(self.expected - self.packets_received, 0)

    @property
    def jitter_ms(self) -> float:
        return self._jitter / RATE * 1000

    @property
    def jitter_units(self) -> int:
        return int(self._jitter)

    @property
    def highest_seq(self) -> int:
        return self._cycles + self._max_seq

    def interval_fraction_lost(self) -> int:
        """Loss since the previous report, of 256 (RFC 3550 A.3), for our RR block."""
        expected, received = self.expected, self.packets_received
        interval_expected = expected - self._expected_prior
        interval_lost = interval_expected - (received - self._received_prior)
        self._expected_prior, self._received_prior = expected, received
        if interval_expected <= 0 or interval_lost <= 0:
            return 0
        return min(interval_lost * 256 // interval_expected, 255)

    def mos(self, *, buffer_ms: float = 40.0) -> float | None:
        """An E-model MOS estimate (1-4.5) for what we received; None before any audio."""
        if not self.packets_received:
            return None
        loss = 100.0 * self.lost / max(self.expected, 1)
        delay = buffer_ms + 20 + 2 * self.jitter_ms + (self.rtt_ms or 0) / 2
        return mos(delay_ms=delay, loss_percent=loss)

    def figures(self, *, buffer_ms: float = 40.0) -> dict[str, float | int | None]:
        """JSON-ready figures for events and the call page."""
        score = self.mos(buffer_ms=buffer_ms)
        return {
            "packets_sent": self.packets_sent,
            "packets_received": self.packets_received,
            "packets_lost": self.lost,
            "packets_expected": self.expected,
            "duplicates": self.duplicates,
            "jitter_ms": round(self.jitter_ms, 2),
            "mos": round(score, 2) if score is not None else None,
            "rtcp_sent": self.rtcp_sent,
            "rtcp_received": self.rtcp_received,
            "remote_fraction_lost": self.remote_fraction_lost,
            "remote_jitter_ms": self.remote_jitter_ms,
            "rtt_ms": self.rtt_ms,
        }


def mos(*, delay_ms: float, loss_percent: float, ie: float = 0.0, bpl: float = 4.3) -> float:
    """MOS from the E-model (G.107): R = 93.2 - Id - Ie,eff, mapped to 1..4.5. G.711
    without PLC: Ie 0, Bpl 4.3 (G.113 Appendix I)."""
    d = delay_ms
    idd = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    ie_eff = ie + (95 - ie) * loss_percent / (loss_percent + bpl)
    r = 93.2 - idd - ie_eff
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)
