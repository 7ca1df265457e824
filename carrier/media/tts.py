"""Text-to-speech with espeak-ng, offline, cached on disk.

espeak-ng (Debian `espeak-ng`, installed by `make sysdeps`) is small, fast and needs no
network or model files, so a fresh machine can speak ACS TextSource prompts. It does not
sound like Azure's neural voices; the point is real audio of a realistic length.

The cache is only an optimisation (a miss renders again), so it may live on local disk.
Callers scope it (one scope per tenant): a shared entry would let one tenant learn, from
how fast its prompt starts, whether another tenant had already spoken that exact text
(a patient's name and appointment time, say).
"""

import contextlib
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from carrier.media import ssml as ssml_documents
from carrier.media.audio import Audio, AudioFormatError

MAX_TEXT = 4000  # characters
WORDS_PER_MINUTE = 160  # espeak-ng's 175 default is brisk for a telephone prompt
RENDER_TIMEOUT = 60.0  # seconds; 4000 characters render in a few
INSTALL_HINT = "espeak-ng is not installed: apt-get install espeak-ng"
DEFAULT_VOICE = "en-us"
VARIANTS = {"female": "f3", "male": "m3"}
# Bump when rendering changes (rate, variants, conversion) so old cache entries are unused.
_CACHE_VERSION = 1


class TtsError(Exception):
    """Text could not be rendered to speech."""


def render(
    text: str,
    *,
    locale: str = "en-US",
    voice_kind: str | None = None,
    voice_name: str | None = None,
    scope: str = "",
) -> Audio:
    """Speak `text` in canonical audio, rendering with espeak-ng on a cache miss.

    The voice comes from `resolve_voice`. Rendered audio is cached by `scope` (whose
    cache it is), text, voice, locale, voice kind and voice name, so a second call in the
    same scope reads a file. Blocking (a subprocess): call it from a thread when on an
    event loop.

    Raises TtsError for empty text, text over MAX_TEXT characters, an unknown voice kind,
    a missing espeak-ng, or a failed rendering.
    """
    if not text.strip():
        raise TtsError("the text to speak is empty")
    if len(text) > MAX_TEXT:
        raise TtsError(f"the text to speak is longer than {MAX_TEXT} characters")
    voice = resolve_voice(locale, voice_kind, voice_name)
    key = _cache_key(scope, text, voice, locale, voice_kind, voice_name)
    return _cached(key, lambda: _espeak(text, voice))


def render_ssml(document: str, *, scope: str = "") -> Audio:
    """Speak an SSML document (see carrier.media.ssml for what it may hold) through
    espeak-ng's SSML mode, with the same per-scope cache as `render`; the voice comes
    from <speak xml:lang>. Raises TtsError for SSML we refuse (naming the element) and
    for the failures `render` has."""
    try:
        rewritten, locale = ssml_documents.for_espeak(document, _has_language)
    except ssml_documents.SsmlError as exc:
        raise TtsError(f"SSML: {exc}") from None
    voice = resolve_voice(locale)
    key = _cache_key(scope, "ssml:" + rewritten, voice, locale, None, None)
    return _cached(key, lambda: _espeak(rewritten, voice, ssml=True))


def _has_language(locale: str) -> bool:
    return locale.replace("_", "-").lower() in _installed_voices()[0]


def _cached(key: str, produce: Callable[[], Audio]) -> Audio:
    path = _cache_dir() / f"tts-{key}.wav"
    try:
        return Audio.from_wav(path.read_bytes())
    except (OSError, AudioFormatError):
        pass  # not cached yet, or a damaged entry: render it again
    audio = produce()
    # A cache that cannot be written only costs the next caller a rendering.
    with contextlib.suppress(OSError):
        _write_atomically(path, audio.to_wav())
    return audio


def resolve_voice(locale: str, voice_kind: str | None = None, voice_name: str | None = None) -> str:
    """The espeak-ng voice, "language[+variant]", for an ACS locale, kind and voice name.

    A `voice_name` that espeak-ng knows ("en-gb", "en-gb+f2") wins; others (Azure names
    such as "en-US-JennyNeural") are ignored. Otherwise the locale picks the voice: the
    full tag ("en-GB" -> "en-gb"), then its language ("de-DE" -> "de"), then "en-us".
    `voice_kind` "female"/"male" adds a variant unless the voice name carries one.

    Raises TtsError for a voice kind other than male/female, or a missing espeak-ng.
    """
    languages, variants = _installed_voices()
    kind = voice_kind.lower() if voice_kind else None
    if kind is not None and kind not in VARIANTS:
        raise TtsError(f"unknown voice kind {voice_kind!r} (male or female)")
    if voice_name:
        base, _, variant = voice_name.lower().partition("+")
        if base in languages and (not variant or variant in variants):
            variant = variant or (VARIANTS[kind] if kind else "")
            return f"{base}+{variant}" if variant else base
    tag = locale.replace("_", "-").lower()
    for candidate in (tag, tag.split("-")[0], DEFAULT_VOICE):
        if candidate in languages:
            break
    else:
        candidate = DEFAULT_VOICE
    return f"{candidate}+{VARIANTS[kind]}" if kind else candidate


@functools.cache
def _installed_voices() -> tuple[dict[str, str], frozenset[str]]:
    """({language: voice file}, variants) espeak-ng has, e.g. ({"en-gb": "gmw/en"}, {"f3"})."""
    languages: dict[str, str] = {}
    variants = set()
    # Columns: Pty Language Age/Gender VoiceName File Other...; variants are listed with
    # "variant" as their language and "!v/f3" as their file.
    for option in ("--voices", "--voices=variant"):
        for line in _run([option]).decode(errors="replace").splitlines()[1:]:
            columns = line.split()
            if len(columns) < 5:
                continue
            if columns[1] == "variant":
                variants.add(columns[4].removeprefix("!v/").lower())
            else:
                # The list is in priority order; a language in two files keeps the first.
                languages.setdefault(columns[1].lower(), columns[4])
    return languages, frozenset(variants)


def _espeak(text: str, voice: str, *, ssml: bool = False) -> Audio:
    # espeak-ng 1.51 ignores a variant after a language whose name differs from its file
    # ("en-gb+f3" sounds exactly like "en-gb", whose file is gmw/en) but honours it after
    # the file name, so the file is what we pass.
    language, plus, variant = voice.partition("+")
    target = _installed_voices()[0].get(language, language) + plus + variant
    # The text goes in on stdin, so nothing in it can be taken for an option.
    args = ["-v", target, "-s", str(WORDS_PER_MINUTE), "-b", "1", "--stdin", "--stdout"]
    if ssml:
        args.append("-m")
    wav = _run(args, stdin=text.encode())
    try:
        return Audio.from_wav(wav)
    except AudioFormatError as exc:
        raise TtsError(f"espeak-ng produced unreadable audio: {exc}") from exc


def _run(args: list[str], stdin: bytes = b"") -> bytes:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise TtsError(INSTALL_HINT)
    try:
        done = subprocess.run(
            [binary, *args], input=stdin, capture_output=True, timeout=RENDER_TIMEOUT
        )
    except FileNotFoundError as exc:
        raise TtsError(INSTALL_HINT) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TtsError(f"espeak-ng failed: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        raise TtsError(f"espeak-ng failed: {message}")
    return done.stdout


def _cache_dir() -> Path:
    directory = Path(settings.MEDIA_CACHE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _cache_key(
    scope: str, text: str, voice: str, locale: str, voice_kind: str | None, voice_name: str | None
) -> str:
    fields = [_CACHE_VERSION, WORDS_PER_MINUTE, scope, text, voice, locale, voice_kind, voice_name]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    # Gateways may render the same prompt at once; readers must never see half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tts-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
