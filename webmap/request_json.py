"""The app's JSON reader: what any request body parsed as JSON goes through.

Python's json module recurses once per nesting level, so a body of 100,000 ``[`` raised
RecursionError — not a ValueError, so ``request.get_json()`` (silent or not) let it through as a
500. Here nesting deeper than any document of this service needs (MAX_DEPTH) is a ValueError
like any other malformed JSON, found before parsing: ``get_json(silent=True)`` gives None,
``get_json()`` a 400, and views that parse a body themselves (webmap.ogc_write) answer their own
400. NaN and Infinity, which RFC 8259 does not allow but Python reads, are refused too.

Installed as ``app.json`` (webmap.create_app); views parse with ``current_app.json.loads`` or
``request.get_json``, never with the json module directly.
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

from gis.jsonvalues import jsonable

# A GeoJSON FeatureCollection of MultiPolygons is 7 levels deep; nothing the service reads is near this.
MAX_DEPTH = 64
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_TO_SQUARE = bytes.maketrans(b"{}", b"[]")


class JSONTooDeep(ValueError):
    pass


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def nesting_exceeds(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON ``text`` nests arrays and objects more than ``limit`` levels deep.

    At C speed, without parsing: strings dropped, only the brackets kept (all made ``[]``), then
    each pass of ``replace("[]", "")`` removes exactly the innermost level.
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", raw).translate(_TO_SQUARE, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


class GuardedJSONProvider(DefaultJSONProvider):
    ensure_ascii = False  # Ukrainian text stays readable in JSON

    @staticmethod
    def default(o: Any) -> Any:
        """Answers write database values as every other output does (gis.jsonvalues): exact
        decimals as numbers, not Flask's strings."""
        converted = jsonable(o)
        return converted if converted is not o else DefaultJSONProvider.default(o)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if nesting_exceeds(s):
            raise JSONTooDeep(f"JSON is nested more than {MAX_DEPTH} levels deep")
        kwargs.setdefault("parse_constant", _no_constant)
        try:
            return json.loads(s, **kwargs)
        except RecursionError:  # cannot happen below MAX_DEPTH; kept as the last guard
            raise JSONTooDeep(f"JSON is nested more than {MAX_DEPTH} levels deep") from None
