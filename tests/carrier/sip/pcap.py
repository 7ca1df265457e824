"""A callee that speaks, for SIPp: int16 8 kHz audio written as a pcap of G.711 RTP in
20 ms packets (Ethernet / IPv4 / UDP, the link type SIPp's play_pcap_audio reads), which
the scenario plays to us in real time after the ACK."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from carrier.sip import g711, rtp

FRAME = 160


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    return ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF


def write(path: Path, pcm: np.ndarray, *, pt: int = g711.PCMU) -> Path:
    """Write `pcm` as RTP packets from 127.0.0.1:6000 to :6002, 20 ms apart."""
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME, dtype=np.int16)]).astype(np.int16)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # DLT_EN10MB
    for index in range(len(pcm) // FRAME):
        payload = g711.encode(pcm[index * FRAME : (index + 1) * FRAME], pt)
        packet = rtp.build(pt, index & 0xFFFF, index * FRAME, 0x5EED, payload, index == 0)
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(packet), 0) + packet
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))  # fmt: skip
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        frame = bytes(12) + b"\x08\x00" + ip + udp
        micros = index * 20_000
        out.append(struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000,
                               len(frame), len(frame)) + frame)  # fmt: skip
    path.write_bytes(b"".join(out))
    return path
