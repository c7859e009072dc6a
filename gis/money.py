"""Money: amounts in hryvnias as exact decimals to the kopeck — read from what people and files
write, and written back in a language's way (Babel's CLDR data). The ``money`` field type
(layers.base) and the reconstruction finances both use it."""
from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel import Locale, numbers

MAX_AMOUNT = Decimal("99999999999999.99")  # numeric(16,2)
CENT = Decimal("0.01")


class BadAmount(ValueError):
    """Why a value is not an amount, in Ukrainian and English."""

    def __init__(self, uk: str, en: str):
        super().__init__(en)
        self.uk, self.en = uk, en


def parse_money(value) -> Decimal:
    """An amount as an exact Decimal with kopecks: ``1234.5``, ``"1 234 567,89"``, a Decimal. Floats
    are read through their shortest text (0.1 → 0.10). Negative, not a number, more than two decimals
    or more than 10¹⁴: BadAmount."""
    if isinstance(value, bool) or value is None or value == "":
        raise BadAmount("потрібна сума в гривнях", "an amount in UAH is needed")
    text = repr(value) if isinstance(value, float) else str(value)
    text = re.sub(r"[\s\u00a0\u202f]", "", text).replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise BadAmount(f"«{value}» — не число", f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise BadAmount(f"«{value}» — не число", f"{value!r} is not a number")
    if amount < 0:
        raise BadAmount("сума не може бути від'ємною", "the amount cannot be negative")
    if amount > MAX_AMOUNT:
        raise BadAmount("завелика сума", "the amount is too large")
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise BadAmount("не більше двох знаків після коми (копійки)", "at most two decimals (kopecks)")
    return amount.quantize(CENT) or Decimal("0.00")  # never -0.00


def format_money(value, currency: str = "UAH", lang: str = "uk") -> str:
    """An amount to the kopeck: ``1 234 567,80 ₴`` (uk), ``UAH 1,234,567.80`` (en); "—" for none."""
    if value is None:
        return "—"
    locale = Locale.parse(lang)
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    text = numbers.format_currency(amount, currency, locale=locale)
    return _currency_spacing(text, numbers.get_currency_symbol(currency, locale))


def _currency_spacing(text: str, symbol: str) -> str:
    """CLDR's currency spacing, which Babel does not apply: a symbol with a letter next to the digits is
    kept apart from them by a no-break space ("UAH1.00" → "UAH 1.00"); "₴" or "$" stay close."""
    at = text.find(symbol)
    if at < 0 or not symbol:
        return text
    before, after = text[:at], text[at + len(symbol):]
    if after[:1].isdigit() and unicodedata.category(symbol[-1])[0] not in "SZ":
        after = "\u00a0" + after
    if before[-1:].isdigit() and unicodedata.category(symbol[0])[0] not in "SZ":
        before += "\u00a0"
    return before + symbol + after
