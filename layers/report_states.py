"""The words every module that touches reports shares: the statuses and their machine, who acts,
and a report's public address. Its own module so that the workflow (layers.reports), the unit's
mail (layers.unit_mail) and the lamps (layers.lighting) use them without importing each other."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Status:
    uk: str
    en: str
    is_open: bool
    colour: str


STATUSES = {
    "new": Status("нове", "new", True, "#c92a2a"),
    "acknowledged": Status("прийнято", "acknowledged", True, "#e67700"),
    "in_progress": Status("у роботі", "in progress", True, "#1971c2"),
    "reopened": Status("відкрито знову", "reopened", True, "#c92a2a"),
    "resolved": Status("вирішено", "resolved", False, "#2b8a3e"),
    "rejected": Status("відхилено", "rejected", False, "#495057"),
    "duplicate": Status("дублікат", "duplicate", False, "#868e96"),
}
OPEN_STATUSES = tuple(code for code, s in STATUSES.items() if s.is_open)
CLOSING = ("resolved", "rejected", "duplicate")
TRANSITIONS = {
    "new": ("acknowledged", "in_progress", *CLOSING),
    "acknowledged": ("in_progress", *CLOSING),
    "in_progress": CLOSING,
    "reopened": ("acknowledged", "in_progress", *CLOSING),
    "resolved": ("reopened",),
    "rejected": ("reopened",),
    "duplicate": ("reopened",),
}
NOTIFY_ON = tuple(code for code in STATUSES if code != "new")  # followers hear of every public change


@dataclass(frozen=True)
class Actor:
    """Who acts: their user id, roles per hromada and the units they work for."""

    user_id: int | None
    grants: dict  # hromada id → roles held there
    unit_ids: frozenset[int]

    def is_admin_of(self, hromada_id: int) -> bool:
        return "admin" in self.grants.get(hromada_id, ())

    def may_work_on(self, row) -> bool:
        """An administrator of the report's hromada, or its unit's staff there."""
        hromada_id = row["hromada_id"]
        return self.is_admin_of(hromada_id) or (
            "unit_staff" in self.grants.get(hromada_id, ()) and row["unit_id"] in self.unit_ids)


def report_url(public_url: str, code: str) -> str:
    """The report's public page, percent-encoded (for HTTP headers and JSON answers)."""
    return f"{public_url}/reports/{quote(code)}"


def readable_report_url(public_url: str, code: str) -> str:
    """The report's public page as a person reads it (the Cyrillic code as is), for the text of mails:
    mail clients link such addresses, and residents found the percent-encoded ones unreadable."""
    return f"{public_url}/reports/{code}"
