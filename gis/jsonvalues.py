"""The one JSON serialiser for values out of the database: dates and times as ISO 8601, exact
decimals (money) as JSON numbers, and JSON text the database already wrote (a geometry from
``ST_AsGeoJSON``) spliced in as it is. Used by the feature reader, the exports' streamed JSON and the
Flask app's JSON provider, so that the same row reads the same everywhere.

Encoded by orjson (compact, UTF-8 as it is, keys in insertion order); dates, times and decimals go
through :func:`jsonable` as before. What orjson refuses (an integer beyond 64 bits) is written by the
standard library instead, to the same JSON.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json

import orjson

_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


class RawJSON:
    """JSON text written elsewhere (PostGIS's ``ST_AsGeoJSON``), put into the output unparsed: a feature's
    geometry is never decoded into Python lists only to be encoded again. ``value()`` decodes it for
    Python code that needs the object; two are equal when their JSON values are."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def value(self):
        return orjson.loads(self.text)

    def __eq__(self, other):
        if isinstance(other, RawJSON):
            return self.text == other.text or self.value() == other.value()
        return self.value() == other

    __hash__ = None

    def __repr__(self) -> str:
        return f"RawJSON({self.text!r})"


def jsonable(value):
    """A database value as JSON has it; anything else as it is."""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        # A whole amount stays whole; kopecks survive a float at any budget numeric(16,2) holds.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, RawJSON):
        return value.value()
    return value


def json_default(value):
    """``json.dumps(default=…)``: what the standard encoder does not know."""
    converted = jsonable(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return converted


def _orjson_default(value):
    if type(value) is RawJSON:
        return orjson.Fragment(value.text)
    return json_default(value)


def dumpb(obj) -> bytes:
    """``obj`` as compact JSON in UTF-8 (an answer's body)."""
    try:
        return orjson.dumps(obj, default=_orjson_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(obj, default=json_default, ensure_ascii=False, separators=(",", ":")).encode()


def dumps(obj, **kwargs) -> str:
    """``obj`` as JSON text; ``kwargs`` (indent, sort_keys, …) are the standard library's."""
    if kwargs:
        return json.dumps(obj, default=json_default, ensure_ascii=False, **kwargs)
    return dumpb(obj).decode()
