"""The call page shows a SIP leg's media quality and its ladder diagram (issue 14)."""

import pytest
from django.urls import reverse

from calls.models import Call, Participant
from tenants import trunks

pytestmark = pytest.mark.django_db

TRACE = [
    {"at": 100.000, "direction": "out", "peer": "127.0.0.1:5070", "body": "v=0",
     "first_line": "INVITE sip:+14255550123@127.0.0.1:5070 SIP/2.0", "body_length": 3,
     "headers": [["Call-ID", "abc@127.0.0.1"], ["X-Evil", "<script>alert(1)</script>"]]},
    {"at": 100.002, "direction": "in", "peer": "127.0.0.1:5070", "first_line":
     "SIP/2.0 180 Ringing", "headers": [], "body_length": 0, "body": ""},
    {"at": 100.500, "direction": "in", "peer": "127.0.0.1:5070", "first_line":
     "SIP/2.0 200 OK", "headers": [], "body_length": 0, "body": ""},
    {"at": 100.501, "direction": "out", "peer": "127.0.0.1:5070", "first_line":
     "ACK sip:127.0.0.1:5070 SIP/2.0", "headers": [], "body_length": 0, "body": ""},
]  # fmt: skip
QUALITY = {"packets_sent": 250, "packets_received": 248, "packets_lost": 2,
           "packets_expected": 250, "jitter_ms": 0.41, "mos": 4.38, "rtcp_sent": 2,
           "rtcp_received": 1}  # fmt: skip


def sip_call(tenant) -> Call:
    trunk = trunks.save_trunk(tenant, actor=None, name="Carrier A", proxy_host="127.0.0.1")
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
    Participant.unscoped.create(
        tenant=tenant, call=call, kind="phoneNumber", raw_id="4:+14255550123",
        role=Participant.Role.TARGET, state=Participant.State.DISCONNECTED, trunk=trunk,
        sip_code=200, media_quality=QUALITY, sip_trace=TRACE,
    )  # fmt: skip
    return call


def page(client, tenant, user, call) -> str:
    client.force_login(user)
    url = reverse("portal:call_detail", kwargs={"tenant_slug": tenant.slug, "call_id": call.pk})
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_call_page_shows_quality_and_a_sip_ladder(client, tenant, user):
    html = page(client, tenant, user, sip_call(tenant))

    assert "on trunk Carrier A" in html
    assert "<td>248</td>" in html
    assert "4.38" in html
    assert '<svg class="sip-ladder"' in html
    assert html.count("marker-end=") == 4  # one arrow per message
    assert ">180 Ringing<" in html
    assert ">500 ms<" in html  # the 200 OK, half a second after the INVITE
    assert "X-Evil: &lt;script&gt;" in html  # headers are text, never markup
    assert "<script>alert(1)" not in html


def test_a_simulated_call_has_no_sip_section(client, tenant, user):
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
    Participant.unscoped.create(tenant=tenant, call=call, kind="phoneNumber",
                                raw_id="4:+14255550123", role=Participant.Role.TARGET)  # fmt: skip

    assert "sip-ladder" not in page(client, tenant, user, call)


def test_another_tenants_call_page_stays_404(client, tenant, other_tenant, user):
    call = sip_call(other_tenant)
    client.force_login(user)
    url = reverse("portal:call_detail", kwargs={"tenant_slug": tenant.slug, "call_id": call.pk})

    assert client.get(url).status_code == 404
