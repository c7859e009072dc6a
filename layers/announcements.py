"""Announcements of the hromada's staff (issue #18): a notice for an area and a time span — a planned
power outage, a water outage, road works, an emergency or another notice — with its title and text in
Ukrainian (English optional).

An announcement is shown above the hromada's map while it is not over (upcoming ones too), served as
GeoJSON, put in the feeds of the areas it touches (webmap/alerts.py), and mailed **at once** through the
outbox to every subscriber (layers.area_alerts) of an area it overlaps.

The rule for who is mailed: an announcement is about a place, not a category of report, so it goes to
every active subscription with a confirmed address whose area overlaps the announcement's by at least
a square metre (areas that only touch along a border do not count) — whatever categories the
subscription chose, and also to subscriptions on the daily digest (an outage or an emergency cannot
wait for tomorrow's mail). Each subscription is told once (``area_alert`` unique per subscription and
announcement, and an outbox key), however often the publication is retried. Ending an announcement
early sends nothing more.

Only the hromada's administrators publish and end announcements (webmap/alerts.py checks the role);
each act is in the audit log.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from gis import audit
from gis.errors import InvalidInput, NotFound
from gis.models import ANNOUNCEMENT_KINDS
from layers.area_alerts import Place, base_url, enqueue_alert_mail
from layers.unit_mail import KYIV, kyiv_time

KINDS = {
    "power_outage": ("Планове відключення електроенергії", "Planned power outage"),
    "water_outage": ("Відключення води", "Water outage"),
    "road_works": ("Дорожні роботи", "Road works"),
    "emergency": ("Надзвичайна ситуація", "Emergency"),
    "other": ("Оголошення", "Notice"),
}
assert tuple(KINDS) == ANNOUNCEMENT_KINDS
MAX_TITLE = 200
MAX_BODY = 4000
MAX_DAYS = 366
MIN_OVERLAP_M2 = 1.0
FEED_LIMIT = 50

# Two areas overlap when they share some area, not only a border (neighbouring villages' cells touch).
OVERLAPS = """ST_Intersects({a}, {b}) AND ST_Area(ST_Intersection({a}, {b})::geography) >= {min_m2}"""


@dataclass(frozen=True)
class NewAnnouncement:
    kind: str
    title_uk: str
    body_uk: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    title_en: str | None = None
    body_en: str | None = None


def parse_kyiv(value, field: str) -> dt.datetime:
    """A moment typed as Kyiv time (``YYYY-MM-DDTHH:MM``, as a datetime-local field sends it; or an ISO
    moment with its offset); InvalidInput (400) otherwise."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        try:
            moment = dt.datetime.fromisoformat(text) if text else None
        except ValueError:
            moment = None
        if moment is None:
            raise InvalidInput("Час: рік-місяць-день і години:хвилини (за київським часом)",
                               "Time: year-month-day and hours:minutes (Kyiv time)", field=field)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KYIV)
    return moment


def _text(value, field: str, limit: int, *, required: bool, what: tuple[str, str]) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise InvalidInput(f"{what[0]}: обов'язкове поле", f"{what[1]}: required", field=field)
        return None
    if len(text) > limit:
        raise InvalidInput(f"{what[0]}: задовгий текст (до {limit} знаків)",
                           f"{what[1]}: too long (at most {limit} characters)", field=field)
    return text


def check(kind, title_uk, body_uk, starts_at, ends_at, title_en=None, body_en=None, *,
          now: dt.datetime | None = None) -> NewAnnouncement:
    """The announcement's values checked; InvalidInput (400) lists every problem in both languages."""
    problems = []

    def attempt(fn):
        try:
            return fn()
        except InvalidInput as exc:
            problems.append(exc)
            return None

    if kind not in KINDS:
        problems.append(InvalidInput("Вид оголошення: оберіть зі списку", "Kind: choose one from the list",
                                     field="kind"))
    t_uk = attempt(lambda: _text(title_uk, "title_uk", MAX_TITLE, required=True, what=("Заголовок", "Title")))
    b_uk = attempt(lambda: _text(body_uk, "body_uk", MAX_BODY, required=True, what=("Текст", "Text")))
    t_en = attempt(lambda: _text(title_en, "title_en", MAX_TITLE, required=False,
                                 what=("Заголовок англійською", "Title in English")))
    b_en = attempt(lambda: _text(body_en, "body_en", MAX_BODY, required=False,
                                 what=("Текст англійською", "Text in English")))
    start = attempt(lambda: parse_kyiv(starts_at, "starts_at"))
    end = attempt(lambda: parse_kyiv(ends_at, "ends_at"))
    now = now or dt.datetime.now(dt.timezone.utc)
    if start and end:
        if end <= start:
            problems.append(InvalidInput("Кінець має бути пізніше за початок", "The end must come after the start",
                                         field="ends_at"))
        elif end <= now:
            problems.append(InvalidInput("Цей час уже минув", "That time is over already", field="ends_at"))
        elif end - start > dt.timedelta(days=MAX_DAYS):
            problems.append(InvalidInput(f"Оголошення може тривати до {MAX_DAYS} днів",
                                         f"An announcement may last up to {MAX_DAYS} days", field="ends_at"))
        elif not dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc) < start:
            problems.append(InvalidInput("Неможливий час початку", "An impossible start time", field="starts_at"))
    if problems:
        fields = {}
        for p in problems:
            fields.setdefault(p.details.get("field", "form"), []).append({"uk": p.uk, "en": p.en})
        raise InvalidInput("; ".join(p.uk for p in problems), "; ".join(p.en for p in problems), fields=fields)
    return NewAnnouncement(kind, t_uk, b_uk, start, end, t_en, b_en)


def publish(conn: sa.Connection, hromada_id: int, new: NewAnnouncement, place: Place, *, by: audit.By,
            public_url: str | None = None) -> dict:
    """Store the announcement and mail it at once to the subscribers of the areas it overlaps (the rule
    above). Returns its id and how many subscriptions were told. Runs in the caller's transaction."""
    announcement_id = conn.execute(sa.text("""
        INSERT INTO announcement (hromada_id, kind, title_uk, title_en, body_uk, body_en, scope, settlement_id,
                                  district_id, place_uk, place_en, area, starts_at, ends_at, created_by)
        VALUES (:h, :kind, :t_uk, :t_en, :b_uk, :b_en, :scope, :s, :d, :p_uk, :p_en,
                ST_SetSRID(ST_GeomFromWKB(:g), 4326), :starts, :ends, :user)
        RETURNING id"""),
        {"h": hromada_id, "kind": new.kind, "t_uk": new.title_uk, "t_en": new.title_en, "b_uk": new.body_uk,
         "b_en": new.body_en, "scope": place.scope, "s": place.settlement_id, "d": place.district_id,
         "p_uk": place.name_uk, "p_en": place.name_en, "g": place.wkb, "starts": new.starts_at, "ends": new.ends_at,
         "user": by.user_id}).scalar_one()
    told = tell_subscribers(conn, announcement_id, public_url=public_url)
    audit.record(conn, by, "announcement.publish", hromada_id=hromada_id, object=new.title_uk,
                 detail={"id": announcement_id, "kind": new.kind, "place": place.name_uk, "told": told})
    return {"id": announcement_id, "told": told}


def tell_subscribers(conn: sa.Connection, announcement_id: int, *, public_url: str | None = None) -> int:
    """Mail the announcement to each subscription it concerns that has not had it; how many now."""
    from layers.area_alerts import SUBSCRIPTION

    told = conn.execute(sa.text(f"""
        INSERT INTO area_alert (subscription_id, announcement_id, digested_at)
        SELECT s.id, an.id, now() FROM announcement an
        JOIN area_subscription s ON s.hromada_id = an.hromada_id AND s.unsubscribed_at IS NULL
             AND {OVERLAPS.format(a='s.area', b='an.area', min_m2=MIN_OVERLAP_M2)}
        JOIN mail_address a ON a.email = s.email AND a.confirmed_at IS NOT NULL AND a.stopped_at IS NULL
        WHERE an.id = :id ORDER BY s.id
        ON CONFLICT (subscription_id, announcement_id) DO NOTHING
        RETURNING subscription_id"""), {"id": announcement_id}).scalars().all()
    if not told:
        return 0
    item = one(conn, announcement_id)
    base = base_url(public_url)
    map_url = f"{base}/map/{item['katottg']}"
    kind_uk, kind_en = KINDS[item["kind"]]
    title_en = item["title_en"] or item["title_uk"]
    subject = f"{kind_uk}: {item['title_uk']} / {kind_en}: {title_en}"
    when_uk = f"з {kyiv_time(item['starts_at'])} до {kyiv_time(item['ends_at'])} (за київським часом)"
    when_en = f"from {kyiv_time(item['starts_at'])} to {kyiv_time(item['ends_at'])} (Kyiv time)"
    for sub in conn.execute(sa.text(SUBSCRIPTION + " WHERE s.id = ANY(:ids) ORDER BY s.id"),
                            {"ids": sorted(told)}).mappings():
        lines_uk = [f"Оголошення громади «{item['hromada_uk']}» для місця, за яким ви стежите («{sub['place_uk']}»).",
                    "", f"{kind_uk}: {item['title_uk']}", f"Де: {item['place_uk']}", f"Коли: {when_uk}", "",
                    item["body_uk"], "", f"Мапа громади: {map_url}"]
        lines_en = [f"An announcement of “{item['hromada_en']}” for a place you follow (“{sub['place_en']}”).",
                    "", f"{kind_en}: {title_en}", f"Where: {item['place_en']}", f"When: {when_en}", "",
                    item["body_en"] or item["body_uk"], "", f"The hromada's map: {map_url}"]
        enqueue_alert_mail(conn, sub, subject, lines_uk, lines_en,
                           key=f"announcement-{announcement_id}-sub-{sub['id']}", base=base)
    return len(told)


def end(conn: sa.Connection, hromada_id: int, announcement_id, *, by: audit.By) -> None:
    """End an announcement of the hromada now (it leaves the map; the feeds show it as ended)."""
    try:
        announcement_id = int(announcement_id)
    except (TypeError, ValueError):
        raise InvalidInput("Оберіть оголошення", "Choose an announcement", field="id") from None
    row = None
    if 0 < announcement_id < 2**31:
        row = conn.execute(sa.text("""
            UPDATE announcement SET ended_at = COALESCE(ended_at, now())
            WHERE id = :id AND hromada_id = :h RETURNING title_uk"""), {"id": announcement_id, "h": hromada_id}).first()
    if row is None:
        raise NotFound("У громаді немає такого оголошення", "No such announcement in the hromada")
    audit.record(conn, by, "announcement.end", hromada_id=hromada_id, object=row.title_uk,
                 detail={"id": announcement_id})


_COLUMNS = """
    a.id, a.hromada_id, a.kind, a.title_uk, a.title_en, a.body_uk, a.body_en, a.scope, a.place_uk, a.place_en,
    a.starts_at, a.ends_at, a.created_at, a.ended_at, GREATEST(a.created_at, a.ended_at) AS updated_at,
    h.katottg, h.name_uk AS hromada_uk, COALESCE(h.name_en, h.name_uk) AS hromada_en"""


def one(conn: sa.Connection, announcement_id: int) -> dict:
    row = conn.execute(sa.text(f"SELECT {_COLUMNS} FROM announcement a JOIN hromada h ON h.id = a.hromada_id "
                               "WHERE a.id = :id"), {"id": announcement_id}).mappings().first()
    if row is None:
        raise NotFound("Такого оголошення немає", "No such announcement")
    return dict(row)


def in_language(item: dict, lang: str) -> dict:
    """The announcement's texts in ``lang`` (English falls back to the Ukrainian text)."""
    en = lang == "en"
    return {**item, "kind_label": KINDS[item["kind"]][1 if en else 0],
            "title": (item["title_en"] or item["title_uk"]) if en else item["title_uk"],
            "body": (item["body_en"] or item["body_uk"]) if en else item["body_uk"],
            "place": item["place_en"] if en else item["place_uk"]}


def current(conn: sa.Connection, hromada_id: int, lang: str = "uk") -> list[dict]:
    """The hromada's announcements that are not over (under way or coming), emergencies first, then by start."""
    rows = conn.execute(sa.text(f"""
        SELECT {_COLUMNS}, a.starts_at <= now() AS under_way FROM announcement a JOIN hromada h ON h.id = a.hromada_id
        WHERE a.hromada_id = :h AND a.ended_at IS NULL AND a.ends_at > now()
        ORDER BY a.kind <> 'emergency', a.starts_at, a.id LIMIT 100"""), {"h": hromada_id}).mappings()
    return [in_language(dict(r), lang) for r in rows]


def listing(conn: sa.Connection, hromada_id: int, limit: int = 200) -> list[dict]:
    """Every announcement of the hromada for its staff, newest first, with its state and how many
    subscriptions it was mailed to."""
    rows = conn.execute(sa.text(f"""
        SELECT {_COLUMNS},
               CASE WHEN a.ended_at IS NOT NULL THEN 'ended' WHEN a.ends_at <= now() THEN 'over'
                    WHEN a.starts_at > now() THEN 'upcoming' ELSE 'current' END AS state,
               (SELECT count(*) FROM area_alert al WHERE al.announcement_id = a.id) AS told
        FROM announcement a JOIN hromada h ON h.id = a.hromada_id
        WHERE a.hromada_id = :h ORDER BY a.created_at DESC, a.id DESC LIMIT :limit"""),
        {"h": hromada_id, "limit": limit}).mappings()
    return [dict(r) for r in rows]


def geojson(conn: sa.Connection, hromada_id: int, lang: str = "uk") -> dict:
    """The hromada's announcements that are not over as a GeoJSON FeatureCollection (their areas,
    simplified to about a metre)."""
    import json

    rows = conn.execute(sa.text(f"""
        SELECT {_COLUMNS}, ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.area, 0.00001), 6) AS shape
        FROM announcement a JOIN hromada h ON h.id = a.hromada_id
        WHERE a.hromada_id = :h AND a.ended_at IS NULL AND a.ends_at > now()
        ORDER BY a.kind <> 'emergency', a.starts_at, a.id LIMIT 100"""), {"h": hromada_id}).mappings()
    features = []
    for row in rows:
        item = in_language(dict(row), lang)
        features.append({"type": "Feature", "id": item["id"], "geometry": json.loads(row["shape"]),
                         "properties": {"kind": item["kind"], "kind_label": item["kind_label"], "title": item["title"],
                                        "body": item["body"], "place": item["place"],
                                        "starts_at": item["starts_at"].isoformat(),
                                        "ends_at": item["ends_at"].isoformat()}})
    return {"type": "FeatureCollection", "features": features}


def for_feed(conn: sa.Connection, hromada_id: int, *, area_wkb: bytes | None = None,
             subscription_id: int | None = None, limit: int = FEED_LIMIT) -> list[dict]:
    """The hromada's latest announcements (those overlapping an area or a subscription's area), last
    change first."""
    overlap_area = OVERLAPS.format(a="a.area", b="ST_SetSRID(ST_GeomFromWKB(CAST(:area AS bytea)), 4326)",
                                   min_m2=MIN_OVERLAP_M2)
    overlap_sub = OVERLAPS.format(a="a.area", b="(SELECT area FROM area_subscription WHERE id = :sub)",
                                  min_m2=MIN_OVERLAP_M2)
    rows = conn.execute(sa.text(f"""
        SELECT {_COLUMNS} FROM announcement a JOIN hromada h ON h.id = a.hromada_id
        WHERE a.hromada_id = :h
          AND (CAST(:area AS bytea) IS NULL OR ({overlap_area}))
          AND (CAST(:sub AS integer) IS NULL OR ({overlap_sub}))
        ORDER BY GREATEST(a.created_at, a.ended_at) DESC, a.id DESC LIMIT :limit"""),
        {"h": hromada_id, "area": area_wkb, "sub": subscription_id, "limit": limit}).mappings()
    return [dict(r) for r in rows]
