"""Speech and streams on one gateway process: how many concurrent recognitions and media
streams it carries while a 20 ms media clock stays on time, and how long a recognition
takes from the end of speech to its result.

`python -m bench.speech` (or `make bench-speech`). For each load it runs for `--seconds`:
a 20 ms ticker thread (the media clock; its lateness is what would delay RTP), R callees
saying a phrase again and again (each utterance handed to the recognizer pool the moment
it ends, as the carrier does), and S streams sending a 20 ms frame a tick to a local
WebSocket server. Prints the clock's p50/p99 lateness, recognition latency p50/p99 and
the word error rate on the fixed sentences. Needs no database.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import UTC, datetime

import django

SENTENCES = [
    "please call me back tomorrow",
    "the weather is nice today",
    "I would like to speak to an operator",
    "I want to cancel my appointment",
    "yes that is correct",
    "call me later please",
    "I need help with my bill",
    "can you hear me",
]
PHRASES = ["confirm", "cancel", "operator", "yes"]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ticker(stop: threading.Event, lateness: list[float], on_tick) -> None:
    period, start = 0.02, time.perf_counter()
    tick = 0
    while not stop.is_set():
        tick += 1
        due = start + tick * period
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        lateness.append(max(time.perf_counter() - due, 0.0))
        on_tick()


def run_load(recognitions: int, streams: int, seconds: float, voiced: dict) -> dict:
    from websockets.sync.server import serve

    from carrier.media import speech, streaming

    recognizer = speech.shared()
    server = serve(lambda ws: [None for _ in ws], "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.socket.getsockname()[1]
    connections = [
        streaming.StreamConnection(
            stream_id=f"s{i}",
            url=f"ws://127.0.0.1:{port}/",
            address="127.0.0.1",
            metadata=streaming.audio_metadata(f"s{i}", 16000),
            on_event=lambda kind, detail: None,
        )
        for i in range(streams)
    ]
    for connection in connections:
        connection.start()
    frame = voiced["confirm"][:320]
    stop, lateness, latencies = threading.Event(), [], []
    lock = threading.Lock()

    def on_tick() -> None:
        now = datetime.now(UTC)
        for connection in connections:
            connection.send_audio(frame, now, "4:+14255550123")

    def talker(index: int) -> None:
        # A callee saying a phrase, a pause, again: each utterance ends, then is decoded.
        phrase = PHRASES[index % len(PHRASES)]
        while not stop.is_set():
            ended = time.perf_counter()
            result = recognizer.submit(voiced[phrase], PHRASES).result(timeout=60)
            with lock:
                latencies.append(time.perf_counter() - ended)
            assert result.text == phrase, (phrase, result)
            stop.wait(0.5)

    clock = threading.Thread(target=ticker, args=(stop, lateness, on_tick))
    talkers = [threading.Thread(target=talker, args=(i,)) for i in range(recognitions)]
    clock.start()
    for thread in talkers:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in [clock, *talkers]:
        thread.join(timeout=90)
    for connection in connections:
        connection.close()
    server.shutdown()
    return {
        "recognitions": recognitions,
        "streams": streams,
        "clock_p50_ms": percentile(lateness, 0.5) * 1000,
        "clock_p99_ms": percentile(lateness, 0.99) * 1000,
        "recognized": len(latencies),
        "latency_p50_ms": percentile(latencies, 0.5) * 1000,
        "latency_p99_ms": percentile(latencies, 0.99) * 1000,
        "dropped": sum(c.dropped for c in connections),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--loads", default="0x0,1x0,2x0,4x0,8x0,0x10,0x50,0x100,4x50")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callauto.settings")
    django.setup()
    import logging
    import tempfile

    logging.getLogger("websockets").setLevel(logging.WARNING)

    from django.conf import settings

    from carrier.media import speech, tts

    settings.MEDIA_CACHE_DIR = tempfile.mkdtemp(prefix="bench-speech-")

    def voiced_pcm(text: str) -> bytes:
        audio = tts.render(text)
        start, end = speech.voiced_span(audio.pcm)
        return audio.pcm[start * 2 : end * 2]

    voiced = {phrase: voiced_pcm(phrase) for phrase in PHRASES}
    futures = [speech.shared().submit(voiced_pcm(s)) for s in SENTENCES]
    heard = [f.result(timeout=120).text for f in futures]
    print(
        f"WER on {len(SENTENCES)} espeak-ng sentences (default voice): "
        f"{speech.word_error_rate(SENTENCES, heard):.2f}"
    )
    print(
        "recognitions streams | clock p50 ms  p99 ms | recognized  latency p50 ms  p99 ms "
        "| dropped frames"
    )
    for load in args.loads.split(","):
        recognitions, streams = (int(part) for part in load.split("x"))
        row = run_load(recognitions, streams, args.seconds, voiced)
        print(
            f"{row['recognitions']:12d} {row['streams']:7d} | {row['clock_p50_ms']:9.2f} "
            f"{row['clock_p99_ms']:7.2f} | {row['recognized']:10d} "
            f"{row['latency_p50_ms']:14.1f} {row['latency_p99_ms']:7.1f} | {row['dropped']}"
        )


if __name__ == "__main__":
    main()
