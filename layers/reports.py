"""Open city: residents' problem reports — the layer declaration and the whole workflow.

A report is routed on arrival (gis.routing), gets a tracking code and a private link, and moves
through a typed status machine worked by the responsible unit's staff. Every change is an event in
its history; e-mails to the reporter and "me too" subscribers are written to the outbox in the same
transaction as the change (gis.outbox delivers them).

Personal data (the reporter's name unless they chose to show it, e-mail, phone) stays on the staff
side: ``public_report`` and the layer's public fields never contain it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa

from gis import direct_sql, working_days
from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.models import report, report_event, report_photo
from gis.photos import Photo
from gis.routing import Route, check_point, route_report
from layers import area_alerts, followers, telegram_channel, unit_mail  # who is told (#18, #16, #18, #14)
from layers.assets import asset_spec
from layers.base import CategoryStyle, Field, Layer, Permissions

# Re-exported: the statuses, the actor and the address are part of what this module's callers use.
from layers.report_states import (
    NOTIFY_ON,
    OPEN_STATUSES,
    STATUSES,
    TRANSITIONS,
    Actor,
    readable_report_url,
    report_url,  # noqa: F401
)

NEARBY_METRES = 100
MAX_DESCRIPTION = 2000

# --- the layer -------------------------------------------------------------------------------------

REPORTS = Layer(
    name="reports",
    on_map_at_first=True,
    title={"uk": "Звернення мешканців", "en": "Residents' reports"},
    geometry="Point",
    table="report",
    geometry_column="location",
    fields=(
        Field("code", "text", {"uk": "Код звернення", "en": "Tracking code"}, required=True),
        Field("category_id", "category", {"uk": "Категорія", "en": "Category"}, required=True),
        Field("status", "choice", {"uk": "Стан", "en": "Status"}, required=True,
              choices={code: {"uk": s.uk, "en": s.en} for code, s in STATUSES.items()}),
        Field("description", "text", {"uk": "Опис", "en": "Description"}, required=True),
        Field("unit_id", "unit", {"uk": "Відповідальний підрозділ", "en": "Responsible unit"}),
        Field("created_at", "datetime", {"uk": "Подано", "en": "Submitted"}),
        Field("updated_at", "datetime", {"uk": "Оновлено", "en": "Updated"}),
        Field("due_at", "datetime", {"uk": "Термін", "en": "Due"}),
        Field("hromada_id", "hromada", {"uk": "Громада", "en": "Hromada"}, required=True),
        Field("reporter_name", "text", {"uk": "Ім'я заявника", "en": "Reporter's name"}, public=False),
        Field("reporter_email", "text", {"uk": "Ел. пошта заявника", "en": "Reporter's e-mail"}, public=False),
        Field("reporter_phone", "text", {"uk": "Телефон заявника", "en": "Reporter's phone"}, public=False),
        Field("routing_reason_uk", "text", {"uk": "Чому цей підрозділ", "en": "Why this unit (Ukrainian)"},
              public=False),
    ),
    popup=("code", "status", "description", "created_at"),
    label_field="code",
    style=CategoryStyle(field="status", colors={c: s.colour for c, s in STATUSES.items()}, fill_opacity=0.8),
    permissions=Permissions(view="public", edit=frozenset({"admin", "unit_staff"}),
                            staff_fields=frozenset({"admin"}), all_rows=frozenset({"admin", "unit_staff"})),
    # A hidden report, or one waiting for approval, is in no public output (layers.moderation).
    public_rows="is_public",
)
LAYERS = (REPORTS,)

# --- creating a report -----------------------------------------------------------------------------


@dataclass
class NewReport:
    lon: float
    lat: float
    category: str
    description: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    show_name: bool = False
    asset_id: int | None = None
    photos: list[Photo] = field(default_factory=list)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def prefix_candidates(hromada_name: str):
    """Tracking-code prefixes for a hromada, best first: two letters of its name (Якушинецька → ЯК),
    then those two and a later letter of the name (ЯКУ, ЯКШ…), then the two and a number (ЯК2…)."""
    letters = [c for c in hromada_name.upper() if c.isalpha()] or ["Г", "Р"]
    first_two = "".join(letters[:2])
    yield first_two
    seen = {first_two}
    for letter in letters[2:]:
        if first_two + letter not in seen:
            seen.add(first_two + letter)
            yield first_two + letter
    for number in range(2, 10_000):
        yield f"{first_two}{number}"


def tracking_prefix(conn: sa.Connection, hromada_id: int, hromada_name: str) -> str:
    """The hromada's own tracking-code prefix, given at its first report: the first candidate
    (:func:`prefix_candidates`) no other hromada holds or used in a code. 1,394 of the 1,466 hromadas
    share their first two letters with another, so two letters alone would make the second one's
    codes collide with the first's."""
    held = conn.execute(sa.text("SELECT report_prefix FROM hromada WHERE id = :h"), {"h": hromada_id}).scalar()
    if held:
        return held
    for candidate in prefix_candidates(hromada_name):
        taken = conn.execute(sa.text("""
            SELECT EXISTS (SELECT 1 FROM hromada WHERE report_prefix = :p AND id <> :h)
                OR EXISTS (SELECT 1 FROM report WHERE hromada_id <> :h AND split_part(code, '-', 1) = :p)"""),
            {"p": candidate, "h": hromada_id}).scalar_one()
        if taken:
            continue
        try:
            with conn.begin_nested():  # another hromada may take the same letters at this moment
                given = conn.execute(sa.text("""
                    UPDATE hromada SET report_prefix = COALESCE(report_prefix, :p) WHERE id = :h
                    RETURNING report_prefix"""), {"p": candidate, "h": hromada_id}).scalar_one()
        except sa.exc.IntegrityError:
            continue
        return given
    raise RuntimeError(f"no free tracking-code prefix for hromada {hromada_id}")  # 10,000 tried: unreachable


def next_tracking_code(conn: sa.Connection, hromada_id: int, hromada_name: str, year: int,
                       prefix: str | None = None) -> str:
    """``ЯК-2026-000123``: the hromada's prefix, counted per hromada and year; concurrent reports never
    share a number, and no two hromadas share a prefix. ``prefix``: the one the hromada already holds.

    The number is taken in the caller's transaction, so a failed report leaves no gap; a hromada's
    concurrent reports wait on its counter's row until each other's commit — what can be read is read
    before it is taken (:func:`create_report`)."""
    number = direct_sql.scalar(conn, _TAKE_NUMBER.format(year="%(y)s"), {"h": hromada_id, "y": year})
    return tracking_code(prefix or tracking_prefix(conn, hromada_id, hromada_name), year, number)


# The hromada %(h)s's next number in ``year`` (an SQL expression); create_report takes it in the statement
# that writes the report, so this is the one place that says how.
_TAKE_NUMBER = """
    INSERT INTO report_counter (hromada_id, year, last) VALUES (%(h)s, {year}, 1)
    ON CONFLICT (hromada_id, year) DO UPDATE SET last = report_counter.last + 1 RETURNING last"""


def tracking_code(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year}-{number:06d}"


# tracking_code in SQL, for the statement that takes the number and writes the report at once.
_TRACKING_CODE_SQL = ("{prefix} || '-' || {year} || '-' || "
                      "lpad({number}::text, greatest(6, length({number}::text)), '0')")


def check_description(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("Опишіть проблему: опис порожній", "Describe the problem: the description is empty")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"Опис задовгий: {len(text)} знаків, можна до {MAX_DESCRIPTION}",
                           f"The description is too long: {len(text)} characters, the limit is {MAX_DESCRIPTION}")
    return text


# A new report with its number, its "created" event and its unit's notice (unit_mail.tell_unit's row) in one
# statement, run by gis.direct_sql as every statement of a report's intake is (a hot path: SQLAlchemy's own
# work per statement cost more than the database's). The number is taken here, as late as can be: a
# hromada's reports wait on its counter's row from here to their commit (issue #20: taken one statement
# earlier, that wait was what held a burst of one hromada's reports back).
_INSERT_REPORT = f"""
    WITH n AS ({_TAKE_NUMBER.format(year="%(year)s")}),
    created AS (
        INSERT INTO report (code, hromada_id, category_id, unit_id, asset_id, status, location, description,
                            reporter_name, reporter_email, reporter_phone, show_name, private_token_hash,
                            routing_rule, routing_reason_uk, routing_reason_en, due_at, awaiting_approval)
        SELECT {_TRACKING_CODE_SQL.format(prefix="%(prefix)s", year="%(year)s", number="n.last")},
               %(h)s, %(category_id)s, %(unit_id)s, %(asset_id)s, 'new',
               ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(description)s, %(reporter_name)s,
               %(reporter_email)s, %(reporter_phone)s, %(show_name)s, %(private_token_hash)s, %(routing_rule)s,
               %(routing_reason_uk)s, %(routing_reason_en)s, %(due_at)s, %(awaiting_approval)s
        FROM n
        RETURNING id, code),
    event AS (
        INSERT INTO report_event (report_id, kind, to_status, to_unit_id)
        SELECT id, 'created', 'new', %(unit_id)s FROM created RETURNING report_id, id),
    notice AS (
        INSERT INTO unit_notice (unit_id, report_id, event_id, digested_at)
        SELECT %(unit_id)s, report_id, id, {unit_mail.NOTICE_DIGESTED_AT} FROM event RETURNING report_id, id)
    SELECT notice.report_id, created.code, notice.id AS notice_id
    FROM notice JOIN created ON created.id = notice.report_id"""

# What a new report needs besides its route, in one round trip (intake speed, issue #20): the time, the
# hromada's tracking prefix and days off, its unit (to tell it), the village (for the unit's mail) and
# whether an area subscription covers the point.
_BEFORE_INSERT = f"""
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g)
    SELECT now() AS now, h.name_uk, h.report_prefix,
           ARRAY(SELECT day FROM hromada_day_off WHERE hromada_id = h.id) AS days_off,
           {unit_mail.UNIT_COLUMNS}, {unit_mail.VILLAGE_COLUMNS}, {area_alerts.watched_sql("h.id", "p.g")} AS watched
    FROM hromada h CROSS JOIN p LEFT JOIN unit u ON u.id = %(u)s
    {unit_mail.village_join("h.id", "p.g")}
    WHERE h.id = %(h)s"""


def create_report(conn: sa.Connection, new: NewReport, *, public_url: str) -> dict:
    """Route, store and acknowledge a new report in the caller's transaction.

    Returns the resident's answer: tracking code, private link token, unit and routing reason.
    """
    lon, lat = check_point(new.lon, new.lat)
    description = check_description(new.description)
    route = route_report(conn, lon, lat, new.category, new.asset_id)
    spec = asset_spec(conn, route.asset_id)
    if spec is not None and spec.one_open_report:
        # Lock the asset's row so two residents reporting the same lamp at once make one report. (Looked for
        # in a statement of its own, after the lock: its snapshot then holds a report committed meanwhile.)
        direct_sql.first(conn, "SELECT 1 FROM asset WHERE id = %(id)s FOR UPDATE", {"id": route.asset_id})
        open_code = direct_sql.scalar(conn, """
            SELECT code FROM report WHERE asset_id = %(a)s AND category_id = %(c)s AND status = ANY(%(open)s)
            ORDER BY created_at, id LIMIT 1""",
            {"a": route.asset_id, "c": route.category_id, "open": list(OPEN_STATUSES)})
        if open_code is not None:
            return _join_open_report(conn, open_code, new, route, public_url)
    here = direct_sql.one(conn, _BEFORE_INSERT, {"h": route.hromada_id, "u": route.unit_id, "lon": lon, "lat": lat})
    token = secrets.token_urlsafe(18)
    due = working_days.due_at_given(here.now, route.target_days, frozenset(here.days_off))
    unit = unit_mail.unit_from_row(here)
    prefix = here.report_prefix or tracking_prefix(conn, route.hromada_id, here.name_uk)
    report_id, code, notice_id = direct_sql.one(conn, _INSERT_REPORT, {
        "h": route.hromada_id, "year": here.now.year, "prefix": prefix, "category_id": route.category_id,
        "unit_id": route.unit_id, "asset_id": route.asset_id, "lon": lon, "lat": lat, "description": description,
        "reporter_name": _blank(new.name), "reporter_email": _blank(new.email), "reporter_phone": _blank(new.phone),
        "show_name": bool(new.show_name and _blank(new.name)), "private_token_hash": token_hash(token),
        "routing_rule": route.rule, "routing_reason_uk": route.reason_uk, "routing_reason_en": route.reason_en,
        "due_at": due, "awaiting_approval": route.premoderate,
        "each": unit is not None and unit.notify_mode == "each"})
    for position, photo in enumerate(new.photos, start=1):
        conn.execute(report_photo.insert().values(report_id=report_id, position=position, width=photo.width,
                                                  height=photo.height, data=photo.jpeg, thumb=photo.thumb))
    if unit_mail.mails_now(unit, notice_id):  # issue #14: the unit is told
        # What unit_mail.report_facts would read back, from what was just written.
        facts = unit_mail.Facts(
            report_id=report_id, code=code, status="new", unit_id=route.unit_id, category_uk=route.category_uk,
            category_en=route.category_en, description=description, lon=lon, lat=lat, village_uk=here.village_uk,
            village_en=here.village_en, in_village=here.inside, due_at=due,
            photos=tuple(range(1, len(new.photos) + 1)), why_uk=route.reason_uk, why_en=route.reason_en,
            transferred=False)
        unit_mail.mail_notice(conn, unit, notice_id, facts, public_url=public_url)
    if here.watched:  # issue #18: the subscribers of areas that hold it are told
        area_alerts.alert_report(conn, report_id, public_url=public_url)
    if spec is not None and spec.on_report is not None:
        spec.on_report(conn, route.asset_id, report_id, "new")
    reply = _reply(report_id, code, "new", due.astimezone(here.now.tzinfo), (route.unit_uk, route.unit_en),
                   route, token, public_url)
    if _blank(new.email):  # the tracking code and private link by mail, and the request to confirm
        followers.tell_reporter_received(conn, report_id, code, new.email, reply["private_url"],
                                         public_url=public_url)
    return reply


def _join_open_report(conn: sa.Connection, code: str, new: NewReport, route: Route, public_url: str) -> dict:
    """The asset already has an open report: count this one as "me too" on it (the resident follows it
    with their e-mail; their photos join it). The answer says so and carries no private link."""
    joined = me_too(conn, code, new.email, public_url=public_url)
    row = find_report(conn, code)
    last = conn.execute(sa.text("SELECT COALESCE(max(position), 0) FROM report_photo WHERE report_id = :id"),
                        {"id": row["id"]}).scalar()
    for position, photo in enumerate(new.photos, start=last + 1):
        conn.execute(report_photo.insert().values(report_id=row["id"], position=position, width=photo.width,
                                                  height=photo.height, data=photo.jpeg, thumb=photo.thumb))
    reply = answer(conn, row["id"], route, None, public_url)
    reply.update(joined_existing=True, supporters=joined["supporters"], subscribed=joined["subscribed"],
                 routing={"rule": route.rule, "reason": {
                     "uk": f"Про цю несправність уже повідомили ({code}): ваше звернення додано до нього. "
                           + route.reason_uk,
                     "en": f"This fault was already reported ({code}): your report was added to it. "
                           + route.reason_en}})
    return reply


def answer(conn: sa.Connection, report_id: int, route: Route, token: str | None, public_url: str) -> dict:
    row = conn.execute(sa.text("""
        SELECT r.code, r.status, r.due_at, u.name_uk, u.name_en
        FROM report r JOIN unit u ON u.id = r.unit_id WHERE r.id = :id"""), {"id": report_id}).one()
    return _reply(report_id, row.code, row.status, row.due_at, (row.name_uk, row.name_en), route, token, public_url)


def _reply(report_id: int, code: str, status: str, due_at, unit: tuple[str, str | None], route: Route,
           token: str | None, public_url: str) -> dict:
    """The resident's answer: tracking code, links, the unit and why it was chosen."""
    return {
        "id": report_id,
        "code": code,
        "status": status,
        "unit": {"uk": unit[0], "en": unit[1] or unit[0]},
        "routing": {"rule": route.rule, "reason": {"uk": route.reason_uk, "en": route.reason_en}},
        "due_at": due_at.isoformat(),
        "public_url": report_url(public_url, code),
        "private_url": f"{report_url(public_url, code)}?token={token}" if token else None,
        "joined_existing": False,
    }


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# --- reading ---------------------------------------------------------------------------------------


def find_report(conn: sa.Connection, code: str) -> sa.RowMapping:
    row = conn.execute(sa.text("""
        SELECT r.*, ST_X(r.location) AS lon, ST_Y(r.location) AS lat,
               c.code AS category_code, c.name_uk AS category_uk, c.name_en AS category_en,
               u.name_uk AS unit_uk, u.name_en AS unit_en, h.name_uk AS hromada_uk, h.name_en AS hromada_en,
               h.katottg, d.code AS duplicate_of_code,
               (SELECT v.name_uk FROM settlement_at(r.hromada_id, r.location) v) AS village,
               (SELECT count(*) FROM report_event e WHERE e.report_id = r.id AND e.kind = 'me_too') AS supporters
        FROM report r JOIN category c ON c.id = r.category_id JOIN unit u ON u.id = r.unit_id
        JOIN hromada h ON h.id = r.hromada_id LEFT JOIN report d ON d.id = r.duplicate_of_id
        WHERE r.code = :code"""), {"code": code}).mappings().first()
    if row is None:
        raise NotFound(f"Звернення {code} не знайдено", f"Report {code} not found")
    return row


def token_matches(row, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(row["private_token_hash"], token_hash(token))


class NotPublic(NotFound):
    """A report hidden by moderation or waiting for approval: as if it did not exist, with the reason."""


def public_report(conn: sa.Connection, code: str, *, own: bool = False) -> dict:
    """What anyone may see of a report: never the reporter's e-mail or phone, nor a hidden name, nor a
    hidden photo. A report that is not public (layers.moderation) is NotPublic, except to its reporter
    (``own``: the private link), who sees what is kept from the public and why."""
    row = find_report(conn, code)
    if not row["is_public"] and not own:
        if row["hidden_reason"]:
            raise NotPublic(f"Звернення {code} приховано модератором: {row['hidden_reason']}",
                            f"Report {code} was hidden by a moderator: {row['hidden_reason']}")
        raise NotPublic(f"Звернення {code} ще перевіряють, перш ніж показати",
                        f"Report {code} is being checked before it is shown")
    photos = photo_positions(conn, row["id"])
    return {
        "code": row["code"],
        "category": {"code": row["category_code"], "uk": row["category_uk"], "en": row["category_en"]},
        "status": row["status"],
        "is_open": STATUSES[row["status"]].is_open,
        "description": row["description"],
        "reporter_name": row["reporter_name"] if row["show_name"] else None,
        "location": {"lon": row["lon"], "lat": row["lat"]},
        "village": row["village"],
        "hromada": {"katottg": row["katottg"], "uk": row["hromada_uk"], "en": row["hromada_en"]},
        "unit": {"uk": row["unit_uk"], "en": row["unit_en"] or row["unit_uk"]},
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "due_at": row["due_at"].isoformat(),
        "closed_at": row["closed_at"].isoformat() if row["closed_at"] else None,
        "duplicate_of": row["duplicate_of_code"],
        "photos": photos,
        "supporters": row["supporters"],  # find_report counts them
        "history": history(conn, row["id"], staff=False),
    }


STAFF_ONLY_EVENTS = ("assigned",)


def history(conn: sa.Connection, report_id: int, *, staff: bool) -> list[dict]:
    rows = conn.execute(sa.text("""
        SELECT e.created_at, e.kind, e.from_status, e.to_status, e.public_note, e.private_note,
               fu.name_uk AS from_unit_uk, fu.name_en AS from_unit_en,
               tu.name_uk AS to_unit_uk, tu.name_en AS to_unit_en, a.full_name AS user_name
        FROM report_event e LEFT JOIN unit fu ON fu.id = e.from_unit_id LEFT JOIN unit tu ON tu.id = e.to_unit_id
        LEFT JOIN app_user a ON a.id = e.user_id
        WHERE e.report_id = :id ORDER BY e.created_at, e.id"""), {"id": report_id}).mappings()
    out = []
    for r in rows:
        if not staff and (r["kind"] == "note" and not r["public_note"] or r["kind"] in STAFF_ONLY_EVENTS):
            continue  # an internal note, an assignment leave no trace on the public page
        item = {"at": r["created_at"].isoformat(), "kind": r["kind"], "from_status": r["from_status"],
                "to_status": r["to_status"], "public_note": r["public_note"],
                "to_unit": {"uk": r["to_unit_uk"], "en": r["to_unit_en"]} if r["to_unit_uk"] else None}
        if staff:
            item.update(private_note=r["private_note"], by=r["user_name"],
                        from_unit={"uk": r["from_unit_uk"], "en": r["from_unit_en"]} if r["from_unit_uk"] else None)
        out.append(item)
    return out


def nearby_open(conn: sa.Connection, lon, lat, category: str | None, metres: int = NEARBY_METRES) -> list[dict]:
    """Open reports of the category within ``metres`` of the point, nearest first (no personal data)."""
    lon, lat = check_point(lon, lat)
    rows = conn.execute(sa.text("""
        SELECT r.code, r.status, r.description, c.code AS category, c.name_uk, c.name_en, r.created_at,
               ST_Distance(r.location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS metres
        FROM report r JOIN category c ON c.id = r.category_id
        WHERE r.status = ANY(:open) AND r.is_public AND (CAST(:category AS text) IS NULL OR c.code = :category)
          AND ST_DWithin(r.location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :m)
        ORDER BY r.location <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 20"""),
        {"lon": lon, "lat": lat, "category": category, "m": metres, "open": list(OPEN_STATUSES)}).mappings()
    return [{"code": r["code"], "status": r["status"], "description": r["description"],
             "category": {"code": r["category"], "uk": r["name_uk"], "en": r["name_en"]},
             "created_at": r["created_at"].isoformat(), "distance_m": round(r["metres"])} for r in rows]


def photo_positions(conn: sa.Connection, report_id: int, *, staff: bool = False) -> list[int]:
    """The positions of a report's photos, in order: those not hidden by a moderator, or all for ``staff``."""
    return list(conn.execute(sa.text(
        "SELECT position FROM report_photo WHERE report_id = :id AND (:staff OR hidden_at IS NULL) ORDER BY position"),
        {"id": report_id, "staff": staff}).scalars())


def hidden_photo_positions(conn: sa.Connection, report_id: int) -> set[int]:
    """The positions of the photos a moderator hid (staff pages mark them)."""
    return set(conn.execute(sa.select(report_photo.c.position).where(
        report_photo.c.report_id == report_id, report_photo.c.hidden_at.is_not(None))).scalars())


def photo_bytes(conn: sa.Connection, code: str, position: int, *, thumb: bool = False,
                staff_hromadas: frozenset[int] = frozenset()) -> bytes:
    """A report's photo (JPEG), or its thumbnail; NotFound when there is no such photo — nor when it is
    hidden, or its report is not public, unless the report's hromada is in ``staff_hromadas``."""
    column = report_photo.c.thumb if thumb else report_photo.c.data
    row = conn.execute(sa.select(column.label("data"), report_photo.c.hidden_at, report.c.is_public,
                                 report.c.hromada_id)
                       .join_from(report_photo, report, report.c.id == report_photo.c.report_id)
                       .where(report.c.code == code, report_photo.c.position == position)).first()
    visible = row is not None and ((row.hidden_at is None and row.is_public) or row.hromada_id in staff_hromadas)
    if not visible:
        raise NotFound("Фото не знайдено", "Photo not found")
    return bytes(row.data)


def subscriber_count(conn: sa.Connection, report_id: int) -> int:
    """How many e-mail addresses follow the report."""
    return conn.execute(sa.text("SELECT count(*) FROM report_subscriber WHERE report_id = :id"),
                        {"id": report_id}).scalar()


# --- the staff queue -------------------------------------------------------------------------------

QUEUE_LIMIT = 500


def staff_queue(conn: sa.Connection, hromada_id: int, *, unit_ids=None, status: str | None = None,
                category: str | None = None, village: str | None = None, older_than_days: int | None = None,
                assigned_to: int | None = None, limit: int = QUEUE_LIMIT) -> list[dict]:
    """A hromada's reports for its staff, soonest due first, with category, unit and village.

    ``unit_ids``: only these units' reports (unit staff), None for all (the hromada's administrators).
    ``status``: empty or "open" for the open ones, a status code for that one, anything else for all.
    ``category``: a category code; ``village``: a settlement's Ukrainian name; ``older_than_days``:
    made more than that many days ago; ``assigned_to``: given to that person ("my reports").
    """
    conditions, params = ["r.hromada_id = :hromada"], {"hromada": hromada_id, "limit": limit}
    if assigned_to is not None:
        conditions.append("r.assigned_user_id = :assignee")
        params["assignee"] = assigned_to
    if unit_ids is not None:
        conditions.append("r.unit_id = ANY(:units)")
        params["units"] = list(unit_ids)
    if not status or status == "open":
        conditions.append("r.status = ANY(:open)")
        params["open"] = list(OPEN_STATUSES)
    elif status in STATUSES:
        conditions.append("r.status = :status")
        params["status"] = status
    if category:
        conditions.append("c.code = :category")
        params["category"] = category
    if village:
        conditions.append("s.name_uk = :village")
        params["village"] = village
    if older_than_days is not None:
        conditions.append("r.created_at < now() - make_interval(days => :age)")
        params["age"] = older_than_days
    rows = conn.execute(sa.text(f"""
        SELECT r.code, r.status, r.description, r.created_at, r.due_at, r.due_at < now() AS overdue,
               (SELECT count(*) FROM report_event e WHERE e.report_id = r.id AND e.kind = 'me_too') AS supporters,
               (SELECT COALESCE(a.full_name, a.email) FROM app_user a WHERE a.id = r.assigned_user_id) AS assignee,
               c.code AS category, c.name_uk AS category_uk, c.name_en AS category_en,
               u.name_uk AS unit_uk, u.name_en AS unit_en, s.name_uk AS village
        FROM report r JOIN category c ON c.id = r.category_id JOIN unit u ON u.id = r.unit_id
        LEFT JOIN LATERAL settlement_at(r.hromada_id, r.location) s ON true
        WHERE {" AND ".join(conditions)} ORDER BY r.due_at, r.id LIMIT :limit"""), params).mappings()
    return [dict(r) for r in rows]


def queue_categories(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """Every category a report in the hromada may have had (the catalogue's and its own, active or
    not), for the queue's filter."""
    rows = conn.execute(sa.text(
        "SELECT id, code, name_uk, name_en FROM category WHERE hromada_id IS NULL OR hromada_id = :h ORDER BY id"),
        {"h": hromada_id}).mappings()
    return [dict(r) for r in rows]


def report_hromada_id(conn: sa.Connection, code: str) -> int:
    """The id of the report's hromada; NotFound when there is no such report."""
    found = conn.execute(sa.select(report.c.hromada_id).where(report.c.code == code)).scalar()
    if found is None:
        raise NotFound(f"Звернення {code} не знайдено", f"Report {code} not found")
    return found


# --- residents joining a report --------------------------------------------------------------------


def me_too(conn: sa.Connection, code: str, email: str | None, *, public_url: str) -> dict:
    """Support an open report instead of filing a new one; with an e-mail, follow its updates
    (layers.followers: ``follow`` says whether updates will come or a confirmation was asked for)."""
    row = find_report(conn, code)
    if not STATUSES[row["status"]].is_open:
        raise Conflict(f"Звернення {code} вже закрите", f"Report {code} is already closed")
    conn.execute(report_event.insert().values(report_id=row["id"], kind="me_too"))
    follow = followers.follow(conn, row["id"], code, email, public_url=public_url) if _blank(email) else None
    supporters = conn.execute(sa.text(
        "SELECT count(*) FROM report_event WHERE report_id = :id AND kind = 'me_too'"), {"id": row["id"]}).scalar()
    return {"code": code, "supporters": supporters, "subscribed": follow is not None, "follow": follow}


def follow(conn: sa.Connection, code: str, email: str, *, public_url: str) -> dict:
    """Follow a report's updates by e-mail without supporting it (open or closed: "is it fixed?")."""
    row = find_report(conn, code)
    if not _blank(email):
        raise InvalidInput("Вкажіть адресу електронної пошти", "Give an e-mail address")
    return {"code": code, "follow": followers.follow(conn, row["id"], code, email, public_url=public_url)}


# --- staff actions ---------------------------------------------------------------------------------


def require_access(actor: Actor, row) -> None:
    if not actor.may_work_on(row):
        raise Forbidden("Це звернення належить іншому підрозділу", "This report belongs to another unit")


def change_status(conn: sa.Connection, code: str, to_status: str, actor: Actor, *, public_url: str,
                  public_note: str | None = None, private_note: str | None = None,
                  duplicate_of: str | None = None) -> None:
    """Move a report along the status machine, record it, and queue the e-mails it calls for."""
    row = lock_report(conn, code)
    require_access(actor, row)
    if to_status not in STATUSES:
        raise InvalidInput(f"Невідомий стан {to_status!r}", f"Unknown status {to_status!r}")
    if to_status not in TRANSITIONS[row["status"]]:
        raise Conflict(
            f"Зі стану «{STATUSES[row['status']].uk}» не можна перейти до «{STATUSES[to_status].uk}»",
            f"A report cannot go from “{STATUSES[row['status']].en}” to “{STATUSES[to_status].en}”")
    duplicate_id = None
    if to_status == "duplicate":
        if not duplicate_of:
            raise InvalidInput("Вкажіть код звернення, дублікатом якого є це", "Give the code of the original report")
        original = find_report(conn, duplicate_of.strip())
        if original["id"] == row["id"]:
            raise InvalidInput("Звернення не може бути дублікатом самого себе", "A report cannot duplicate itself")
        if original["hromada_id"] != row["hromada_id"]:
            raise InvalidInput("Основне звернення має бути з тієї ж громади",
                               "The original report must be in the same hromada")
        if original["status"] == "duplicate":
            raise InvalidInput(f"{original['code']} сам є дублікатом; вкажіть основне звернення "
                               f"{original['duplicate_of_code']}",
                               f"{original['code']} is itself a duplicate; give the original, "
                               f"{original['duplicate_of_code']}")
        duplicate_id = original["id"]
        # Its followers now follow the original.
        conn.execute(sa.text("""
            INSERT INTO report_subscriber (report_id, email)
            SELECT :orig, email FROM report_subscriber WHERE report_id = :dup AND unsubscribed_at IS NULL
            ON CONFLICT DO NOTHING"""), {"orig": duplicate_id, "dup": row["id"]})
    closed = not STATUSES[to_status].is_open
    conn.execute(report.update().where(report.c.id == row["id"]).values(
        status=to_status, updated_at=sa.func.now(), duplicate_of_id=duplicate_id,
        closed_at=sa.func.now() if closed else None,
        # Each resolution is followed by its own "is it fixed?" (layers.fixed_check), with a new link.
        **({"fixed_asked_at": None, "fixed_answered_at": None} if to_status == "resolved" else {})))
    event_id = conn.execute(report_event.insert().values(
        report_id=row["id"], kind="status", user_id=actor.user_id, from_status=row["status"], to_status=to_status,
        public_note=_blank(public_note), private_note=_blank(private_note)).returning(report_event.c.id)).scalar_one()
    if to_status in NOTIFY_ON:
        _notify_status(conn, row, event_id, to_status, _blank(public_note), duplicate_of, public_url)
    spec = asset_spec(conn, row["asset_id"])
    if spec is not None and spec.on_report is not None:
        spec.on_report(conn, row["asset_id"], row["id"], to_status)


def reopen_by_resident(conn: sa.Connection, report_id: int, comment: str | None, *, public_url: str) -> None:
    """The reporter says a resolved report is still not fixed (layers.fixed_check): it is reopened as
    their act (no staff user), its unit is told by mail and its followers as of any change."""
    row = conn.execute(sa.select(report).where(report.c.id == report_id).with_for_update()).mappings().one()
    if row["status"] != "resolved":
        return  # staff reopened or closed it otherwise meanwhile: the answer is recorded, nothing moves
    note = "Мешканець: досі не виправлено." + (f" {comment}" if comment else "")
    conn.execute(report.update().where(report.c.id == report_id).values(
        status="reopened", updated_at=sa.func.now(), closed_at=None))
    event_id = conn.execute(report_event.insert().values(
        report_id=report_id, kind="status", user_id=None, from_status="resolved", to_status="reopened",
        public_note=note).returning(report_event.c.id)).scalar_one()
    unit_mail.tell_unit_reopened(conn, report_id, event_id, comment, public_url=public_url)
    _notify_status(conn, row, event_id, "reopened", note, None, public_url)
    spec = asset_spec(conn, row["asset_id"])
    if spec is not None and spec.on_report is not None:
        spec.on_report(conn, row["asset_id"], report_id, "reopened")


def transfer(conn: sa.Connection, code: str, to_unit_id: int, reason: str, actor: Actor, *,
             public_url: str | None = None) -> None:
    """Hand a report to another unit of the same hromada, with a reason kept in its history."""
    row = lock_report(conn, code)
    require_access(actor, row)
    if not _blank(reason):
        raise InvalidInput("Вкажіть причину передачі", "Give a reason for the transfer")
    target = conn.execute(sa.text("SELECT id, hromada_id FROM unit WHERE id = :id"), {"id": to_unit_id}).first()
    if target is None or target.hromada_id != row["hromada_id"]:
        raise InvalidInput("Такого підрозділу в цій громаді немає", "No such unit in this hromada")
    if target.id == row["unit_id"]:
        raise InvalidInput("Звернення вже в цьому підрозділі", "The report is already with this unit")
    if not STATUSES[row["status"]].is_open:
        raise Conflict("Закрите звернення не передають; спершу відкрийте його знову",
                       "A closed report cannot be transferred; reopen it first")
    conn.execute(report.update().where(report.c.id == row["id"]).values(
        unit_id=target.id, updated_at=sa.func.now()))
    event_id = conn.execute(report_event.insert().values(
        report_id=row["id"], kind="transfer", user_id=actor.user_id, from_unit_id=row["unit_id"],
        to_unit_id=target.id, private_note=reason.strip()).returning(report_event.c.id)).scalar_one()
    unit_mail.tell_unit(conn, row["id"], public_url=public_url)  # issue #14: the new unit is told
    name_uk, name_en = conn.execute(sa.text("SELECT name_uk, coalesce(name_en, name_uk) FROM unit WHERE id = :id"),
                                    {"id": target.id}).one()
    code = row["code"]
    # The reason stays staff-side (it may name people); followers learn who has the report now.
    followers.tell_followers(
        conn, row["id"], f"event-{event_id}", (f"Звернення {code} передано", f"Report {code} passed on"),
        [f"Звернення {code} передано: тепер ним займається «{name_uk}».",
         f"Переглянути звернення: {readable_report_url(unit_mail.configured_public_url(public_url), code)}"],
        [f"Report {code} was passed to “{name_en}”, who handles it now.",
         f"View the report: {readable_report_url(unit_mail.configured_public_url(public_url), code)}"],
        public_url=unit_mail.configured_public_url(public_url))


def add_note(conn: sa.Connection, code: str, actor: Actor, *, public_note: str | None,
             private_note: str | None, public_url: str | None = None) -> None:
    """A note in the report's history: a public one is shown on its page and mailed to its followers."""
    row = lock_report(conn, code)
    require_access(actor, row)
    if not _blank(public_note) and not _blank(private_note):
        raise InvalidInput("Нотатка порожня", "The note is empty")
    event_id = conn.execute(report_event.insert().values(
        report_id=row["id"], kind="note", user_id=actor.user_id, public_note=_blank(public_note),
        private_note=_blank(private_note)).returning(report_event.c.id)).scalar_one()
    conn.execute(report.update().where(report.c.id == row["id"]).values(updated_at=sa.func.now()))
    if _blank(public_note):
        base = unit_mail.configured_public_url(public_url)
        note, link = public_note.strip(), readable_report_url(base, code)
        followers.tell_followers(
            conn, row["id"], f"event-{event_id}",
            (f"Новий коментар до звернення {code}", f"A new note on report {code}"),
            [f"До звернення {code} додано коментар: {note}", f"Переглянути звернення: {link}"],
            [f"A note was added to report {code}: {note}", f"View the report: {link}"], public_url=base)


def lock_report(conn: sa.Connection, code: str):
    """The report row, locked for this transaction so two staff actions cannot interleave."""
    row = conn.execute(sa.select(report).where(report.c.code == code).with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"Звернення {code} не знайдено", f"Report {code} not found")
    return row


# --- notifications ---------------------------------------------------------------------------------

MAIL_SUBJECTS = {
    "acknowledged": ("Звернення {code} прийнято в роботу", "Report {code} acknowledged"),
    "in_progress": ("Звернення {code} у роботі", "Report {code} is being worked on"),
    "reopened": ("Звернення {code} відкрито знову", "Report {code} reopened"),
    "resolved": ("Звернення {code} вирішено", "Report {code} resolved"),
    "rejected": ("Звернення {code} відхилено", "Report {code} rejected"),
    "duplicate": ("Звернення {code} об'єднано з іншим", "Report {code} merged with another"),
}


def _notify_status(conn: sa.Connection, row, event_id: int, status: str, note: str | None,
                   duplicate_of: str | None, public_url: str) -> None:
    """The followers are told of a status change, with its public note."""
    code = row["code"]
    link = readable_report_url(public_url, code)
    lines_uk = [f"Стан звернення {code}: {STATUSES[status].uk}."]
    lines_en = [f"The status of report {code} is now: {STATUSES[status].en}."]
    if note:
        lines_uk.append(f"Коментар: {note}")
        lines_en.append(f"Note: {note}")
    if status == "duplicate" and duplicate_of:
        lines_uk.append(f"Далі стежте за зверненням {duplicate_of}: {readable_report_url(public_url, duplicate_of)}")
        lines_en.append(f"Follow report {duplicate_of} from now on: {readable_report_url(public_url, duplicate_of)}")
    lines_uk.append(f"Переглянути звернення: {link}")
    lines_en.append(f"View the report: {link}")
    subject = tuple(text.format(code=code) for text in MAIL_SUBJECTS[status])
    followers.tell_followers(conn, row["id"], f"event-{event_id}", subject, lines_uk, lines_en, public_url=public_url)
    telegram_channel.tell_chats(conn, row["id"], f"event-{event_id}", lines_uk, lines_en)  # #18: the chats too
