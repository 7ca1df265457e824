"""SIP message parsing and building: what trunks really send, and round trips."""

import pytest

from carrier.sip import digest
from carrier.sip.message import (
    Headers,
    NameAddr,
    SipParseError,
    Uri,
    Via,
    canonical,
    parse,
    split_list,
)

INVITE = (
    "INVITE sip:+15551230000@trunk.example.com;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Alice, A." <sip:alice@example.com>;tag=1928301774\r\n'
    "To: <sip:+15551230000@trunk.example.com>\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1:5060;transport=UDP>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\r\n"
)


def test_request_parses_and_round_trips():
    message = parse(INVITE.encode())
    assert (message.method, message.uri) == (
        "INVITE",
        "sip:+15551230000@trunk.example.com;user=phone",
    )
    assert message.cseq == (314159, "INVITE")
    assert [via.branch for via in message.vias] == ["z9hG4bK776asdhds", "z9hG4bKnashds8"]
    assert message.addr("From").display == "Alice, A."
    assert message.from_tag == "1928301774"
    assert message.body == b"v=0\r"  # Content-Length cuts the body
    again = parse(message.encode())
    assert list(again.headers) == list(message.headers)
    assert again.first_line == message.first_line


def test_compact_forms_odd_whitespace_folding_and_case():
    raw = (
        b"SIP/2.0 180   Ringing\n"
        b"v:SIP / 2.0 / udp   host.example:5070 ;BRANCH=z9hG4bKabc , SIP/2.0/UDP other\n"
        b"f : <sip:a@b>;TAG=x\n"
        b"t:<sip:c@d>;tag=y\n"
        b"i:  id@host\n"
        b"cseq: 2 invite\n"
        b"subject: a long\n"
        b"  folded line\n"
        b"l: 0\n"
        b"\n"
    )
    message = parse(raw)
    assert (message.status, message.reason) == (180, "Ringing")
    via = message.top_via
    assert (via.transport, via.host, via.port, via.branch) == (
        "UDP",
        "host.example",
        5070,
        "z9hG4bKabc",
    )
    assert len(message.vias) == 2  # two values on one compact line
    assert (message.from_tag, message.to_tag, message.call_id) == ("x", "y", "id@host")
    assert message.cseq == (2, "INVITE")
    assert message.headers.get("SUBJECT") == "a long folded line"
    assert "Content-Length: 0" in message.encode().decode()


def test_multi_valued_headers_split_outside_quotes_and_brackets():
    assert split_list('"a, b" <sip:x@y;p=1,2>, <sip:z@w>') == [
        '"a, b" <sip:x@y;p=1,2>',
        "<sip:z@w>",
    ]
    headers = Headers([("Record-Route", "<sip:p1;lr>, <sip:p2;lr>"), ("record-route", "<sip:p3>")])
    assert headers.get_all("Record-Route") == ["<sip:p1;lr>", "<sip:p2;lr>", "<sip:p3>"]
    # A header that is not a list keeps its commas.
    challenge = Headers([("WWW-Authenticate", 'Digest realm="a", nonce="b"')])
    assert challenge.get_all("www-authenticate") == ['Digest realm="a", nonce="b"']


def test_uris_name_addrs_and_vias():
    uri = Uri.parse("sips:user:pw@[2001:db8::1]:5061;Transport=TCP;lr?subject=x")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips", "user", "pw", "[2001:db8::1]", 5061,
    )  # fmt: skip
    assert uri.params == {"transport": "TCP", "lr": None}
    assert str(uri) == "sips:user:pw@[2001:db8::1]:5061;transport=TCP;lr?subject=x"
    plain = NameAddr.parse("sip:bob@example.com;tag=abc")  # addr-spec: the tag is the header's
    assert plain.tag == "abc"
    assert plain.uri.params == {}
    assert str(NameAddr.parse('"Bob" <sip:bob@h>;tag=1')) == '"Bob" <sip:bob@h>;tag=1'
    assert (
        str(Via.parse("SIP/2.0/UDP h:1;branch=z9hG4bKx;rport"))
        == "SIP/2.0/UDP h:1;branch=z9hG4bKx;rport"
    )
    assert canonical("WWW-AUTHENTICATE") == "WWW-Authenticate"
    assert canonical("m") == "Contact"
    assert canonical("x-custom-thing") == "X-Custom-Thing"


@pytest.mark.parametrize(
    "raw",
    [b"", b"hello world\r\n\r\n", b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n",
     b"SIP/2.0 200 OK\r\nnot a header\r\n\r\n"],
)  # fmt: skip
def test_garbage_is_refused(raw):
    with pytest.raises(SipParseError):
        parse(raw)


def test_digest_matches_the_rfc_2617_example():
    challenge = digest.Challenge.parse(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    assert challenge.qop == ["auth", "auth-int"]
    value = digest.authorization(
        challenge, username="Mufasa", password="Circle Of Life", method="GET",
        uri="/dir/index.html", nc=1, cnonce="0a4f113b",
    )  # fmt: skip
    params = digest.parse_auth_params(value.removeprefix("Digest "))
    assert params["response"] == "6629fae49393a05397450978507c4ef1"
    assert params["nc"] == "00000001"
    assert params["qop"] == "auth"
    assert params["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"


def test_digest_refuses_what_it_cannot_answer():
    with pytest.raises(digest.DigestError):
        digest.Challenge.parse('Basic realm="x"')
    with pytest.raises(digest.DigestError):
        digest.Challenge.parse('Digest realm="x", nonce="n", algorithm=SHA-256')
