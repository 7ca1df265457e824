"""A SIP trunk's configuration as the driver needs it: a plain dataclass, no Django.

Phase 2 builds this from the tenant's Trunk row (password decrypted at that moment); the
driver and the tests only ever see this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from carrier.sip.sdp import CODECS


@dataclass(frozen=True)
class TrunkConfig:
    proxy_host: str  # where every out-of-dialog request goes (the trunk's SBC or proxy)
    proxy_port: int = 5060
    transport: str = "udp"  # only UDP is implemented
    domain: str = ""  # the trunk's SIP domain for URIs; defaults to proxy_host
    username: str = ""  # digest user (and REGISTER's address-of-record user)
    password: str = ""
    register: bool = False
    register_expires: int = 600
    codecs: tuple[str, ...] = ("PCMU", "PCMA")  # preference order
    telephone_event: bool = True  # offer RFC 4733
    max_calls: int = 200
    # Caller ID: the From user when the command gives none; strip "+" for trunks that
    # want national or bare digits; a prefix turning inbound digits into E.164.
    default_caller_id: str = ""
    strip_plus: bool = False
    inbound_prefix: str = "+"
    send_pai: bool = False  # also send P-Asserted-Identity with the caller ID
    # Local side: bind address, SIP port (0 = any), RTP range, address in Contact/SDP.
    bind_host: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_port_min: int = 20000
    rtp_port_max: int = 30000
    advertised_host: str = ""  # the public address, when behind NAT
    ring_timeout: float = 60.0  # inbound: how long we let a caller ring unanswered
    user_agent: str = "callauto"
    # > 0: the SIP loop thread (the media clock) asks for SCHED_FIFO at this priority.
    realtime_priority: int = 0
    extra: dict[str, str] = field(default_factory=dict)  # headers added to every INVITE

    def __post_init__(self) -> None:
        if self.transport.lower() != "udp":
            raise ValueError(f"transport {self.transport!r} is not supported (udp only)")
        unknown = [codec for codec in self.codecs if codec.upper() not in CODECS]
        if unknown or not self.codecs:
            raise ValueError(f"unsupported codecs {unknown or self.codecs} (PCMU, PCMA)")
        if not 0 < self.rtp_port_min < self.rtp_port_max <= 65535:
            raise ValueError("the RTP port range is empty or out of bounds")

    @property
    def sip_domain(self) -> str:
        return self.domain or self.proxy_host

    @property
    def contact_host(self) -> str:
        return self.advertised_host or self.bind_host

    @property
    def payload_types(self) -> list[int]:
        return [CODECS[codec.upper()] for codec in self.codecs]
