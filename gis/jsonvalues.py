"""The one JSON serialiser for values out of the database: dates and times as ISO 8601, exact
decimals (money) as JSON numbers. Used by the feature reader, the exports' streamed JSON and the
Flask app's JSON provider, so that the same row reads the same everywhere."""
from __future__ import annotations

import datetime as dt
import decimal
import json


def jsonable(value):
    """A database value as JSON has it; anything else as it is."""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        # A whole amount stays whole; kopecks survive a float at any budget numeric(16,2) holds.
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def json_default(value):
    """``json.dumps(default=…)``: what the standard encoder does not know."""
    converted = jsonable(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return converted


def dumps(obj, **kwargs) -> str:
    return json.dumps(obj, default=json_default, ensure_ascii=False, **kwargs)
