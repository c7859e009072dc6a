"""Ukrainian administrative codes."""
from __future__ import annotations

import re

from gis.errors import InvalidInput

KATOTTG_RE = re.compile(r"^UA\d{17}$")


def katottg(code: str) -> str:
    """Normalise and check a KATOTTG code (``UA`` + 17 digits); raise InvalidInput otherwise."""
    value = (code or "").strip().upper()
    if not KATOTTG_RE.match(value):
        raise InvalidInput(
            f"Код КАТОТТГ {code!r} має бути у вигляді UA і 17 цифр, наприклад UA05020310000080026",
            f"KATOTTG code {code!r} must be UA followed by 17 digits, e.g. UA05020310000080026",
        )
    return value
