"""The SIP media engine under speech and stream load, as a gateway runs it: one asyncio
loop with the 20 ms MediaClock, MediaEngine, its speech collections (carrier.sip.listening)
and media streams (carrier.sip.streams, all on the one streams hub) to a WebSocket server
in another process (the app is elsewhere). Legs are parties fed espeak-ng audio frame by
frame, as decoded RTP would be.

`run(recognitions, streams, seconds, voiced)` returns the clock's lateness p50/p99 (what
would delay RTP), end-of-speech-to-result latency p50/p99 (the segmenter's hangover, the
decode in the recognizer pool, the tick that picks the result up) and dropped frames.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time

import numpy as np

from carrier.interface import Choice, Collect, MediaOutcome, Stream
from carrier.media import recognition, speech
from carrier.sip.clock import MediaClock
from carrier.sip.engine import MediaEngine
from carrier.sip.mixer import ExternalParty
from carrier.sip.streams import SipStreams

SERVER = """
import sys
from websockets.sync.server import serve
server = serve(lambda ws: [None for _ in ws], "127.0.0.1", 0)
print(server.socket.getsockname()[1], flush=True)
server.serve_forever()
"""
PHRASES = ["confirm", "cancel", "operator", "yes"]
CHOICES = tuple(Choice(p.title(), (p,)) for p in PHRASES)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(
    recognitions: int,
    streams: int,
    seconds: float,
    voiced: dict[str, bytes],
    *,
    realtime: bool = False,
) -> dict:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline())  # type: ignore[union-attr]
    loop = asyncio.new_event_loop()
    clock = MediaClock()
    engine = MediaEngine(clock, lambda event: outcomes.append(event))
    hub = SipStreams(engine, lambda event: None, loop.call_soon_threadsafe)
    outcomes: list = []
    talkers: dict[str, tuple[ExternalParty, str]] = {}
    wrong, dropped = [0], [0]
    talk = np.concatenate([np.frombuffer(v, "<i2") for v in voiced.values()] * 3)

    def ask(leg: str) -> None:
        party, phrase = talkers[leg]
        engine.collect(Collect(op_id=f"{leg}-{time.monotonic_ns()}", leg=leg, prompts=(),
                               speech="choices", choices=CHOICES, initial_silence=30,
                               end_silence=recognition.HANGOVER))  # fmt: skip
        party.feed(np.zeros(4000, np.int16))  # half a second, then the phrase
        party.feed(np.frombuffer(voiced[phrase], "<i2"))

    def check() -> None:  # each result: the next recognize on that leg
        while outcomes:
            event = outcomes.pop(0)
            if event.kind in (MediaOutcome.RECOGNIZED, MediaOutcome.RECOGNIZE_FAILED):
                if event.detail.get("label", "").lower() != talkers[event.leg_id][1]:
                    wrong[0] += 1
                ask(event.leg_id)

    async def main() -> None:
        clock.start()
        clock.add(lambda _n: check())
        for index in range(streams):
            party = ExternalParty(keep=1)
            party.feed(np.tile(talk, int(seconds * 8000 / len(talk)) + 2))
            engine.add_leg(f"s{index}", party, call=f"c{index}", who=f"4:+1{index:010d}")
            legs = ((f"s{index}", f"4:+1{index:010d}"),)
            legs = ((f"s{index}", f"4:+1{index:010d}"),)
            hub.start(Stream(stream_id=f"s{index}", call=f"c{index}", legs=legs,
                             url=f"ws://127.0.0.1:{port}/", address="127.0.0.1"))  # fmt: skip
        for index in range(recognitions):
            leg = f"r{index}"
            talkers[leg] = (ExternalParty(keep=1), PHRASES[index % len(PHRASES)])
            engine.add_leg(leg, talkers[leg][0], call=leg)
            ask(leg)
        await asyncio.sleep(1.0)  # connections made, pool warm
        clock.lateness.clear()
        engine.speech.latencies.clear()
        await asyncio.sleep(seconds)
        dropped[0] = sum(live.connection.dropped for live in hub._live.values())
        for index in range(streams):
            hub.stop(f"s{index}")
        await clock.stop()

    def media_thread() -> None:
        if realtime:
            # Only this thread (the media loop) gets SCHED_FIFO; the streams hub and the
            # recognizer processes stay ordinary, as a gateway would run them.
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        loop.run_until_complete(main())

    thread = threading.Thread(target=media_thread)
    thread.start()
    thread.join()
    loop.close()
    server.terminate()
    server.wait()
    lateness, latencies = list(clock.lateness), list(engine.speech.latencies)
    return {
        "recognitions": recognitions,
        "streams": streams,
        "clock_p50_ms": percentile(lateness, 0.5) * 1000,
        "clock_p99_ms": percentile(lateness, 0.99) * 1000,
        "recognized": len(latencies),
        "wrong": wrong[0],
        "latency_p50_ms": percentile(latencies, 0.5) * 1000,
        "latency_p99_ms": percentile(latencies, 0.99) * 1000,
        "dropped": dropped[0],
    }


def voiced_phrases(render) -> dict[str, bytes]:
    out = {}
    for phrase in PHRASES:
        audio = render(phrase)
        start, end = speech.voiced_span(audio.pcm)
        out[phrase] = audio.pcm[start * 2 : end * 2]
    return out
