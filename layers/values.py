"""One value as a declared field's type: the rule importers, forms and proposals share.

``convert(field, value)`` gives the typed value (None for empty) or raises BadValue saying why not:
numbers with a decimal comma, yes/no in Ukrainian and English, dates day-first, a choice by its
code or either language's label.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re

import numpy as np
import pandas as pd

from gis.money import BadAmount, parse_money
from layers.base import Field

TRUE = {"1", "true", "yes", "y", "так", "т", "+", "t"}
FALSE = {"0", "false", "no", "n", "ні", "н", "-", "f"}


class BadValue(ValueError):
    pass


def _text(value) -> str:
    return re.sub(r"\s+", " ", str(value)).strip()


def convert(f: Field, value):
    """One source value as the field's type; None for empty; BadValue says why not (the field's
    own ``check`` included)."""
    return check(f, _typed(f, value))


def check(f: Field, value):
    """A typed value against the field's own rule (``Field.check``) and range (``Field.minimum``,
    ``Field.maximum``); BadValue gives the reason in Ukrainian and English."""
    if value is not None and f.minimum is not None and value < f.minimum:
        raise BadValue(f"менше за {f.minimum:g} / less than {f.minimum:g}")
    if value is not None and f.maximum is not None and value > f.maximum:
        raise BadValue(f"більше за {f.maximum:g} / more than {f.maximum:g}")
    if value is not None and f.check is not None:
        why = f.check(value)
        if why:
            raise BadValue(f"{why['uk']} / {why['en']}")
    return value


def _typed(f: Field, value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, str) and not value.strip():
        return None
    if f.type == "text":
        return _text(value)
    if f.type in ("integer", "unit", "hromada", "category"):
        number = convert(Field(f.name, "number", f.label), value)
        if number != int(number):
            raise BadValue(f"{value!r} is not a whole number")
        return int(number)
    if f.type == "number":
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return float(value)
        try:
            return float(_text(value).replace(" ", "").replace(",", "."))
        except ValueError:
            raise BadValue(f"{value!r} is not a number") from None
    if f.type == "money":
        try:
            return parse_money(value.item() if isinstance(value, (np.integer, np.floating)) else value)
        except BadAmount as exc:
            raise BadValue(exc.en) from None
    if f.type == "boolean":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        text = _text(value).lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise BadValue(f"{value!r} is not yes/no")
    if f.type in ("date", "datetime"):
        if isinstance(value, (dt.date, pd.Timestamp)):
            stamp = pd.Timestamp(value)
        else:
            try:
                stamp = pd.Timestamp(_text(value)) if re.match(r"^\d{4}-", _text(value)) \
                    else pd.to_datetime(_text(value), dayfirst=True)
            except (ValueError, TypeError):
                raise BadValue(f"{value!r} is not a date") from None
        return stamp.date() if f.type == "date" else stamp.to_pydatetime()
    if f.type == "choice":
        text = _text(value).lower()
        for code, labels in f.choices.items():
            if text == code.lower() or text in (lbl.lower() for lbl in labels.values()):
                return code
        raise BadValue(f"{value!r} is not one of {', '.join(f.choices)}")
    if f.type == "json":
        if isinstance(value, np.ndarray):  # a list property of a GeoJSON or GeoPackage, as GDAL reads it
            value = value.tolist()
        try:
            return json.dumps(value if not isinstance(value, str) else json.loads(value), ensure_ascii=False)
        except (ValueError, TypeError):
            raise BadValue(f"{value!r} is not JSON") from None
    raise BadValue(f"unsupported field type {f.type}")
