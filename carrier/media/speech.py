"""Speech recognition with pocketsphinx, offline, in worker processes.

pocketsphinx's PyPI wheel carries an en-US acoustic model, language model and dictionary,
so nothing is downloaded at run time. Its decoder holds the GIL while it works (two
threads decode slower than one), so recognitions run in a small pool of processes: the
media clock hands a finished utterance over and is never blocked by a decoding.

Audio arrives in the media path's format (8 kHz, 16-bit mono) and is resampled to the
16 kHz the acoustic model was trained on. Choices compile to a JSGF grammar of their
phrases; the likeliest phrase counts as a match only if saying it would take about as
long as what was said (`plausible`).

Nothing here imports Django: the workers are spawned processes that import this module.
"""

import functools
import hashlib
import multiprocessing
import re
import threading
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

RATE_IN, RATE_MODEL = 8000, 16000
WIDTH = 2
# Silence either side of an utterance: the decoder needs some to find word boundaries.
PAD_SECONDS = 0.3
# A 20 ms frame is voiced when its RMS is over this (16-bit full scale is 32767).
VOICED_RMS = 300
FRAME = RATE_IN // 50
# A phrase takes about WORD_SECONDS plus PHONE_SECONDS a phone to say; it is plausible
# when what was said lasted between 1/PLAUSIBLE_RATIO and PLAUSIBLE_RATIO times that.
WORD_SECONDS, PHONE_SECONDS, PLAUSIBLE_RATIO = 0.12, 0.08, 2.2
WORKERS = 2


@dataclass(frozen=True)
class Result:
    """What was recognized: the words (empty for nothing), its confidence (0..1) and, for a
    grammar, whether it matched one of its phrases."""

    text: str
    confidence: float
    matched: bool = True


class UnknownWord(ValueError):
    """A phrase holds a word the recognizer's dictionary does not know."""


def to_model_rate(pcm: bytes) -> bytes:
    """8 kHz PCM as 16 kHz PCM (the band above 4 kHz stays empty, as on a phone line)."""
    converted, _state = audioop.ratecv(pcm, WIDTH, 1, RATE_IN, RATE_MODEL, None)
    return converted


def voiced_span(pcm: bytes) -> tuple[int, int] | None:
    """(first, end) sample of the voiced part of 8 kHz `pcm`, by 20 ms frames; None when
    it is all silence."""
    step = FRAME * WIDTH
    voiced = [
        index
        for index in range(len(pcm) // step)
        if audioop.rms(pcm[index * step : (index + 1) * step], WIDTH) > VOICED_RMS
    ]
    if not voiced:
        return None
    return voiced[0] * FRAME, (voiced[-1] + 1) * FRAME


def normalize_phrase(phrase: str) -> str:
    """A phrase as the grammar holds it: lower-case words, no punctuation."""
    return " ".join(re.findall(r"[a-z']+", phrase.lower()))


def unknown_words(phrases: list[str]) -> list[str]:
    """Words of `phrases` the dictionary lacks (they could never be recognized)."""
    words = _dictionary()
    return sorted(
        {w for phrase in phrases for w in normalize_phrase(phrase).split() if w not in words}
    )


def grammar(phrases: list[str]) -> str:
    """A JSGF grammar accepting exactly one of the phrases. Raises UnknownWord."""
    unknown = unknown_words(phrases)
    if unknown:
        raise UnknownWord(f"not in the recognizer's dictionary: {', '.join(unknown)}")
    choices = sorted({normalize_phrase(p) for p in phrases if normalize_phrase(p)})
    return f"#JSGF V1.0;\ngrammar choices;\npublic <utterance> = {' | '.join(choices)};\n"


def plausible(phrase: str, voiced_seconds: float) -> bool:
    """Could `phrase` have taken `voiced_seconds` to say? A grammar always finds its
    likeliest phrase, even in a sentence that holds none of them; a phrase whose phones
    would fill a small part (or far more than all) of what was said is a no-match."""
    words = phrase.split()
    phones = sum(_dictionary().get(word, 3) for word in words)
    expected = len(words) * WORD_SECONDS + phones * PHONE_SECONDS
    return expected / PLAUSIBLE_RATIO <= voiced_seconds <= expected * PLAUSIBLE_RATIO


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Word edits (substitutions, insertions, deletions) per reference word, over pairs of
    sentences; case and punctuation do not count."""
    edits = words = 0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        ref, hyp = normalize_phrase(reference).split(), normalize_phrase(hypothesis).split()
        row = list(range(len(hyp) + 1))
        for i, ref_word in enumerate(ref, 1):
            diagonal, row[0] = row[0], i
            for j, hyp_word in enumerate(hyp, 1):
                diagonal, row[j] = (
                    row[j],
                    min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word)),
                )
        edits, words = edits + row[-1], words + len(ref)
    return edits / max(words, 1)


@functools.cache
def _dictionary() -> dict[str, int]:
    """{word: phones in its first pronunciation} of the recognizer's dictionary."""
    from pocketsphinx import get_model_path

    words: dict[str, int] = {}
    path = f"{get_model_path()}/en-us/cmudict-en-us.dict"
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            # Entries: "word phones...", alternates as "word(2) phones...".
            word, *phones = line.split()
            words.setdefault(word.split("(")[0], len(phones))
    return words


# --- the worker side ----------------------------------------------------------------------

_decoder = None
_searches: set[str] = set()


def _worker_decoder():
    global _decoder
    if _decoder is None:
        from pocketsphinx import Decoder

        _decoder = Decoder(samprate=RATE_MODEL, loglevel="FATAL")
    return _decoder


def decode(pcm: bytes, jsgf: str | None = None) -> Result:
    """Recognize 8 kHz `pcm`, with the language model or the `jsgf` grammar (in this
    process: the pool calls it in its workers)."""
    decoder = _worker_decoder()
    if jsgf is None:
        decoder.activate_search("_default")
    else:
        name = "g" + hashlib.sha256(jsgf.encode()).hexdigest()[:16]
        if name not in _searches:
            decoder.add_jsgf_string(name, jsgf)
            _searches.add(name)
        decoder.activate_search(name)
    pad = bytes(int(RATE_MODEL * PAD_SECONDS) * WIDTH)
    decoder.start_utt()
    decoder.process_raw(pad + to_model_rate(pcm) + pad, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    text = hypothesis.hypstr.strip() if hypothesis is not None else ""
    confidence = float(min(max(hypothesis.prob, 0.0), 1.0)) if hypothesis is not None else 0.0
    if jsgf is None:
        return Result(text, confidence if text else 0.0, matched=bool(text))
    span = voiced_span(pcm)
    voiced = (span[1] - span[0]) / RATE_IN if span else 0.0
    if text and plausible(text, voiced):
        return Result(text, confidence)
    return Result("", 0.0, matched=False)


def _warm_up() -> None:
    _worker_decoder()


# --- the media side -----------------------------------------------------------------------


class Recognizer:
    """A pool of recognizer processes; `submit` never blocks on a decoding."""

    def __init__(self, workers: int = WORKERS) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_warm_up)
        # Grammars are checked against the dictionary here, on the caller's side: read it
        # now, so the first choices recognition does not stall the media loop (~0.3 s).
        threading.Thread(target=_dictionary, daemon=True).start()

    def submit(self, pcm: bytes, phrases: list[str] | None = None) -> "Future[Result]":
        """Recognize 8 kHz `pcm`: free speech, or one of `phrases`. Raises UnknownWord."""
        jsgf = None if phrases is None else grammar(phrases)
        return self._pool.submit(decode, pcm, jsgf)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_shared: Recognizer | None = None
_shared_lock = threading.Lock()


def shared() -> Recognizer:
    """The process's recognizer pool, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Recognizer()
        return _shared
