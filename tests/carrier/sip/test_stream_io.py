"""The tick's own RTP reading (no asyncio callback per packet) and the batched G.711
steps: real sockets on localhost, what each leg hears and sends must not change."""

from __future__ import annotations

import asyncio
import socket
import time

import numpy as np

from carrier.media.voice import synthetic_voice
from carrier.sip import g711, rtp
from carrier.sip.jitter import FRAME
from carrier.sip.mixer import ExternalParty
from carrier.sip.stream import RtpStream, encode_all, receive_all

PORTS = (47600, 47699)


def voice(samples: int) -> np.ndarray:
    pcm = np.frombuffer(synthetic_voice(samples / 8000).pcm, dtype="<i2")
    return pcm[:samples].astype(np.int16)


def run(coroutine_fn):
    return asyncio.run(coroutine_fn())


def send(sock: socket.socket, stream: RtpStream, packets: list[bytes]) -> None:
    for packet in packets:
        sock.sendto(packet, ("127.0.0.1", stream.local_port))
    time.sleep(0.05)  # localhost: in the socket by then


def test_receive_all_decodes_every_stream_like_each_alone_and_latches():
    """Two legs (PCMU, PCMA) read in one step hear exactly what their packets carried;
    the packets' source is latched (symmetric RTP) and counted, arrival times in seconds
    (30 ms packets sent back to back: the RFC 3550 jitter is a few ms, not thousands)."""

    async def main():
        streams = [RtpStream(lambda *_: None), RtpStream(lambda *_: None)]
        for stream, pt in zip(streams, (g711.PCMU, g711.PCMA), strict=True):
            await stream.open("127.0.0.1", *PORTS)
            stream.pt = pt
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind(("127.0.0.1", 0))
        audio = voice(720)
        expected = {}
        for stream in streams:
            payloads = [g711.encode(audio[i : i + 240], stream.pt) for i in range(0, 720, 240)]
            packets = [
                rtp.build(stream.pt, 7 + n, 1000 + 240 * n, 99, p) for n, p in enumerate(payloads)
            ]
            send(sender, stream, packets)
            expected[stream] = g711.decode(b"".join(payloads), stream.pt)
        receive_all([*streams, ExternalParty()])  # a party that is not RTP is left alone
        for stream in streams:
            heard = np.concatenate([stream.pull() for _ in range(4)])
            assert np.array_equal(heard, expected[stream][: 4 * FRAME])
            assert stream.latched
            assert stream.remote == sender.getsockname()
            assert stream.quality.packets_received == 3
            assert stream.quality.figures()["jitter_ms"] < 5
            stream.close()
        sender.close()

    run(main)


def test_a_new_source_drops_the_old_ones_unread_audio():
    """Packets of SSRC 1 then SSRC 2 arrive between two ticks: as when each was put in
    the buffer on arrival, the switch forgets SSRC 1's audio; only SSRC 2's plays."""

    async def main():
        stream = RtpStream(lambda *_: None)
        await stream.open("127.0.0.1", *PORTS)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        old = g711.encode(np.full(480, 8000, dtype=np.int16), g711.PCMU)
        new = voice(480)
        packets = [rtp.build(0, 1, 0, 1, old[:240]), rtp.build(0, 2, 240, 1, old[240:])]
        payload = g711.encode(new, g711.PCMU)
        packets += [
            rtp.build(0, 50, 9000, 2, payload[:240]),
            rtp.build(0, 51, 9240, 2, payload[240:]),
        ]
        send(sender, stream, packets)
        receive_all([stream])
        heard = np.concatenate([stream.pull() for _ in range(3)])
        assert np.array_equal(heard, g711.decode(payload, g711.PCMU))
        stream.close()
        sender.close()

    run(main)


def test_encode_all_is_each_legs_own_encoding():
    """One lookup for every leg gives each RTP leg the bytes its own encode would; other
    parties and silent legs get None (they push as before)."""
    streams = [RtpStream(lambda *_: None) for _ in range(5)]
    for stream, pt in zip(streams, (0, 8, 0, 8, 0), strict=True):
        stream.pt = pt
    frames = [voice(FRAME * (n + 1))[-FRAME:] for n in range(5)]
    pushes: list[tuple[object, np.ndarray | None]] = list(zip(streams, frames, strict=True))
    pushes += [(ExternalParty(), frames[0]), (streams[0], None)]
    payloads = encode_all(pushes)
    for (stream, frame), payload in zip(pushes[:5], payloads, strict=False):
        assert payload == g711.encode(frame, stream.pt)  # type: ignore[attr-defined]
    assert payloads[5:] == [None, None]
