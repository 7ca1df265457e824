"""The simulated carrier's softphone legs: a person, not a script, answers and hangs up."""

from carrier.interface import (
    CalleeScript,
    Collect,
    Dial,
    LegOutcome,
    MediaOutcome,
    Originate,
    VirtualClock,
)
from carrier.media.audio import silence
from carrier.simulated.driver import SimulatedCarrier

LEG = "leg-1"
SOFTPHONE = CalleeScript(outcome="softphone")


def ringing(timeout: float = 30) -> tuple[SimulatedCarrier, VirtualClock]:
    clock = VirtualClock()
    carrier = SimulatedCarrier(clock)
    carrier.dial(Dial(leg_id=LEG, to="4:+15550001111", caller_id="", timeout=timeout,
                      script=SOFTPHONE))  # fmt: skip
    return carrier, clock


def run(carrier: SimulatedCarrier, clock: VirtualClock, until: float) -> list[tuple[float, str]]:
    """Every event up to `until` seconds, with when it happened."""
    seen = []
    while True:
        seen += [(clock.now(), event.kind) for event in carrier.poll()]
        upcoming = carrier.next_event_at()
        if upcoming is None or upcoming > until:
            break
        clock.advance_to(upcoming)
    clock.advance_to(until)
    return seen + [(clock.now(), event.kind) for event in carrier.poll()]


def test_a_softphone_callee_rings_until_the_invitation_times_out():
    carrier, clock = ringing(timeout=30)

    assert run(carrier, clock, 29.9) == []
    assert run(carrier, clock, 31) == [(30, LegOutcome.NO_ANSWER)]


def test_a_softphone_callee_answers_when_the_person_does():
    carrier, clock = ringing()
    run(carrier, clock, 12)

    carrier.callee_answer(LEG)

    assert run(carrier, clock, 100) == [(12, LegOutcome.ANSWERED)]  # and no timeout later
    assert LEG in carrier.live_legs()


def test_hanging_up_a_ringing_softphone_leg_declines_it():
    carrier, clock = ringing()
    run(carrier, clock, 3)

    carrier.callee_hang_up(LEG)

    assert run(carrier, clock, 100) == [(3, LegOutcome.REJECTED)]
    assert carrier.live_legs() == set()


def test_hanging_up_an_answered_softphone_leg_ends_it():
    carrier, clock = ringing()
    carrier.callee_answer(LEG)
    run(carrier, clock, 5)

    carrier.callee_hang_up(LEG)
    carrier.callee_hang_up(LEG)  # a double click is one hang-up

    assert run(carrier, clock, 6) == [(5, LegOutcome.HUNG_UP)]
    assert carrier.live_legs() == set()


def test_answering_twice_or_after_the_timeout_does_nothing():
    carrier, clock = ringing(timeout=10)
    run(carrier, clock, 11)

    carrier.callee_answer(LEG)

    assert run(carrier, clock, 20) == []


def test_a_key_the_person_presses_reaches_a_running_recognize():
    carrier, clock = ringing()
    carrier.callee_answer(LEG)
    run(carrier, clock, 1)
    carrier.collect(Collect(op_id="op", leg=LEG, prompts=(silence(2),), initial_silence=10))
    run(carrier, clock, 4)  # the prompt is over: the collection listens

    carrier.press(LEG, "1")

    [event] = carrier.poll()
    assert event.kind == MediaOutcome.RECOGNIZED
    assert event.detail == {"op": "op", "tones": ["1"], "reason": "max_tones"}


def test_a_person_calling_our_number_can_give_up_before_it_is_answered():
    clock = VirtualClock()
    carrier = SimulatedCarrier(clock)
    carrier.originate(Originate(leg_id=LEG, caller="4:+15550001111", to="+14255550100",
                                ring_timeout=30, script=SOFTPHONE))  # fmt: skip
    run(carrier, clock, 2)

    carrier.callee_hang_up(LEG)

    assert run(carrier, clock, 60) == [(2, LegOutcome.REJECTED)]


def test_a_person_calling_our_number_stays_on_once_the_app_answers():
    clock = VirtualClock()
    carrier = SimulatedCarrier(clock)
    carrier.originate(Originate(leg_id=LEG, caller="4:+15550001111", to="+14255550100",
                                ring_timeout=30, script=SOFTPHONE))  # fmt: skip
    run(carrier, clock, 2)

    carrier.answer(LEG)

    assert run(carrier, clock, 600) == [(2, LegOutcome.ANSWERED)]
    assert LEG in carrier.live_legs()
