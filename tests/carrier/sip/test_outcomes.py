"""How final SIP responses and numbers map onto what the engine knows."""

import pytest

from carrier.interface import LegOutcome
from carrier.sip.config import TrunkConfig
from carrier.sip.legcontrol import _e164, _user, outcome_for


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (486, LegOutcome.BUSY),
        (600, LegOutcome.BUSY),
        (408, LegOutcome.NO_ANSWER),
        (480, LegOutcome.NO_ANSWER),
        (603, LegOutcome.REJECTED),
        (404, LegOutcome.FAILED),
        (484, LegOutcome.FAILED),
        (403, LegOutcome.FAILED),
        (503, LegOutcome.FAILED),
    ],
)
def test_final_responses_map_to_leg_outcomes(status, outcome):
    assert outcome_for(status) == outcome


def test_numbers_for_the_trunk_and_from_it():
    assert _user("4:+15551230000", strip_plus=False) == "+15551230000"
    assert _user("4:+15551230000", strip_plus=True) == "15551230000"
    assert _e164("15551230000", "+") == "+15551230000"
    assert _e164("+442071234567", "+") == "+442071234567"
    assert _e164("anonymous", "+") == "anonymous"


def test_trunk_config_refuses_what_the_driver_cannot_do():
    with pytest.raises(ValueError, match="udp only"):
        TrunkConfig(proxy_host="h", transport="tls")
    with pytest.raises(ValueError, match="codecs"):
        TrunkConfig(proxy_host="h", codecs=("G729",))
    assert TrunkConfig(proxy_host="h", codecs=("pcma", "PCMU")).payload_types == [8, 0]
