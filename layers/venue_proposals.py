"""Residents propose corrections to a venue's facts (or a new venue) with photos; staff decide.

A proposal holds the facts the resident gives (only the venue's input fields, checked like an
import), optional photos (EXIF stripped, gis.photos) and, privately, how to reach the proposer.
Approving applies the facts to the venue — or creates it — in one transaction; rejecting keeps
the venue as it was. Every change of a venue's facts, whatever made it (approval, import, staff
edit), is a version of the venue in ``feature_version`` (the layer keeps ``history="public"``,
layers.history); an approval's versions name the proposal as their cause (``proposal:<id>``) and
the staff member who approved it. The changes until migration 0032 are in ``venue_history`` (a
trigger of migration 0011 filled it), now a read-only archive :func:`history` still reads.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gis.models import geometry, metadata

PROPOSAL_STATUSES = ("pending", "approved", "rejected")

venue_proposal = sa.Table(
    "venue_proposal", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("venue_id", sa.Integer, sa.ForeignKey("venue.id", ondelete="CASCADE")),  # NULL: a new venue
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("facts", pg.JSONB, nullable=False),  # field name → proposed value (input fields only)
    sa.Column("geom", geometry("POINT")),  # where a new venue is (or where a venue really is)
    sa.Column("comment", sa.Text),
    # Personal data: staff side only.
    sa.Column("proposer_name", sa.Text),
    sa.Column("proposer_email", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    sa.Column("decision_note", sa.Text),
    sa.CheckConstraint(f"status IN {PROPOSAL_STATUSES}", name="status"),
    sa.CheckConstraint("venue_id IS NOT NULL OR geom IS NOT NULL", name="new_venue_has_place"),
    sa.Index("ix_venue_proposal_status", "status"),
)

venue_proposal_photo = sa.Table(
    "venue_proposal_photo", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("proposal_id", sa.Integer, sa.ForeignKey("venue_proposal.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.SmallInteger, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # JPEG, EXIF stripped
    sa.Column("thumb", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("proposal_id", "position"),
)

# Read-only archive (migration 0032: a trigger refuses writes; no foreign keys, it outlives deleted
# venues, proposals and accounts): what the trigger venue_history (migration 0011) kept of every venue
# change until history_archive.switched_at — one row per insert/update/delete with the fields that
# changed (before and after), the proposal that caused it and the user. Since then: feature_version.
venue_history = sa.Table(
    "venue_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("venue_id", sa.Integer, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("operation", sa.Text, nullable=False),  # insert, update, delete
    sa.Column("before", pg.JSONB),
    sa.Column("after", pg.JSONB),
    sa.Column("proposal_id", sa.Integer),
    sa.Column("user_id", sa.Integer),
    sa.Index("ix_venue_history_venue_id", "venue_id"),
)
ARCHIVE = "venue_history"
CAUSE = "proposal"  # a version's cause: "proposal:<id>"


def proposal_cause(proposal_id: int) -> str:
    """The ``cause`` of the venue versions an approved proposal makes (layers.history.acting)."""
    return f"{CAUSE}:{int(proposal_id)}"


def _proposal_of(cause: str | None) -> int | None:
    kind, _, number = (cause or "").partition(":")
    return int(number) if kind == CAUSE and number.isdigit() else None

MAX_COMMENT = 2000


def _venue_fields():
    from layers.accessibility import VENUES

    return {f.name: f for f in VENUES.input_fields}


def check_facts(facts: dict) -> dict:
    """The proposed facts, typed like an import would type them; every problem named at once."""
    from gis.errors import InvalidInput
    from layers.values import BadValue, convert

    fields, clean, problems_uk, problems_en = _venue_fields(), {}, [], []
    for name, value in facts.items():
        field = fields.get(name)
        if field is None or name == "osm_id":
            problems_uk.append(f"{name}: такого поля немає")
            problems_en.append(f"{name}: no such field")
            continue
        try:
            typed = convert(field, value)
        except BadValue as exc:
            problems_uk.append(f"{label_of(field, 'uk')}: неправильне значення {value!r}")
            problems_en.append(f"{name}: {exc}")
            continue
        if typed is not None and field.type == "number" and typed < 0:
            problems_uk.append(f"{label_of(field, 'uk')}: від'ємне значення")
            problems_en.append(f"{name}: must not be negative")
            continue
        clean[name] = typed.isoformat() if hasattr(typed, "isoformat") else typed
    if problems_uk:
        raise InvalidInput("; ".join(problems_uk), "; ".join(problems_en))
    return clean


def label_of(field, lang: str) -> str:
    return field.label.get(lang) or field.label["uk"]


def propose(conn: sa.Connection, *, facts: dict, venue_id: int | None = None, lon=None, lat=None,
            comment: str | None = None, name: str | None = None, email: str | None = None,
            photos=()) -> int:
    """Store a resident's correction (``venue_id``) or new venue (``lon``/``lat`` and name, category).

    Nothing changes on the venue until staff approve. Returns the proposal's id.
    """
    from gis.errors import InvalidInput, NotFound
    from gis.routing import check_point, require_hromada

    clean = check_facts(facts)
    comment = (comment or "").strip() or None
    if comment and len(comment) > MAX_COMMENT:
        raise InvalidInput(f"Коментар задовгий (до {MAX_COMMENT} знаків)",
                           f"The comment is too long ({MAX_COMMENT} at most)")
    point = None
    if venue_id is not None:
        hromada_id = conn.execute(sa.text("SELECT hromada_id FROM venue WHERE id = :id"), {"id": venue_id}).scalar()
        if hromada_id is None:
            raise NotFound(f"Заклад {venue_id} не знайдено", f"Venue {venue_id} not found")
        if not clean and not comment and not photos:
            raise InvalidInput("Вкажіть, що змінилося (хоча б одне поле, коментар чи фото)",
                               "Say what has changed (at least one field, a comment or a photo)")
    else:
        lon, lat = check_point(lon, lat)
        hromada_id = require_hromada(conn, lon, lat).id
        missing = [n for n in ("name", "category") if not clean.get(n)]
        if missing:
            raise InvalidInput(f"Для нового закладу потрібні: {', '.join(missing)}",
                               f"A new venue needs: {', '.join(missing)}")
        point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326)
    proposal_id = conn.execute(venue_proposal.insert().values(
        venue_id=venue_id, hromada_id=hromada_id, facts=clean, geom=point, comment=comment,
        proposer_name=(name or "").strip() or None, proposer_email=(email or "").strip() or None,
    ).returning(venue_proposal.c.id)).scalar_one()
    for position, photo in enumerate(photos, start=1):
        conn.execute(venue_proposal_photo.insert().values(
            proposal_id=proposal_id, position=position, width=photo.width, height=photo.height,
            data=photo.jpeg, thumb=photo.thumb))
    return proposal_id


def decide(conn: sa.Connection, proposal_id: int, *, approve: bool, user_id: int | None,
           note: str | None = None) -> int | None:
    """Approve (apply the facts to the venue, or create it) or reject a pending proposal.

    The venue's history records the change with this proposal as its cause and the user (as the
    transaction's history.acting says for the rest of it). Returns the venue's id (None when
    rejected). A proposal decided already is a 409.
    """
    from gis.errors import Conflict, NotFound
    from layers import history as versions
    from layers.accessibility import VENUES
    from layers.tables import build_table

    row = conn.execute(sa.select(venue_proposal).where(venue_proposal.c.id == proposal_id)
                       .with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"Пропозиції {proposal_id} немає", f"Proposal {proposal_id} does not exist")
    if row["status"] != "pending":
        raise Conflict("Цю пропозицію вже розглянуто", "This proposal has been decided already")
    venue_id = row["venue_id"]
    if approve:
        facts = check_facts(dict(row["facts"]))  # typed again: the JSON holds dates as text
        values = {k: _typed(VENUES, k, v) for k, v in facts.items()}
        venues = build_table(VENUES)
        # Seen by the history trigger: who changed the venue, and on which proposal.
        with versions.acting(conn, user_id, None, f"пропозиція {proposal_id} / proposal {proposal_id}",
                             cause=proposal_cause(proposal_id)):
            if venue_id is None:
                venue_id = conn.execute(venues.insert().values(
                    hromada_id=row["hromada_id"], geom=row["geom"], source="proposal", **values)
                    .returning(venues.c.id)).scalar_one()
            else:
                if row["geom"] is not None:
                    values["geom"] = row["geom"]
                if values:
                    conn.execute(venues.update().where(venues.c.id == venue_id).values(**values))
    conn.execute(venue_proposal.update().where(venue_proposal.c.id == proposal_id).values(
        status="approved" if approve else "rejected", decided_at=sa.func.now(), decided_by=user_id,
        decision_note=(note or "").strip() or None, venue_id=venue_id))
    return venue_id if approve else None


def _typed(layer, name: str, value):
    from layers.values import convert

    return convert(layer.field(name), value)


def pending(conn: sa.Connection, hromada_ids=None) -> list[dict]:
    """Pending proposals, oldest first, with the venue's name (staff side: includes the proposer)."""
    rows = conn.execute(sa.text("""
        SELECT p.id, p.venue_id, v.name AS venue_name, p.facts, p.comment, p.proposer_name, p.proposer_email,
               p.created_at, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat,
               (SELECT count(*) FROM venue_proposal_photo f WHERE f.proposal_id = p.id) AS photos
        FROM venue_proposal p LEFT JOIN venue v ON v.id = p.venue_id
        WHERE p.status = 'pending' AND (CAST(:h AS int[]) IS NULL OR p.hromada_id = ANY(:h))
        ORDER BY p.created_at, p.id"""), {"h": list(hromada_ids) if hromada_ids is not None else None}).mappings()
    return [dict(r) for r in rows]


def approved_photos(conn: sa.Connection, venue_id: int) -> list[tuple[int, int]]:
    """(proposal id, position) of the photos of a venue's approved proposals, in the order approved."""
    return [tuple(r) for r in conn.execute(sa.text("""
        SELECT f.proposal_id, f.position FROM venue_proposal_photo f JOIN venue_proposal p ON p.id = f.proposal_id
        WHERE p.venue_id = :v AND p.status = 'approved' ORDER BY p.decided_at, f.position"""), {"v": venue_id})]


def proposal_photo(conn: sa.Connection, proposal_id: int, position: int) -> dict | None:
    """A proposal's photo: its JPEG bytes (``data``) and the proposal's ``status`` and ``hromada_id``
    (who may see it depends on both); None when there is no such photo."""
    row = conn.execute(sa.text("""
        SELECT f.data, p.status, p.hromada_id FROM venue_proposal_photo f JOIN venue_proposal p ON p.id = f.proposal_id
        WHERE f.proposal_id = :p AND f.position = :n"""), {"p": proposal_id, "n": position}).mappings().first()
    return {**row, "data": bytes(row["data"])} if row else None


def proposal_hromada_id(conn: sa.Connection, proposal_id: int) -> int:
    """The id of the hromada a proposal is about; NotFound when there is no such proposal."""
    from gis.errors import NotFound

    found = conn.execute(sa.select(venue_proposal.c.hromada_id).where(venue_proposal.c.id == proposal_id)).scalar()
    if found is None:
        raise NotFound(f"Пропозиції {proposal_id} немає", f"Proposal {proposal_id} does not exist")
    return found


def history(conn: sa.Connection, venue_id: int, lang: str = "uk") -> list[dict]:
    """What changed in a venue's facts and when, newest first: ``at``, ``operation`` (insert, update,
    delete), ``via_proposal`` and ``proposal_id`` (the approved proposal that made it, if one did)
    and ``changes``: field labels with before → after.

    Public: who changed it and why are left out (the proposer is never named), and so are the fields
    that are not public and the computed ratings (they follow the facts). The venue's versions come
    from feature_version (layers.history); those from before migration 0032 from the archive
    ``venue_history``, which holds every change until then (:func:`_archived`).
    """
    from layers import history as versions
    from layers.accessibility import VENUES

    shown = {f.column_name: f for f in VENUES.public_fields if f.computed is None}
    switched = versions.switched_at(conn, ARCHIVE)
    archived = _archived(conn, venue_id, shown, lang)
    found = versions.versions(conn, VENUES, venue_id)  # newest first
    out = []
    for i, entry in enumerate(found):
        if switched is not None and entry["valid_from"] < switched:
            continue  # recorded by both until the switch: the archive's row has it (with its proposal)
        if entry["version"] == 1 and entry["op"] == "insert" and archived:
            continue  # the venue as it was at its first change since, not its creation (archived)
        after = {} if entry["op"] == "delete" else entry["row"]
        if entry["op"] == "update":
            previous = found[i + 1]["row"] if i + 1 < len(found) else {}
            names = [c for c in (entry["changed"] or []) if c in shown]
            before = {c: previous.get(c) for c in names}
        else:  # the whole row came or went
            names = [c for c in shown if (entry["row"].get(c)) is not None]
            before = entry["row"] if entry["op"] == "delete" else {}
        proposal_id = _proposal_of(entry["cause"])
        out.append({"at": entry["valid_from"].isoformat(), "operation": entry["op"],
                    "via_proposal": proposal_id is not None, "proposal_id": proposal_id,
                    "changes": [{"field": shown[c].name, "label": label_of(shown[c], lang),
                                 "before": before.get(c), "after": after.get(c)} for c in sorted(names)]})
    return out + archived


def _archived(conn: sa.Connection, venue_id: int, shown: dict, lang: str) -> list[dict]:
    """The venue's changes in the archive venue_history (until migration 0032), newest first, as
    :func:`history` gives them."""
    rows = conn.execute(sa.text("""
        SELECT changed_at, operation, before, after, proposal_id FROM venue_history
        WHERE venue_id = :id ORDER BY changed_at DESC, id DESC"""), {"id": venue_id}).mappings()
    out = []
    for r in rows:
        before, after = r["before"] or {}, r["after"] or {}
        changes = [{"field": shown[name].name, "label": label_of(shown[name], lang), "before": before.get(name),
                    "after": after.get(name)}
                   for name in sorted(set(before) | set(after)) if name in shown]
        out.append({"at": r["changed_at"].isoformat(), "operation": r["operation"],
                    "via_proposal": r["proposal_id"] is not None, "proposal_id": r["proposal_id"],
                    "changes": changes})
    return out
