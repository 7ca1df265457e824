"""RFC 3261 §17 timers on a real event loop with a short T1: retransmission, Timer B/F,
and a server's non-2xx answer resent until the ACK (Timer G) and given up (Timer H)."""

import asyncio

from carrier.sip.message import parse
from carrier.sip.transaction import Timers, TransactionLayer

T1 = 0.01


def request(method: str, branch: str = "z9hG4bKtest") -> bytes:
    return (
        f"{method} sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch={branch}\r\n"
        "From: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nCall-ID: c1\r\n"
        f"CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def run(scenario) -> None:
    asyncio.run(scenario())


def test_invite_retransmits_doubling_then_times_out_with_408():
    async def scenario():
        sent, responses = [], []
        layer = TransactionLayer(lambda m, a: sent.append(m), asyncio.get_running_loop(),
                                 Timers(t1=T1, t2=4 * T1, t4=5 * T1))  # fmt: skip
        layer.request(parse(request("INVITE")), ("127.0.0.1", 5060), responses.append)
        await asyncio.sleep(64 * T1 + 0.1)
        # Timer A doubles from T1: sends at 0, 1, 3, 7, 15, 31 T1 (and 63 T1 just before B).
        assert 6 <= len(sent) <= 7
        assert [r.status for r in responses] == [408]

    run(scenario)


def test_non_invite_retransmits_capped_at_t2_and_stops_on_a_response():
    async def scenario():
        sent, responses = [], []
        layer = TransactionLayer(lambda m, a: sent.append(m), asyncio.get_running_loop(),
                                 Timers(t1=T1, t2=2 * T1, t4=5 * T1))  # fmt: skip
        layer.request(parse(request("OPTIONS")), ("127.0.0.1", 5060), responses.append)
        await asyncio.sleep(10 * T1)
        count = len(sent)
        assert count >= 5  # 0, 1, 3, 5, 7, 9 T1: capped at T2 = 2 T1
        ok = parse(
            request("OPTIONS").replace(b"OPTIONS sip:x@127.0.0.1 SIP/2.0", b"SIP/2.0 200 OK")
        )
        assert layer.match_response(ok)
        await asyncio.sleep(5 * T1)
        assert len(sent) == count
        assert [r.status for r in responses] == [200]

    run(scenario)


def test_server_resends_its_final_answer_until_the_ack():
    async def scenario():
        sent = []
        layer = TransactionLayer(lambda m, a: sent.append(m), asyncio.get_running_loop(),
                                 Timers(t1=T1, t2=4 * T1, t4=5 * T1))  # fmt: skip
        invite = parse(request("INVITE"))
        server = layer.match_request(invite, ("127.0.0.1", 5999))
        busy = parse(
            request("INVITE").replace(b"INVITE sip:x@127.0.0.1 SIP/2.0", b"SIP/2.0 486 Busy Here")
        )
        server.respond(busy)
        assert layer.match_request(invite, ("127.0.0.1", 5999)) is None  # a retransmission
        await asyncio.sleep(4 * T1)
        resent = len(sent)
        assert resent >= 3  # the answer, the answer to the retransmission, Timer G
        assert layer.absorb_ack(parse(request("ACK")))
        await asyncio.sleep(8 * T1)
        assert len(sent) == resent  # the ACK stopped Timer G

    run(scenario)
