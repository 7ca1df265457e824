"""Request bodies of the media routes (play, recognize, DTMF, hold): play sources, tones,
and recognize's DTMF, speech and choices options."""

from typing import Any

from rest_framework import serializers

from callauto.errors import BadRequest, NotSupported
from calls.api.serializers import (
    CallbackUriField,
    OperationBody,
    ParticipantField,
    StrictBooleanField,
)
from calls.identifiers import parse_participant
from carrier.media import speech, ssml
from carrier.media.play_sources import PlaySource

TONE_NAMES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "a",
    "b",
    "c",
    "d",
    "pound",
    "asterisk",
]


def parse_play_source(data: Any, field: str) -> PlaySource:
    """An ACS PlaySource: `file` (a WAV URL), `text` or `ssml` (spoken)."""
    if not isinstance(data, dict):
        raise BadRequest(f"{field}: must be a play source object.")
    kind = data.get("kind")
    cache_id = data.get("playSourceCacheId")
    if cache_id is not None and (not isinstance(cache_id, str) or len(cache_id) > 256):
        raise BadRequest(f"{field}.playSourceCacheId: must be a string of at most 256 characters.")
    if kind == "file":
        uri = (data.get("file") or {}).get("uri") if isinstance(data.get("file"), dict) else None
        url_field = CallbackUriField()
        try:
            url_field.run_validation(uri)
        except serializers.ValidationError as exc:
            raise BadRequest(f"{field}.file.uri: {exc.detail[0]}") from None
        return PlaySource(kind="file", uri=uri, cache_id=cache_id)
    if kind == "text":
        text = data.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("text"), str):
            raise BadRequest(f"{field}.text.text: the text to speak is required.")
        if text.get("customVoiceEndpointId"):
            raise NotSupported(
                f"{field}.text.customVoiceEndpointId: custom voices are not supported."
            )
        if len(text["text"]) > 4000:
            raise BadRequest(f"{field}.text.text: at most 4000 characters.")
        for key in ("sourceLocale", "voiceName"):
            if text.get(key) is not None and not isinstance(text[key], str):
                raise BadRequest(f"{field}.text.{key}: must be a string.")
        voice_kind = text.get("voiceKind")
        if voice_kind not in (None, "male", "female"):
            raise BadRequest(f"{field}.text.voiceKind: must be male or female.")
        return PlaySource(
            kind="text",
            text=text["text"],
            locale=str(text.get("sourceLocale") or "en-US")[:16],
            voice_kind=voice_kind,
            voice_name=(str(text["voiceName"])[:64] if text.get("voiceName") else None),
            cache_id=cache_id,
        )
    if kind == "ssml":
        return _ssml_source(data, field, cache_id)
    raise BadRequest(f"{field}.kind: must be file, text or ssml.")


def _ssml_source(data: dict, field: str, cache_id: str | None) -> PlaySource:
    body = data.get("ssml")
    if not isinstance(body, dict) or not isinstance(body.get("ssmlText"), str):
        raise BadRequest(f"{field}.ssml.ssmlText: the SSML to speak is required.")
    if body.get("customVoiceEndpointId"):
        raise NotSupported(f"{field}.ssml.customVoiceEndpointId: custom voices are not supported.")
    try:
        ssml.parse(body["ssmlText"])
    except ssml.SsmlError as exc:
        raise BadRequest(f"{field}.ssml.ssmlText: {exc}.") from None
    return PlaySource(kind="ssml", text=body["ssmlText"], cache_id=cache_id)


def parse_tones(data: Any, field: str, *, max_count: int) -> list[str]:
    if not isinstance(data, list) or not all(isinstance(t, str) for t in data):
        raise BadRequest(f"{field}: must be a list of tone names.")
    unknown = [t for t in data if t.lower() not in TONE_NAMES]
    if unknown:
        raise BadRequest(f"{field}: unknown tone {unknown[0]!r}; use {', '.join(TONE_NAMES)}.")
    if len(data) > max_count:
        raise BadRequest(f"{field}: at most {max_count} tones.")
    return [t.lower() for t in data]


class PlayBody(OperationBody):
    playSources = serializers.ListField(child=serializers.JSONField(), max_length=10)
    playTo = serializers.ListField(child=serializers.JSONField(), required=False, max_length=20)
    interruptCallMediaOperation = StrictBooleanField(required=False, default=False)
    playOptions = serializers.DictField(required=False)

    def validate(self, attrs: dict) -> dict:
        if not attrs["playSources"]:
            raise BadRequest("playSources: at least one play source is required.")
        attrs["sources"] = [
            parse_play_source(s, f"playSources[{i}]") for i, s in enumerate(attrs["playSources"])
        ]
        attrs["targets"] = [
            parse_participant(t, f"playTo[{i}]") for i, t in enumerate(attrs.get("playTo") or [])
        ]
        loop = (attrs.get("playOptions") or {}).get("loop", False)
        if not isinstance(loop, bool):
            raise BadRequest("playOptions.loop: must be true or false.")
        attrs["loop"] = loop
        return attrs


class RecognizeBody(OperationBody):
    recognizeInputType = serializers.CharField()
    playPrompt = serializers.JSONField(required=False)
    playPrompts = serializers.ListField(
        child=serializers.JSONField(), required=False, max_length=10
    )
    interruptCallMediaOperation = StrictBooleanField(required=False, default=False)
    recognizeOptions = serializers.DictField()

    def validate(self, attrs: dict) -> dict:
        kind = attrs["recognizeInputType"]
        if kind not in INPUT_TYPES:
            raise BadRequest(f"recognizeInputType: must be one of {', '.join(INPUT_TYPES)}.")
        attrs["input_type"] = kind
        prompts = attrs.get("playPrompts") or (
            [attrs["playPrompt"]] if attrs.get("playPrompt") is not None else []
        )
        name = "playPrompts" if attrs.get("playPrompts") else "playPrompt"
        attrs["prompts"] = [
            parse_play_source(p, f"{name}[{i}]" if name == "playPrompts" else name)
            for i, p in enumerate(prompts)
        ]
        options = attrs["recognizeOptions"]
        attrs.update(parse_speech_options(kind, options))
        if "targetParticipant" not in options:
            raise BadRequest("recognizeOptions.targetParticipant: this field is required.")
        attrs["target"] = parse_participant(
            options["targetParticipant"], "recognizeOptions.targetParticipant"
        )
        dtmf = options.get("dtmfOptions") or {}
        if not isinstance(dtmf, dict):
            raise BadRequest("recognizeOptions.dtmfOptions: must be an object.")
        attrs["initial_silence"] = _number(
            options.get("initialSilenceTimeoutInSeconds", 5),
            "recognizeOptions.initialSilenceTimeoutInSeconds",
            1,
            300,
        )
        attrs["inter_tone"] = _number(
            dtmf.get("interToneTimeoutInSeconds", 2),
            "recognizeOptions.dtmfOptions.interToneTimeoutInSeconds",
            1,
            60,
        )
        max_tones = dtmf.get("maxTonesToCollect", 1)
        if (
            isinstance(max_tones, bool)
            or not isinstance(max_tones, int)
            or not 1 <= max_tones <= 30
        ):
            raise BadRequest(
                "recognizeOptions.dtmfOptions.maxTonesToCollect: "
                "must be a whole number from 1 to 30."
            )
        attrs["max_tones"] = max_tones
        stop_tones = dtmf.get("stopTones")
        attrs["stop_tones"] = (
            []
            if stop_tones is None
            else parse_tones(stop_tones, "recognizeOptions.dtmfOptions.stopTones", max_count=16)
        )
        interrupt_prompt = options.get("interruptPrompt", False)
        if not isinstance(interrupt_prompt, bool):
            raise BadRequest("recognizeOptions.interruptPrompt: must be true or false.")
        attrs["interrupt_prompt"] = interrupt_prompt
        return attrs


INPUT_TYPES = ("dtmf", "speech", "speechOrDtmf", "choices")
MAX_CHOICES, MAX_PHRASES, MAX_PHRASE = 10, 10, 100


def parse_speech_options(kind: str, options: dict) -> dict:
    """end_silence, language and choices of a recognize (only what `kind` uses)."""
    field = "recognizeOptions"
    if options.get("speechRecognitionModelEndpointId"):
        raise NotSupported(
            f"{field}.speechRecognitionModelEndpointId: custom speech models are not supported."
        )
    language = options.get("speechLanguage")
    if language is not None and (
        not isinstance(language, str) or language.lower().replace("_", "-") not in ("en-us", "en")
    ):
        raise BadRequest(f"{field}.speechLanguage: only en-US is supported.")
    speech_options = options.get("speechOptions") or {}
    if not isinstance(speech_options, dict):
        raise BadRequest(f"{field}.speechOptions: must be an object.")
    end_ms = speech_options.get("endSilenceTimeoutInMs", 500)
    parsed: dict = {
        "end_silence": _number(end_ms, f"{field}.speechOptions.endSilenceTimeoutInMs", 100, 10000)
        / 1000,
        "choices": [],
    }
    choices = options.get("choices")
    if kind != "choices":
        if choices:
            raise BadRequest(f"{field}.choices: only for recognizeInputType choices.")
        return parsed
    if not isinstance(choices, list) or not choices:
        raise BadRequest(f"{field}.choices: at least one choice is required.")
    if len(choices) > MAX_CHOICES:
        raise BadRequest(f"{field}.choices: at most {MAX_CHOICES} choices.")
    labels, tones = set(), set()
    for index, choice in enumerate(choices):
        name = f"{field}.choices[{index}]"
        parsed["choices"].append(_choice(choice, name))
        label, tone = parsed["choices"][-1]["label"], parsed["choices"][-1]["tone"]
        if label in labels:
            raise BadRequest(f"{name}.label: {label!r} is used by another choice.")
        if tone and tone in tones:
            raise BadRequest(f"{name}.tone: {tone!r} is used by another choice.")
        labels.add(label)
        tones.add(tone)
    return parsed


def _choice(choice: Any, name: str) -> dict:
    if not isinstance(choice, dict):
        raise BadRequest(f"{name}: must be an object with label and phrases.")
    label = choice.get("label")
    if not isinstance(label, str) or not 0 < len(label) <= MAX_PHRASE:
        raise BadRequest(f"{name}.label: a string of 1 to {MAX_PHRASE} characters is required.")
    phrases = choice.get("phrases")
    if (
        not isinstance(phrases, list)
        or not 0 < len(phrases) <= MAX_PHRASES
        or not all(isinstance(p, str) and speech.normalize_phrase(p) for p in phrases)
        or any(len(p) > MAX_PHRASE for p in phrases)
    ):
        raise BadRequest(
            f"{name}.phrases: 1 to {MAX_PHRASES} phrases of words, "
            f"each at most {MAX_PHRASE} characters."
        )
    unknown = speech.unknown_words(phrases)
    if unknown:
        raise BadRequest(
            f"{name}.phrases: the recognizer does not know the word(s) {', '.join(unknown)}."
        )
    tone = choice.get("tone")
    if tone is not None:
        tone = parse_tones([tone], f"{name}.tone", max_count=1)[0]
    return {"label": label, "phrases": phrases, "tone": tone or ""}


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"{field}: must be a number from {low} to {high}.")
    return float(value)


class TargetBody(OperationBody):
    targetParticipant = ParticipantField()


class SendDtmfBody(TargetBody):
    tones = serializers.JSONField()

    def validate(self, attrs: dict) -> dict:
        attrs["tones"] = parse_tones(attrs["tones"], "tones", max_count=18)
        if not attrs["tones"]:
            raise BadRequest("tones: at least one tone is required.")
        return attrs


class HoldBody(TargetBody):
    playSourceInfo = serializers.JSONField(required=False)

    def validate(self, attrs: dict) -> dict:
        source = attrs.get("playSourceInfo")
        attrs["music"] = None if source is None else parse_play_source(source, "playSourceInfo")
        return attrs
