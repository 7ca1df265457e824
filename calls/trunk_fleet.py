"""The SIP trunks one gateway carries (`run_gateway --driver sip`): a SipCarrier per
enabled trunk inside the gateway's CarrierRouter, kept in step with the Trunk rows, and
each trunk's OPTIONS ping and registration written back for the portal and the API.

Which network a leg goes out on is decided here too (`route_for_dial`): a phone number
dialled from one of the tenant's numbers goes over that number's trunk; everything else
(ACS users, numbers on no trunk) stays on the simulated carrier.

Everything here touches the database synchronously: the gateway calls it off its loop.
"""

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone

from carrier.interface import Carrier
from carrier.routing import CarrierRouter
from carrier.sip.config import TrunkConfig
from tenants import trunks
from tenants.models import PhoneNumber, Trunk

log = logging.getLogger(__name__)
PREFIX = "trunk-"


def route_of(trunk_id: int) -> str:
    return f"{PREFIX}{trunk_id}"


def trunk_of(route: str) -> int | None:
    """The trunk id a route names; None for the simulated carrier ("")."""
    return int(route[len(PREFIX) :]) if route.startswith(PREFIX) else None


def route_for_dial(tenant_id: int, to_raw_id: str, caller_id: str) -> str:
    """The network a leg to `to_raw_id` placed from `caller_id` goes out on."""
    key = (tenant_id, to_raw_id, caller_id)
    return routes_for_dials([key])[key]


def routes_for_dials(dials: list[tuple[int, str, str]]) -> dict[tuple[int, str, str], str]:
    """`route_for_dial` for a batch of (tenant id, to raw id, caller id): one SELECT."""
    wanted = {(t, caller) for t, to, caller in dials if to.startswith("4:") and caller}
    found: dict[tuple[int, str], int] = {}
    if wanted:
        rows = PhoneNumber.unscoped.filter(
            tenant_id__in={t for t, _ in wanted},
            e164__in={caller for _, caller in wanted},
            trunk__enabled=True,
        ).values_list("tenant_id", "e164", "trunk_id")
        found = {(t, e164): trunk for t, e164, trunk in rows}
    return {
        (t, to, caller): route_of(found[(t, caller)])
        if to.startswith("4:") and (t, caller) in found
        else ""
        for t, to, caller in dials
    }


def trunk_config(trunk: Trunk, *, sip_port: int | None = None) -> TrunkConfig:
    """The driver's view of a trunk (the password decrypted now, kept in memory only)."""
    base = settings.SIP_PORT_BASE
    return TrunkConfig(
        proxy_host=trunk.proxy_host,
        proxy_port=trunk.proxy_port,
        transport=trunk.transport,
        domain=trunk.domain,
        username=trunk.username,
        password=trunk.password,
        register=trunk.register,
        register_expires=trunk.register_expires,
        codecs=tuple(trunk.codecs.split(",")),
        max_calls=trunk.max_concurrent_calls,
        default_caller_id=trunk.default_caller_id,
        strip_plus=trunk.strip_plus,
        inbound_prefix=trunk.inbound_prefix,
        send_pai=trunk.send_pai,
        bind_host=settings.SIP_BIND_HOST,
        sip_port=sip_port if sip_port is not None else (base + trunk.pk if base else 0),
        rtp_port_min=settings.SIP_RTP_PORT_MIN,
        rtp_port_max=settings.SIP_RTP_PORT_MAX,
        advertised_host=settings.SIP_ADVERTISED_HOST,
        realtime_priority=settings.MEDIA_REALTIME_PRIORITY,
    )


def _sip_carrier(config: TrunkConfig) -> Any:
    from carrier.sip.driver import SipCarrier  # numpy and the SIP stack: only when used

    carrier = SipCarrier(config)
    carrier.start()
    return carrier


class TrunkFleet:
    def __init__(
        self,
        router: CarrierRouter,
        *,
        gateway_id: str,
        start: Callable[[TrunkConfig], Carrier] = _sip_carrier,
        on_event: Callable[[], None] | None = None,
    ) -> None:
        self.router = router
        self.gateway_id = gateway_id
        self._start = start
        self._on_event = on_event
        self._versions: dict[int, Any] = {}  # trunk id -> updated_at of what runs
        self._pinging: dict[int, float] = {}  # trunk id -> when we sent its requested ping

    def sync(self) -> list[int]:
        """Start carriers for new or changed enabled trunks, stop those of deleted or
        disabled ones (a changed trunk with live calls waits until they end). Returns the
        trunk ids carried."""
        wanted = {t.pk: t for t in Trunk.unscoped.filter(enabled=True)}
        for trunk_id in list(self._versions):
            trunk = wanted.get(trunk_id)
            if trunk is not None and trunk.updated_at == self._versions[trunk_id]:
                continue
            carrier = self.router.networks.get(route_of(trunk_id))
            if carrier is not None and carrier.live_legs():
                continue  # changed or gone, but still carrying calls: later
            self._stop(trunk_id)
        for trunk_id, trunk in wanted.items():
            if trunk_id in self._versions:
                continue
            try:
                carrier = self._start(trunk_config(trunk))
            except (OSError, ValueError) as exc:
                log.error("trunk %s (%s): cannot start its SIP agent: %s", trunk_id, trunk, exc)
                continue
            carrier.on_event = self._on_event
            self.router.add(route_of(trunk_id), carrier)
            self._versions[trunk_id] = trunk.updated_at
            log.info("trunk %s (%s): SIP on port %s", trunk_id, trunk, _port(carrier))
        return sorted(self._versions)

    def _stop(self, trunk_id: int) -> None:
        self._versions.pop(trunk_id, None)
        carrier = self.router.remove(route_of(trunk_id))
        if carrier is not None:
            with contextlib.suppress(Exception):
                carrier.close()  # type: ignore[attr-defined]

    def carrier(self, trunk_id: int) -> Any:
        return self.router.networks.get(route_of(trunk_id))

    def check(self) -> None:
        """Write what each carried trunk last saw (ping, registration), then ping again;
        the answer is written at the next check."""
        now = timezone.now()
        for trunk_id in list(self._versions):
            carrier = self.carrier(trunk_id)
            if carrier is None:
                continue
            status = carrier.status()
            ping, registration = status["ping"], status["registration"]
            state = registration.get("state", "off")
            if carrier.config.register and state == "off":
                state = Trunk.Registration.PENDING
            trunks.record_status(
                trunk_id,
                gateway_id=f"{self.gateway_id} (SIP port {_port(carrier)})"[:64],
                at=now,
                ping_status=ping.get("status"),
                ping_rtt_ms=ping.get("rtt_ms"),
                registration_state=state,
                registration_status=registration.get("status"),
            )
            carrier._submit(carrier.ua.options)  # answered on the SIP loop

    def answer_ping_requests(self) -> None:
        """ "Ping now" (the portal): send an OPTIONS to each carried trunk someone asked
        about, and write its answer (or its Timer F 408) once the SIP loop has it. Never
        waits for the network: the gateway loop calls this every second or so."""
        asked = Trunk.unscoped.filter(pk__in=list(self._versions), ping_requested_at__isnull=False)
        for trunk_id in asked.values_list("pk", flat=True):
            carrier = self.carrier(trunk_id)
            if carrier is None:
                continue
            sent = self._pinging.get(trunk_id)
            if sent is None:
                self._pinging[trunk_id] = time.time()
                carrier._submit(carrier.ua.options)  # answered on the SIP loop
                continue
            ping = carrier.status()["ping"]
            if (ping.get("at") or 0) >= sent:
                del self._pinging[trunk_id]
                trunks.record_ping(
                    trunk_id, gateway_id=f"{self.gateway_id} (SIP port {_port(carrier)})"[:64],
                    at=timezone.now(), status=ping.get("status"), rtt_ms=ping.get("rtt_ms"),
                )  # fmt: skip

    def close(self) -> None:
        for trunk_id in list(self._versions):
            self._stop(trunk_id)


def _port(carrier: Any) -> Any:
    return getattr(carrier, "sip_port", "?")
