"""SSML play sources: checked against the elements espeak-ng's SSML mode speaks, then
rewritten for it.

ACS takes Azure's SSML (`<speak>` with `<voice name="en-US-JennyNeural">` and friends).
espeak-ng (`-m`) understands `<speak>`, `<voice>` (by `xml:lang` and `gender`),
`<break>`, `<prosody rate|pitch|volume>`, `<say-as>`, `<emphasis>`, `<p>`, `<s>`,
`<sub>` and `<audio>` (which we refuse: it would fetch a URL behind the SSRF guard's back).
Anything else (Azure's `mstts:` extensions, `<phoneme>`, `<lexicon>`) is refused by name,
rather than read out as text or silently dropped. Voice names are mapped to a language:
"en-GB-RyanNeural" speaks as espeak-ng's en-gb.
"""

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

SSML_NS = "http://www.w3.org/2001/10/synthesis"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ALLOWED: dict[str, frozenset[str]] = {
    "speak": frozenset({"version", XML_LANG}),
    "voice": frozenset({"name", "gender", XML_LANG}),
    "break": frozenset({"time", "strength"}),
    "prosody": frozenset({"rate", "pitch", "volume"}),
    "say-as": frozenset({"interpret-as", "format", "detail"}),
    "emphasis": frozenset({"level"}),
    "p": frozenset({XML_LANG}),
    "s": frozenset({XML_LANG}),
    "sub": frozenset({"alias"}),
}
MAX_SSML = 8000  # characters
_LOCALE_IN_NAME = re.compile(r"^([a-z]{2,3}-[a-z]{2})-", re.IGNORECASE)


class SsmlError(ValueError):
    """The SSML is not something we can speak; the message says what and where."""


def parse(ssml: str) -> ET.Element:
    """The `<speak>` document, checked. Raises SsmlError naming the first problem."""
    if len(ssml) > MAX_SSML:
        raise SsmlError(f"at most {MAX_SSML} characters")
    if "<!" in ssml:
        # No DTDs, entities or CDATA: nothing that expands or refers outside the text.
        raise SsmlError("DOCTYPE, ENTITY and CDATA declarations are not allowed")
    try:
        root = ET.fromstring(ssml)
    except ET.ParseError as exc:
        raise SsmlError(f"not well-formed XML: {exc}") from None
    if _local(root.tag) != "speak":
        raise SsmlError(f"the root element must be <speak>, not <{_local(root.tag)}>")
    for element in root.iter():
        name = _local(element.tag)
        if name not in ALLOWED or not _ssml_namespace(element.tag):
            raise SsmlError(f"unsupported element <{_display(element.tag)}>")
        for attribute in element.attrib:
            if attribute not in ALLOWED[name] and not attribute.startswith("{http://www.w3"):
                raise SsmlError(f"unsupported attribute {attribute!r} on <{name}>")
    if not "".join(root.itertext()).strip():
        raise SsmlError("there is no text to speak")
    return root


def for_espeak(ssml: str, known_language: Callable[[str], bool]) -> tuple[str, str]:
    """(SSML for espeak-ng -m, the locale of <speak>). `known_language` tells whether
    espeak-ng has a voice for a locale. Raises SsmlError."""
    root = parse(ssml)
    locale = root.get(XML_LANG) or "en-US"
    for element in root.iter():
        if _local(element.tag) != "voice":
            continue
        name = element.attrib.pop("name", None)
        match = _LOCALE_IN_NAME.match(name or "")
        if match and known_language(match.group(1)) and XML_LANG not in element.attrib:
            element.set(XML_LANG, match.group(1).lower())
    ET.register_namespace("", SSML_NS)
    return ET.tostring(root, encoding="unicode"), locale


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ssml_namespace(tag: str) -> bool:
    # <speak xmlns="http://www.w3.org/2001/10/synthesis"> or no namespace at all.
    return not tag.startswith("{") or tag.startswith("{" + SSML_NS + "}")


def _display(tag: str) -> str:
    if _ssml_namespace(tag):
        return _local(tag)
    if tag.startswith("{"):
        namespace, local = tag[1:].split("}", 1)
        prefix = "mstts" if "mstts" in namespace else namespace
        return f"{prefix}:{local}"
    return tag
