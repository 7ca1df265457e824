"""The JSON parser of every API route (/calling and /api/v1): bounded nesting.

Python's JSON decoder recurses once per level, so a 10 KB body nested 5,000 deep raised
RecursionError (a 500), and one a little shallower than the interpreter's limit parsed but
then broke whatever walks it next (validation, the NUL check, saving a JSONField). No
request of either API needs more than a handful of levels; deeper bodies are refused with
a 400 in the ACS shape before anything else sees them. Body size is capped by Django's
DATA_UPLOAD_MAX_MEMORY_SIZE (see callauto.errors for its answer).
"""

from collections.abc import Iterable
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply objects and arrays nest in `value` (a scalar is 0), counted without
    recursion; stops counting once past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than MAX_DEPTH."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(self._too_deep()) from None
        if nesting_depth(data) > MAX_DEPTH:
            raise ParseError(self._too_deep())
        return data

    @staticmethod
    def _too_deep() -> str:
        return f"JSON parse error - objects and arrays nest at most {MAX_DEPTH} levels deep."
