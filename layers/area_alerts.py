"""Alerts for an area (issue #18): a resident subscribes by e-mail to a village, a starosta district, the
whole hromada or an area drawn on the map, for chosen categories (or all), and is told of each new
public report there — at once, or in one mail a day.

- **Double opt-in**, exactly as for followers (layers.followers): an address gets alerts only once it
  has confirmed (``mail_address.confirmed_at``, once per address); until then a subscription mails only
  the request to confirm. An address that asked for no mail at all (``stopped_at``) gets nothing.
- **Where**: every subscription keeps the area it covers (``area_subscription.area``). A village covers
  its cell (its boundary and the land nearer to it than to any other village, gis.hromada_setup
  .settlement_cells — the same village a report's mail and feed name), a district its villages' cells,
  the whole hromada its boundary, a drawn area itself clipped to the hromada. The area is derived when
  subscribing: re-subscribing to the place derives it again.
- **Exactly once**: ``alert_report`` runs in the transaction that makes a report public (layers.reports
  create_report; layers.moderation approve for a report held for approval) and records one
  ``area_alert`` per subscription and report (unique), so a retried change never alerts twice; the mail
  goes through the outbox (gis.outbox) with a key of its own, in that same transaction.
- **Daily**: a daily subscription's alerts wait (``digested_at`` NULL) for ``queue_digests``, which the
  outbox worker runs like the units' digests (``digest_job``): one mail per subscription and Kyiv day
  after ``HROMADA_DIGEST_HOUR``.
- Every alert mail carries the RFC 8058 one-click unsubscribe of its subscription (``List-Unsubscribe``,
  ``List-Unsubscribe-Post``; a signed link, ``/alerts/unsubscribe/<token>``) and the link that stops all
  mail to the address (``/mail/stop/<token>``, layers.followers). Mails and feeds never carry the
  reporter's name, e-mail or phone.

The resident's cabinet manages subscriptions by e-mail with ``list_for_email``, ``unsubscribe`` and
``set_frequency``. Announcements of the hromada's staff reach the same subscribers
(layers.announcements).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass

import shapely
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from shapely.geometry.base import BaseGeometry

from gis import direct_sql, outbox
from gis.errors import InvalidInput, NotFound
from gis.hromada_setup import check_area, villages_area
from gis.models import ALERT_FREQUENCIES
from layers import followers
from layers.report_states import STATUSES, readable_report_url
from layers.unit_mail import KYIV, configured_public_url, digest_day

log = logging.getLogger(__name__)

UNSUBSCRIBE = "area-alert-unsubscribe"  # the salt of the signed unsubscribe links (one subscription each)
SIGNATURE = followers.SIGNATURE
MAX_AREA_TEXT = 300_000  # characters of GeoJSON: a drawn area, not a country's border
MAX_AREA_POINTS = 5_000
MAX_NAME = 120
DESCRIPTION_IN_DIGEST = 300
DIGEST_LOCK = 18_0026  # pg_advisory_xact_lock class: one digest run per subscription at a time
FEED_LIMIT = 50

# The village of a report, as the units' mail names it (layers.unit_mail): the one whose boundary holds
# the point, else the one whose centre is nearest — which is the village whose cell holds it.
VILLAGE_OF_REPORT = """
    LEFT JOIN LATERAL (
        SELECT * FROM (SELECT s.name_uk, COALESCE(s.name_en, s.name_uk) AS name_en, true AS inside
                       FROM settlement_at(r.hromada_id, r.location) s
                       UNION ALL
                       (SELECT s.name_uk, COALESCE(s.name_en, s.name_uk), false FROM settlement s
                        WHERE s.hromada_id = r.hromada_id
                        ORDER BY COALESCE(s.centre, ST_PointOnSurface(s.boundary)) <-> r.location LIMIT 1)) c
        ORDER BY inside DESC LIMIT 1) v ON true"""

# A subscription with its place in both languages (a village's or district's own names, the hromada's).
SUBSCRIPTION = """
    SELECT s.id, s.hromada_id, s.email, s.scope, s.settlement_id, s.district_id, s.categories, s.frequency,
           s.feed_token, s.created_at, s.unsubscribed_at, h.katottg,
           h.name_uk AS hromada_uk, COALESCE(h.name_en, h.name_uk) AS hromada_en,
           COALESCE(st.name_uk, d.name_uk, CASE WHEN s.scope = 'hromada' THEN h.name_uk END, s.name) AS place_uk,
           COALESCE(st.name_en, st.name_uk, d.name_en, d.name_uk,
                    CASE WHEN s.scope = 'hromada' THEN COALESCE(h.name_en, h.name_uk) END,
                    CASE WHEN s.name = 'Ділянка на мапі' THEN 'Area drawn on the map' END, s.name) AS place_en
    FROM area_subscription s JOIN hromada h ON h.id = s.hromada_id
    LEFT JOIN settlement st ON st.id = s.settlement_id
    LEFT JOIN starosta_district d ON d.id = s.district_id"""
DRAWN_AREA = ("Ділянка на мапі", "Area drawn on the map")


# --- checking what a resident sends -----------------------------------------------------------------

def check_email(email) -> str:
    """The address, lower-cased; InvalidInput (400) when it is not one."""
    text = email.strip() if isinstance(email, str) else ""
    if not text:
        raise InvalidInput("Вкажіть адресу електронної пошти", "Give an e-mail address", field="email")
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput(f"«{text[:100]}» — не адреса електронної пошти",
                           f"“{text[:100]}” is not an e-mail address", field="email") from None
    return followers.normalised(text)


def check_frequency(value) -> str:
    """``immediate`` (the default: nothing given) or ``daily``; InvalidInput otherwise."""
    if value is None or value == "":
        return "immediate"
    if not isinstance(value, str) or value not in ALERT_FREQUENCIES:
        raise InvalidInput("Частота: «immediate» (одразу) або «daily» (раз на день)",
                           "Frequency: “immediate” or “daily”", field="frequency")
    return value


def check_categories(conn: sa.Connection, hromada_id: int, values) -> list[str] | None:
    """Category codes of the hromada (the catalogue's and its own); None (every category) when none is
    chosen. InvalidInput names the unknown ones."""
    if values is None or values == "":
        return None
    if isinstance(values, str):
        values = [v for v in values.replace(";", ",").split(",")]
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise InvalidInput("Категорії: список кодів категорій", "Categories: a list of category codes",
                           field="categories")
    chosen = sorted({v.strip() for v in values if v.strip()})
    if not chosen:
        return None
    known = set(conn.execute(sa.text("""
        SELECT code FROM category WHERE is_active AND (hromada_id IS NULL OR hromada_id = :h)"""),
        {"h": hromada_id}).scalars())
    unknown = [c for c in chosen if c not in known]
    if unknown:
        shown = ", ".join(c[:60] for c in unknown[:10])
        raise InvalidInput(f"Невідомі категорії: {shown}", f"Unknown categories: {shown}", field="categories")
    return chosen


@dataclass(frozen=True)
class Place:
    """Where a subscription (or an announcement) reaches: the whole hromada, a village, a starosta
    district or an area drawn on the map, with the area it covers and its names."""

    scope: str
    key: str  # the same place gives the same key (a second subscription to it renews the first)
    name_uk: str
    name_en: str
    geometry: BaseGeometry  # a valid MultiPolygon inside the hromada
    settlement_id: int | None = None
    district_id: int | None = None

    @property
    def wkb(self) -> bytes:
        return shapely.to_wkb(self.geometry)


def _given(value) -> bool:
    return value is not None and value is not False and not (isinstance(value, str) and not value.strip())


def _as_id(value, field: str, what_uk: str, what_en: str) -> int | str:
    if isinstance(value, bool):
        raise InvalidInput(f"{what_uk}: неправильне значення", f"{what_en}: a wrong value", field=field)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 10:
        return int(value.strip())
    if isinstance(value, str) and len(value) <= 100:
        return value.strip()
    raise InvalidInput(f"{what_uk}: неправильне значення", f"{what_en}: a wrong value", field=field)


def resolve_place(conn: sa.Connection, hromada_id: int, *, settlement=None, district=None, area=None,
                  whole: bool = False, area_name: str | None = None) -> Place:
    """Exactly one of: a village of the hromada (its id), a starosta district (id or code), an area (a
    GeoJSON Polygon or MultiPolygon, dict or text, at least partly inside the hromada: it is clipped to
    it), or the whole hromada. InvalidInput (400, both languages) otherwise."""
    chosen = sum(_given(v) for v in (settlement, district, area)) + bool(whole)
    if chosen == 0:
        raise InvalidInput("Оберіть місце: населений пункт, старостинський округ, усю громаду або ділянку на мапі",
                           "Choose a place: a village, a starosta district, the whole hromada or an area on the map",
                           field="place")
    if chosen > 1:
        raise InvalidInput("Оберіть одне місце", "Choose one place", field="place")
    if whole:
        row = conn.execute(sa.text("""SELECT name_uk, COALESCE(name_en, name_uk) AS name_en, ST_AsBinary(boundary) AS g
                                      FROM hromada WHERE id = :h"""), {"h": hromada_id}).one()
        return Place("hromada", f"{hromada_id}:hromada", row.name_uk, row.name_en, shapely.from_wkb(bytes(row.g)))
    if _given(settlement):
        value = _as_id(settlement, "settlement", "Населений пункт", "Village")
        row = conn.execute(sa.text("""SELECT id, name_uk, COALESCE(name_en, name_uk) AS name_en FROM settlement
                                      WHERE hromada_id = :h AND id = :id"""),
                           {"h": hromada_id, "id": value if isinstance(value, int) else -1}).first()
        if row is None:
            raise InvalidInput("У громаді немає такого населеного пункту", "No such village in the hromada",
                               field="settlement")
        geom = villages_area(conn, hromada_id, [row.id])
        if geom is None:
            raise InvalidInput("Для цього населеного пункту немає меж", "This village has no area", field="settlement")
        return Place("settlement", f"{hromada_id}:settlement:{row.id}", row.name_uk, row.name_en, geom,
                     settlement_id=row.id)
    if _given(district):
        value = _as_id(district, "district", "Старостинський округ", "Starosta district")
        row = conn.execute(sa.text("""
            SELECT id, name_uk, COALESCE(name_en, name_uk) AS name_en FROM starosta_district
            WHERE hromada_id = :h AND (id = :id OR code = :code)"""),
            {"h": hromada_id, "id": value if isinstance(value, int) else -1,
             "code": value if isinstance(value, str) else None}).first()
        if row is None:
            raise InvalidInput("У громаді немає такого старостинського округу",
                               "No such starosta district in the hromada", field="district")
        villages = conn.execute(sa.text("SELECT settlement_id FROM district_settlement WHERE district_id = :d"),
                                {"d": row.id}).scalars().all()
        geom = villages_area(conn, hromada_id, villages)
        if geom is None:
            raise InvalidInput("У старостинському окрузі немає населених пунктів",
                               "The starosta district has no villages", field="district")
        return Place("district", f"{hromada_id}:district:{row.id}", row.name_uk, row.name_en, geom,
                     district_id=row.id)
    return _drawn_area(conn, hromada_id, area, area_name)


def _drawn_area(conn: sa.Connection, hromada_id: int, area, name: str | None) -> Place:
    if isinstance(area, str) and len(area) > MAX_AREA_TEXT:
        raise InvalidInput("Ділянка завелика: спростіть її", "The area is too large: simplify it", field="area")
    if isinstance(area, dict) and len(json.dumps(area, default=str)) > MAX_AREA_TEXT:
        raise InvalidInput("Ділянка завелика: спростіть її", "The area is too large: simplify it", field="area")
    geom = check_area(conn, hromada_id, area, field="area")  # GeoJSON, valid, at least partly in the hromada
    if shapely.get_num_coordinates(geom) > MAX_AREA_POINTS:
        raise InvalidInput(f"Ділянка має забагато вершин (понад {MAX_AREA_POINTS}): спростіть її",
                           f"The area has too many vertices (over {MAX_AREA_POINTS}): simplify it", field="area")
    clipped = conn.execute(sa.text("""
        SELECT ST_AsBinary(ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Intersection(h.boundary,
               ST_SetSRID(ST_GeomFromWKB(:g), 4326))), 3))) FROM hromada h WHERE h.id = :h"""),
        {"g": shapely.to_wkb(geom), "h": hromada_id}).scalar()
    geom = shapely.from_wkb(bytes(clipped)) if clipped is not None else geom
    if geom.is_empty:
        raise InvalidInput("Ділянка лежить поза межами громади", "The area lies outside the hromada", field="area")
    geom = shapely.set_precision(geom, 1e-7)  # ~1 cm: the same drawing gives the same key
    if geom.is_empty or geom.geom_type not in ("MultiPolygon", "Polygon"):
        raise InvalidInput("Ділянка лежить поза межами громади", "The area lies outside the hromada", field="area")
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    key = hashlib.sha256(shapely.to_wkb(shapely.normalize(geom))).hexdigest()[:32]
    name = (name or "").strip()[:MAX_NAME]
    return Place("area", f"{hromada_id}:area:{key}", name or DRAWN_AREA[0], name or DRAWN_AREA[1], geom)


# --- links -------------------------------------------------------------------------------------------

def base_url(public_url: str | None = None) -> str:
    """Where links in mails point: ``public_url``; inside a request the app's PUBLIC_URL or the request's
    host (as the web views pass it); else HROMADA_PUBLIC_URL (unit_mail.configured_public_url)."""
    if public_url:
        return public_url.rstrip("/")
    from flask import current_app, has_request_context, request

    if has_request_context():
        return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    return configured_public_url(None)


def unsubscribe_url(public_url: str, subscription_id: int) -> str:
    return f"{public_url}/alerts/unsubscribe/{followers.make_token(UNSUBSCRIBE, subscription_id)}"


def confirm_url(public_url: str, email: str) -> str:
    """The alerts' own page for the followers' confirmation token (the same address confirmed once)."""
    return f"{public_url}/alerts/confirm/{followers.make_token(followers.CONFIRM, followers.normalised(email))}"


def feed_path(feed_token: str) -> str:
    return f"/feeds/areas/{feed_token}.atom"


def read_unsubscribe_token(token: str) -> int:
    """The subscription of a genuine unsubscribe link; InvalidInput (400) for a damaged or foreign one."""
    value = followers.read_token(UNSUBSCRIBE, token)
    if type(value) is not int:
        raise InvalidInput("Посилання пошкоджене або не наше", "The link is damaged or not ours")
    return value


# --- subscribing -------------------------------------------------------------------------------------

def subscribe(conn: sa.Connection, hromada_id: int, email: str, place: Place, *, categories: list[str] | None = None,
              frequency: str = "immediate", public_url: str | None = None) -> dict:
    """Subscribe ``email`` to ``place`` (again, if it had unsubscribed: renewed with these categories and
    frequency). Returns ``state`` — ``subscribed`` (a confirmed address: alerts will come), ``confirm``
    (a request to confirm was mailed; nothing else is sent before it is used) or ``stopped`` (the address
    asked for no mail: nothing is sent) — with the subscription's id, place and feed path."""
    email = check_email(email)
    frequency = check_frequency(frequency)
    state = followers.address(conn, email)
    row = conn.execute(sa.text("""
        INSERT INTO area_subscription (hromada_id, email, scope, settlement_id, district_id, area, place_key, name,
                                       categories, frequency, feed_token)
        VALUES (:h, :e, :scope, :s, :d, ST_SetSRID(ST_GeomFromWKB(:g), 4326), :key, :name, :cats, :freq, :token)
        ON CONFLICT (email, place_key) DO UPDATE SET
            area = EXCLUDED.area, name = EXCLUDED.name, categories = EXCLUDED.categories,
            frequency = EXCLUDED.frequency, unsubscribed_at = NULL
        RETURNING id, feed_token"""),
        {"h": hromada_id, "e": email, "scope": place.scope, "s": place.settlement_id, "d": place.district_id,
         "g": place.wkb, "key": place.key, "name": place.name_uk, "cats": categories, "freq": frequency,
         "token": secrets.token_urlsafe(24)}).one()
    answer = {"id": row.id, "place": {"uk": place.name_uk, "en": place.name_en}, "categories": categories,
              "frequency": frequency, "feed_path": feed_path(row.feed_token)}
    if state.stopped:
        return {**answer, "state": "stopped"}
    if state.confirmed:
        return {**answer, "state": "subscribed"}
    base = base_url(public_url)
    hromada = conn.execute(sa.text("SELECT name_uk, COALESCE(name_en, name_uk) AS name_en FROM hromada WHERE id = :h"),
                           {"h": hromada_id}).one()
    link, feed = confirm_url(base, email), base + feed_path(row.feed_token)
    body = "\n".join([
        f"Ви попросили повідомляти вас про нові звернення й оголошення: «{place.name_uk}» ({hromada.name_uk}).",
        f"Щоб отримувати листи, підтвердьте адресу: {link}",
        f"Стрічка Atom цього місця (без листів): {feed}",
        "Якщо це були не ви, нічого не робіть — листів більше не буде.",
        "", "—", "",
        f"You asked to be told of new reports and announcements: “{place.name_en}” ({hromada.name_en}).",
        f"To receive mail, confirm your address: {link}",
        f"The place's Atom feed (no mail): {feed}",
        "If this was not you, do nothing — no more mail will come.",
        "", SIGNATURE])
    today = dt.datetime.now(KYIV).date().isoformat()  # asked again another day: asked again
    outbox.enqueue(conn, to_addr=email, subject="Підтвердьте адресу / Confirm your address",
                   body=body, key=f"area-confirm-{row.id}-{today}")
    return {**answer, "state": "confirm"}


def list_for_email(conn: sa.Connection, email: str, *, include_ended: bool = False) -> list[dict]:
    """The address's subscriptions (for the resident's cabinet), newest first; ended ones too if asked."""
    rows = conn.execute(sa.text(SUBSCRIPTION + """
        WHERE s.email = :e AND (:all OR s.unsubscribed_at IS NULL) ORDER BY s.created_at DESC, s.id DESC"""),
        {"e": followers.normalised(email or ""), "all": include_ended}).mappings()
    return [{"id": r["id"], "hromada": {"katottg": r["katottg"], "uk": r["hromada_uk"], "en": r["hromada_en"]},
             "scope": r["scope"], "place": {"uk": r["place_uk"], "en": r["place_en"]},
             "settlement_id": r["settlement_id"], "district_id": r["district_id"],
             "categories": list(r["categories"]) if r["categories"] is not None else None,
             "frequency": r["frequency"], "created_at": r["created_at"], "unsubscribed_at": r["unsubscribed_at"],
             "feed_path": feed_path(r["feed_token"])} for r in rows]


def unsubscribe(conn: sa.Connection, subscription_id: int) -> bool:
    """End one subscription (no more alerts, its feed is gone). True when it was active."""
    return conn.execute(sa.text("""UPDATE area_subscription SET unsubscribed_at = now()
                                   WHERE id = :id AND unsubscribed_at IS NULL"""), {"id": subscription_id}).rowcount > 0


def unsubscribe_by_token(conn: sa.Connection, token: str) -> dict | None:
    """The one-click unsubscribe of a mail: ends that subscription (again: nothing changes). Its place
    (for the page), or None when it is gone."""
    subscription_id = read_unsubscribe_token(token)
    unsubscribe(conn, subscription_id)
    return subscription(conn, subscription_id)


def subscription(conn: sa.Connection, subscription_id: int) -> dict | None:
    row = conn.execute(sa.text(SUBSCRIPTION + " WHERE s.id = :id"), {"id": subscription_id}).mappings().first()
    return dict(row) if row else None


def set_frequency(conn: sa.Connection, email: str, frequency: str, *, subscription_id: int | None = None) -> int:
    """Alerts at once (``immediate``) or one mail a day (``daily``) for all of the address's active
    subscriptions (or one of them). Alerts already waiting for a digest still go out in it. Returns how
    many subscriptions changed."""
    frequency = check_frequency(frequency)
    return conn.execute(sa.text("""
        UPDATE area_subscription SET frequency = :f
        WHERE email = :e AND unsubscribed_at IS NULL AND frequency <> :f
          AND (CAST(:id AS integer) IS NULL OR id = :id)"""),
        {"f": frequency, "e": followers.normalised(email or ""), "id": subscription_id}).rowcount


def by_feed_token(conn: sa.Connection, token: str) -> dict:
    """The subscription of a feed address: NotFound (404) for none; ``unsubscribed_at`` set for an ended one."""
    if not token or len(token) > 100:
        raise NotFound("Такої стрічки немає", "No such feed")
    row = conn.execute(sa.text(SUBSCRIPTION + " WHERE s.feed_token = :t"), {"t": token}).mappings().first()
    if row is None:
        raise NotFound("Такої стрічки немає", "No such feed")
    return dict(row)


# --- alerting ----------------------------------------------------------------------------------------

def report_facts(conn: sa.Connection, report_ids) -> list[dict]:
    """Public facts of reports (never the reporter's), with the village, in the order of ``report_ids``."""
    ids = list(report_ids)
    if not ids:
        return []
    rows = conn.execute(sa.text(f"""
        SELECT r.id, r.code, r.status, r.description, r.created_at, r.updated_at, r.is_public,
               ST_X(r.location) AS lon, ST_Y(r.location) AS lat, c.code AS category,
               c.name_uk AS category_uk, c.name_en AS category_en, v.name_uk AS village_uk, v.name_en AS village_en,
               COALESCE(v.inside, false) AS in_village
        FROM report r JOIN category c ON c.id = r.category_id
        {VILLAGE_OF_REPORT}
        WHERE r.id = ANY(:ids)"""), {"ids": ids}).mappings()
    found = {r["id"]: dict(r) for r in rows}
    return [found[i] for i in ids if i in found]


def title(facts: dict, lang: str) -> str:
    """"Category — village" (a report outside every village: "near village")."""
    category = facts["category_en"] if lang == "en" else facts["category_uk"]
    village = facts["village_en"] if lang == "en" else facts["village_uk"]
    if not village:
        return category
    if not facts["in_village"]:
        village = f"near {village}" if lang == "en" else f"поблизу: {village}"
    return f"{category} — {village}"


def _report_lines(facts: dict, base: str, lang: str, *, short: bool = False) -> list[str]:
    uk = lang == "uk"
    description = facts["description"]
    if short and len(description) > DESCRIPTION_IN_DIGEST:
        description = description[:DESCRIPTION_IN_DIGEST].rstrip() + "…"
    return [
        title(facts, lang),
        f"{'Звернення' if uk else 'Report'}: {facts['code']}",
        f"{'Стан' if uk else 'Status'}: {getattr(STATUSES[facts['status']], lang)}",
        f"{'Опис' if uk else 'Description'}: {description}",
        f"{'Сторінка звернення' if uk else 'The report’s page'}: {readable_report_url(base, facts['code'])}",
    ]


def _footer(sub, base: str, lang: str) -> list[str]:
    unsubscribe_link = unsubscribe_url(base, sub["id"])
    stop = followers.stop_all_url(base, sub["email"])
    feed = base + feed_path(sub["feed_token"])
    if lang == "uk":
        return [f"Стрічка Atom цього місця: {feed}", f"Не надсилати листів про це місце: {unsubscribe_link}",
                f"Не надсилати жодних листів на цю адресу: {stop}"]
    return [f"This place's Atom feed: {feed}", f"No more mail about this place: {unsubscribe_link}",
            f"No mail at all to this address: {stop}"]


def enqueue_alert_mail(conn: sa.Connection, sub, subject: str, lines_uk: list[str], lines_en: list[str], *,
                       key: str, base: str, report_id: int | None = None) -> None:
    """One mail to one subscription, with its one-click unsubscribe (RFC 8058) and the stop-all link."""
    body = "\n".join([*lines_uk, "", *_footer(sub, base, "uk"), "", "—", "",
                      *lines_en, "", *_footer(sub, base, "en"), "", SIGNATURE])
    outbox.enqueue(conn, to_addr=sub["email"], subject=subject, body=body, key=key, report_id=report_id,
                   headers={"List-Unsubscribe": f"<{unsubscribe_url(base, sub['id'])}>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})


def watched_sql(hromada: str, point: str) -> str:
    """An SQL condition: some subscription of the hromada ``hromada`` covers the point ``point`` (SQL
    expressions). Without one, a new report there alerts nobody and alert_report need not run (a report's
    intake asks this in a statement it runs anyway, issue #20)."""
    return f"""EXISTS (SELECT 1 FROM area_subscription s WHERE s.hromada_id = {hromada}
                      AND s.unsubscribed_at IS NULL AND ST_Covers(s.area, {point}))"""


def alert_report(conn: sa.Connection, report_id: int, *, public_url: str | None = None) -> int:
    """Tell the subscribers of the areas that hold a report that has just become public (created public,
    or approved): one ``area_alert`` per subscription (confirmed, not stopped, category chosen or all),
    and for those on "at once" a mail now. A report that is not public is nobody's news yet. Returns how
    many subscriptions were alerted (0 on a retry). Runs in the caller's transaction; the mails are
    written in a savepoint: a fault there is logged and loses neither the report nor its alerts (those
    then go out with the next daily digest)."""
    alerted = direct_sql.all_rows(conn, """
        INSERT INTO area_alert (subscription_id, report_id, digested_at)
        SELECT s.id, r.id, CASE WHEN s.frequency = 'immediate' THEN now() END
        FROM report r JOIN category c ON c.id = r.category_id
        JOIN area_subscription s ON s.hromada_id = r.hromada_id AND s.unsubscribed_at IS NULL
             AND ST_Covers(s.area, r.location) AND (s.categories IS NULL OR c.code = ANY(s.categories))
        JOIN mail_address a ON a.email = s.email AND a.confirmed_at IS NOT NULL AND a.stopped_at IS NULL
        WHERE r.id = %(r)s AND r.is_public
        ORDER BY s.id
        ON CONFLICT (subscription_id, report_id) DO NOTHING
        RETURNING subscription_id, digested_at IS NOT NULL AS at_once""", {"r": report_id})  # every intake runs it
    at_once = sorted(a.subscription_id for a in alerted if a.at_once)
    if at_once:  # most reports have no subscriber at once: no savepoint round trips for them
        try:
            with conn.begin_nested():
                _mail_at_once(conn, report_id, at_once, public_url)
        except sa.exc.OperationalError:
            raise  # the database itself is gone: the whole change fails and is retried
        except Exception:
            # Not told at once: the alerts wait for the next daily digest instead of counting as told.
            log.exception("area alert mails for report %s failed; the report is kept, the alerts go to the "
                          "next digest", report_id)
            conn.execute(sa.text("""
                UPDATE area_alert SET digested_at = NULL WHERE report_id = :r AND subscription_id = ANY(:ids)"""),
                {"r": report_id, "ids": at_once})
    return len(alerted)


def _mail_at_once(conn: sa.Connection, report_id: int, at_once: list[int], public_url: str | None) -> None:
    base = base_url(public_url)
    [facts] = report_facts(conn, [report_id])
    subject = (f"{title(facts, 'uk')} (нове звернення {facts['code']}) / "
               f"{title(facts, 'en')} (new report {facts['code']})")
    for sub in conn.execute(sa.text(SUBSCRIPTION + " WHERE s.id = ANY(:ids) ORDER BY s.id"),
                            {"ids": at_once}).mappings():
        lines_uk = [f"Нове звернення в місці, за яким ви стежите: «{sub['place_uk']}».", "",
                    *_report_lines(facts, base, "uk")]
        lines_en = [f"A new report in a place you follow: “{sub['place_en']}”.", "",
                    *_report_lines(facts, base, "en")]
        enqueue_alert_mail(conn, sub, subject, lines_uk, lines_en, key=f"area-alert-{sub['id']}-report-{report_id}",
                           base=base, report_id=report_id)


# --- the daily digest --------------------------------------------------------------------------------

def _digest_key(subscription_id: int, day: dt.date) -> str:
    return f"area-digest-{subscription_id}-{day.isoformat()}"


def queue_digests(conn: sa.Connection, now: dt.datetime, public_url: str | None = None, *,
                  hour: int | None = None) -> int:
    """Queue one mail per subscription and Kyiv day gathering its alerts not yet told that came before
    that day's digest hour (``HROMADA_DIGEST_HOUR``, as the units' digest); the number of mails. Safe to
    run as often as wanted (the worker runs it every minute): a subscription's digest of a day is queued
    once (outbox key per subscription and day); what comes later waits for the next day's. A report
    hidden since is left out. Runs in the caller's transaction."""
    day, cutoff = digest_day(now, hour)
    due = conn.execute(sa.text("""
        SELECT DISTINCT s.id FROM area_subscription s
        JOIN area_alert al ON al.subscription_id = s.id AND al.digested_at IS NULL AND al.created_at < :cutoff
        JOIN mail_address a ON a.email = s.email AND a.confirmed_at IS NOT NULL AND a.stopped_at IS NULL
        WHERE s.unsubscribed_at IS NULL ORDER BY s.id"""), {"cutoff": cutoff}).scalars().all()
    mailed, base = 0, None
    for subscription_id in due:
        # Two runs at once (two workers): the second waits here, then sees the first one's mail.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:cls, :id)"), {"cls": DIGEST_LOCK, "id": subscription_id})
        already = conn.execute(sa.text("SELECT 1 FROM outbox WHERE message_id = :mid"),
                               {"mid": f"<{_digest_key(subscription_id, day)}@{outbox.MAIL_DOMAIN}>"}).first()
        if already is not None:
            continue
        alerts = conn.execute(sa.text("""
            SELECT al.id, al.report_id FROM area_alert al
            WHERE al.subscription_id = :s AND al.digested_at IS NULL AND al.created_at < :cutoff
            ORDER BY al.created_at, al.id"""), {"s": subscription_id, "cutoff": cutoff}).all()
        if not alerts:
            continue
        conn.execute(sa.text("UPDATE area_alert SET digested_at = now() WHERE id = ANY(:ids)"),
                     {"ids": [a.id for a in alerts]})
        reports = [f for f in report_facts(conn, [a.report_id for a in alerts if a.report_id]) if f["is_public"]]
        if not reports:
            continue
        base = base or base_url(public_url)
        sub = conn.execute(sa.text(SUBSCRIPTION + " WHERE s.id = :id"), {"id": subscription_id}).mappings().one()
        count, when = len(reports), day.strftime("%d.%m.%Y")
        subject = (f"Нові звернення за {when} — «{sub['place_uk']}»: {count} / "
                   f"New reports on {day.isoformat()} — “{sub['place_en']}”: {count}")
        lines = {"uk": [f"Нові звернення в місці, за яким ви стежите («{sub['place_uk']}»): {count}."],
                 "en": [f"New reports in a place you follow (“{sub['place_en']}”): {count}."]}
        for lang in ("uk", "en"):
            for number, facts in enumerate(reports, start=1):
                lines[lang] += ["", f"{number}. " + _report_lines(facts, base, lang, short=True)[0],
                                *_report_lines(facts, base, lang, short=True)[1:]]
        enqueue_alert_mail(conn, sub, subject, lines["uk"], lines["en"], key=_digest_key(subscription_id, day),
                           base=base)
        mailed += 1
    return mailed


def digest_job(public_url: str | None = None):
    """For the outbox worker's loop (gis.outbox.each, as layers.unit_mail.digest_job): queue what
    digests of area alerts are due."""
    def job(engine: sa.Engine) -> None:
        with engine.begin() as conn:
            mailed = queue_digests(conn, dt.datetime.now(dt.timezone.utc), public_url)
        if mailed:
            log.info("queued the daily digest of %s area subscription(s)", mailed)
    return job


# --- what the feeds show -----------------------------------------------------------------------------

def feed_reports(conn: sa.Connection, hromada_id: int, *, area_wkb: bytes | None = None,
                 subscription_id: int | None = None, categories: list[str] | None = None,
                 limit: int = FEED_LIMIT) -> list[dict]:
    """The latest changed public reports of the hromada (in an area, or a subscription's area; of some
    categories), last change first, with their public facts only."""
    ids = conn.execute(sa.text("""
        SELECT r.id FROM report r JOIN category c ON c.id = r.category_id
        WHERE r.hromada_id = :h AND r.is_public
          AND (CAST(:area AS bytea) IS NULL OR ST_Covers(ST_SetSRID(ST_GeomFromWKB(CAST(:area AS bytea)), 4326),
                                                         r.location))
          AND (CAST(:sub AS integer) IS NULL
               OR ST_Covers((SELECT area FROM area_subscription WHERE id = :sub), r.location))
          AND (CAST(:cats AS text[]) IS NULL OR c.code = ANY(CAST(:cats AS text[])))
        ORDER BY r.updated_at DESC, r.id DESC LIMIT :limit"""),
        {"h": hromada_id, "area": area_wkb, "sub": subscription_id, "cats": categories, "limit": limit}).scalars()
    return report_facts(conn, list(ids))


def village_area(conn: sa.Connection, hromada_id: int, village: str) -> dict:
    """A village of the hromada by its id or its own KATOTTG code, with the area it covers (its cell);
    NotFound otherwise."""
    village = (village or "").strip()
    by_id = village.isascii() and village.isdigit() and len(village) < 10
    row = conn.execute(sa.text("""
        SELECT id, katottg, name_uk, COALESCE(name_en, name_uk) AS name_en FROM settlement
        WHERE hromada_id = :h AND (id = :id OR katottg = :code) ORDER BY id LIMIT 1"""),
        {"h": hromada_id, "id": int(village) if by_id else -1, "code": None if by_id else village.upper()}).first()
    geom = villages_area(conn, hromada_id, [row.id]) if row is not None else None
    if row is None or geom is None:
        raise NotFound("Такого населеного пункту в громаді немає", "No such village in the hromada")
    return {"id": row.id, "katottg": row.katottg, "name_uk": row.name_uk, "name_en": row.name_en,
            "wkb": shapely.to_wkb(geom)}
