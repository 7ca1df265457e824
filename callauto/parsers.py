"""The JSON parser of every API route (/calling and /api/v1): bounded nesting, and strings
the database can store.

Python's JSON decoder recurses once per level, so a 10 KB body nested 5,000 deep raised
RecursionError (a 500), and one a little shallower than the interpreter's limit parsed but
then broke whatever walks it next (validation, the NUL check, saving a JSONField). No
request of either API needs more than a handful of levels; deeper bodies are refused with
a 400 in the ACS shape before anything else sees them.

JSON may also spell strings PostgreSQL cannot hold: NUL (`\u0000`) and unpaired UTF-16
surrogates (`\ud800`). DRF's CharField refuses them, but a JSONField, a DictField or a
related-object lookup passed them on to the database (a 500); they are refused here, for
every field of every route. Body size is capped by Django's DATA_UPLOAD_MAX_MEMORY_SIZE
(see callauto.errors for its answer).
"""

from collections.abc import Iterable
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


def storable(text: str) -> bool:
    """Whether PostgreSQL can store `text`: no NUL, valid UTF-8 (no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """What is wrong with a parsed body, or None: objects and arrays nested deeper than
    `limit`, or a string (key or value) the database cannot store. Walks without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        children: Iterable[Any]
        if isinstance(node, str):
            if not storable(node):
                return "strings must not contain NUL characters or unpaired surrogates."
            continue
        if isinstance(node, dict):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            continue
        if level > limit:
            return f"objects and arrays nest at most {limit} levels deep."
        stack.extend((child, level + 1) for child in children)
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than MAX_DEPTH and strings the
    database cannot store."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            problem: str | None = f"objects and arrays nest at most {MAX_DEPTH} levels deep."
        else:
            problem = check(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data
