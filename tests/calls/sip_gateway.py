"""The production Gateway carrying SIP trunks in real time, for tests against SIPp: a
CarrierRouter (simulated default + one SipCarrier per enabled trunk, from the Trunk rows
by TrunkFleet), stepped by the test until what it waits for has happened."""

import time
from collections.abc import Callable

from calls.gateway import Gateway
from calls.trunk_fleet import TrunkFleet
from carrier.interface import MonotonicClock
from carrier.routing import CarrierRouter
from carrier.simulated.driver import SimulatedCarrier
from carrier.sip.config import TrunkConfig
from carrier.sip.driver import SipCarrier
from carrier.sip.runtime import SipRuntime
from carrier.sip.transaction import Timers

# Short SIP timers: a lost message is retransmitted (and a dead peer found) quickly.
FAST = Timers(t1=0.1, t2=0.8, t4=1.0)


def start_fast(config: TrunkConfig, runtime: SipRuntime | None = None) -> SipCarrier:
    carrier = SipCarrier(config, timers=FAST, runtime=runtime)
    carrier.start()
    return carrier


class SipGateway:
    def __init__(self, gateway_id: str = "gateway-1") -> None:
        self.router = CarrierRouter(SimulatedCarrier(MonotonicClock()))
        # A gateway is a process: its trunks share one SIP runtime of their own (a second
        # gateway in the same test, e.g. after a "crash", must not share the first's).
        self.runtime = SipRuntime()
        self.fleet = TrunkFleet(
            self.router, gateway_id=gateway_id, start=lambda c: start_fast(c, self.runtime)
        )
        self.gateway = Gateway(self.router, gateway_id=gateway_id)

    def sync(self) -> list[int]:
        return self.fleet.sync()

    def step(self) -> None:
        while self.gateway.step():
            pass

    def run_until(self, done: Callable[[], object], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.step()
            if done():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not done within {timeout} s")
            time.sleep(0.01)

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step()
            time.sleep(0.01)

    def close(self) -> None:
        self.fleet.close()
