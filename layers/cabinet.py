"""The resident's cabinet (кабінет мешканця, #18): sign-in by a mailed one-time link, what the resident
gave and follows, how they want to be told, and erasing them.

- No password: a link mailed to the address (through the outbox), single use, valid LINK_LIFETIME,
  at most LINKS_PER_HOUR per address (and one per LINK_EVERY), only its hash stored. Following it
  proves the address, so it also confirms it for report mail (layers.followers' double opt-in).
- "My reports" are the reports filed with that address, before or after signing in; what the
  resident follows are their report subscriptions (and, from layers.area_alerts, their areas).
- Erasing an address removes the person's name, e-mail and phone from everything that holds them —
  reports (which stay, anonymous, with an "erased" event in their history), follows, venue proposals,
  plan comments, mail already queued or sent, the reporter's Telegram chat — and keeps no copy of what
  was removed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gis import outbox
from gis.errors import InvalidInput, NotFound
from gis.models import mail_address, report_subscriber, resident_link, resident_setting
from layers import followers

LINK_LIFETIME = dt.timedelta(minutes=30)
LINK_EVERY = dt.timedelta(minutes=1)
LINKS_PER_HOUR = 5
REPORT_UPDATES = ("immediate", "daily")
ERASED = "erased"  # what stands where an address was, in mail kept for the record


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_link(conn: sa.Connection, email: str, *, public_url: str) -> bool:
    """Mail a sign-in link to ``email``; False when the address had one too recently (the caller says
    the same either way, so the answer does not tell whether anyone uses the address)."""
    email = followers.normalised(email)
    recent = conn.execute(sa.text("""
        SELECT count(*) AS hour, count(*) FILTER (WHERE created_at > now() - :every) AS minute
        FROM resident_link WHERE email = :e AND created_at > now() - interval '1 hour'"""),
        {"e": email, "every": LINK_EVERY}).one()
    if recent.minute or recent.hour >= LINKS_PER_HOUR:
        return False
    token = secrets.token_urlsafe(32)
    link_id = conn.execute(resident_link.insert().values(
        email=email, token_hash=_hash(token), expires_at=sa.func.now() + LINK_LIFETIME)
        .returning(resident_link.c.id)).scalar_one()
    link = f"{public_url.rstrip('/')}/cabinet/sign-in/{token}"
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    body = "\n".join([
        "Щоб увійти до кабінету мешканця, відкрийте посилання (діє "
        f"{minutes} хв, лише один раз): {link}",
        "Якщо ви не просили входу, нічого не робіть.",
        "", "—", "",
        f"To sign in to your resident's cabinet, open this link (valid {minutes} minutes, once): {link}",
        "If you did not ask to sign in, do nothing.",
        "", followers.SIGNATURE])
    outbox.enqueue(conn, to_addr=email, subject="Вхід до кабінету / Sign in to your cabinet", body=body,
                   key=f"cabinet-link-{link_id}")
    return True


def check_link(conn: sa.Connection, token: str) -> str:
    """The address of a sign-in link that can still be used (raises NotFound otherwise)."""
    row = conn.execute(sa.select(resident_link.c.email).where(
        resident_link.c.token_hash == _hash(token), resident_link.c.used_at.is_(None),
        resident_link.c.expires_at > sa.func.now())).first()
    if row is None:
        raise NotFound("Посилання для входу вже використане або застаріле: попросіть нове",
                       "This sign-in link was used already or has expired: ask for a new one")
    return row.email


def use_link(conn: sa.Connection, token: str) -> str:
    """Spend a sign-in link: its address, now confirmed for report mail. Single use, even when two
    requests race (the row is claimed by one UPDATE)."""
    email = conn.execute(resident_link.update().where(
        resident_link.c.token_hash == _hash(token), resident_link.c.used_at.is_(None),
        resident_link.c.expires_at > sa.func.now()).values(used_at=sa.func.now())
        .returning(resident_link.c.email)).scalar()
    if email is None:
        check_link(conn, token)  # raises with the reason
    followers.address(conn, email)  # recorded on first sight
    conn.execute(mail_address.update().where(mail_address.c.email == email, mail_address.c.confirmed_at.is_(None))
                 .values(confirmed_at=sa.func.now()))
    return email


# --- what the cabinet shows ----------------------------------------------------------------------

def my_reports(conn: sa.Connection, email: str) -> list[dict]:
    """The reports filed with this address, newest first, with their category, village and state."""
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT r.code, r.status, r.created_at, r.updated_at, r.description, r.is_public,
               c.name_uk AS category_uk, c.name_en AS category_en, v.name_uk AS village_uk, v.name_en AS village_en
        FROM report r JOIN category c ON c.id = r.category_id
        LEFT JOIN LATERAL settlement_at(r.hromada_id, r.location) v ON true
        WHERE lower(r.reporter_email) = :e ORDER BY r.created_at DESC, r.id DESC"""),
        {"e": followers.normalised(email)}).mappings()]


def my_follows(conn: sa.Connection, email: str) -> list[dict]:
    """The reports this address follows (not its own), with the id to stop following."""
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT s.id, r.code, r.status, c.name_uk AS category_uk, c.name_en AS category_en
        FROM report_subscriber s JOIN report r ON r.id = s.report_id JOIN category c ON c.id = r.category_id
        WHERE lower(s.email) = :e AND NOT s.is_reporter AND s.unsubscribed_at IS NULL AND r.is_public
        ORDER BY s.created_at DESC"""), {"e": followers.normalised(email)}).mappings()]


def stop_following(conn: sa.Connection, email: str, subscriber_id: int) -> None:
    """Stop one follow of this address (another address's follow is not found)."""
    mine = sa.func.lower(report_subscriber.c.email) == followers.normalised(email)
    done = conn.execute(report_subscriber.update().where(report_subscriber.c.id == subscriber_id, mine)
                        .values(unsubscribed_at=sa.func.now())).rowcount
    if not done:
        raise NotFound("Такої підписки немає", "There is no such subscription")


def my_proposals(conn: sa.Connection, email: str) -> list[dict]:
    """The venue facts this address proposed, and what became of them."""
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT p.id, p.status, p.created_at, v.name AS venue_name, p.venue_id
        FROM venue_proposal p LEFT JOIN venue v ON v.id = p.venue_id
        WHERE lower(p.proposer_email) = :e ORDER BY p.created_at DESC"""),
        {"e": followers.normalised(email)}).mappings()]


def my_comments(conn: sa.Connection, email: str) -> list[dict]:
    """The plan comments this address wrote, and whether they are shown."""
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT c.id, c.status, c.created_at, c.text, c.plan_id, p.title AS plan_title
        FROM plan_comment c JOIN plan p ON p.id = c.plan_id
        WHERE lower(c.author_email) = :e ORDER BY c.created_at DESC"""),
        {"e": followers.normalised(email)}).mappings()]


def report_updates(conn: sa.Connection, email: str) -> str:
    """How the address wants news of the reports it follows: 'immediate' (the default) or 'daily'."""
    return conn.execute(sa.select(resident_setting.c.report_updates).where(
        resident_setting.c.email == followers.normalised(email))).scalar() or "immediate"


def set_report_updates(conn: sa.Connection, email: str, how: str) -> None:
    if how not in REPORT_UPDATES:
        raise InvalidInput(f"Невідомий спосіб сповіщення {how!r}: immediate або daily",
                           f"Unknown way of being told {how!r}: immediate or daily")
    conn.execute(pg_insert(resident_setting).values(email=followers.normalised(email), report_updates=how)
                 .on_conflict_do_update(index_elements=["email"],
                                        set_={"report_updates": how, "updated_at": sa.func.now()}))


# --- "delete my account" ---------------------------------------------------------------------------

def erase(conn: sa.Connection, email: str) -> dict[str, int]:
    """Remove the person behind ``email`` from everything that holds their name, e-mail or phone.

    Their reports stay, anonymous: the reporter's fields are emptied, ``reporter_erased_at`` set and an
    ``erased`` event added to each report's history (that it happened, not what was there). Follows,
    digests, settings, sign-in links and the address's mail state are deleted; venue proposals and plan
    comments lose their author; mail to the address — queued (not sent any more) or sent — keeps no
    address or text. Returns how many rows of each kind changed."""
    email = followers.normalised(email)
    done = {}
    reports = conn.execute(sa.text("""
        UPDATE report SET reporter_name = NULL, reporter_email = NULL, reporter_phone = NULL,
                          show_name = false, reporter_erased_at = now()
        WHERE lower(reporter_email) = :e RETURNING id"""), {"e": email}).scalars().all()
    if reports:
        conn.execute(sa.text("INSERT INTO report_event (report_id, kind) SELECT unnest(:ids), 'erased'"),
                     {"ids": list(reports)})
        # The reporter's Telegram chat, if they filed there too, is a contact of theirs as well.
        conn.execute(sa.text("DELETE FROM report_chat WHERE report_id = ANY(:ids) AND is_reporter"),
                     {"ids": list(reports)})
    done["reports"] = len(reports)
    done["follows"] = conn.execute(report_subscriber.delete().where(
        sa.func.lower(report_subscriber.c.email) == email)).rowcount
    done["venue_proposals"] = conn.execute(sa.text("""
        UPDATE venue_proposal SET proposer_name = NULL, proposer_email = NULL
        WHERE lower(proposer_email) = :e"""), {"e": email}).rowcount
    done["plan_comments"] = conn.execute(sa.text("""
        UPDATE plan_comment SET author_name = NULL, author_email = NULL WHERE lower(author_email) = :e"""),
        {"e": email}).rowcount
    # Mail: what is not sent yet is not sent at all; nothing about the person is kept in either.
    done["mail"] = conn.execute(sa.text("""
        UPDATE outbox SET to_addr = :erased, subject = :erased, body = :erased, headers = NULL,
                          status = CASE WHEN status = 'sent' THEN 'sent' ELSE 'failed' END,
                          last_error = CASE WHEN status = 'sent' THEN last_error ELSE :erased END
        WHERE lower(to_addr) = :e"""), {"e": email, "erased": ERASED}).rowcount
    conn.execute(resident_link.delete().where(resident_link.c.email == email))
    conn.execute(resident_setting.delete().where(resident_setting.c.email == email))
    conn.execute(mail_address.delete().where(mail_address.c.email == email))
    done["areas"] = _erase_area_subscriptions(conn, email)
    return done


def _erase_area_subscriptions(conn: sa.Connection, email: str) -> int:
    """The address's alerts for areas go with it (their pending alerts cascade)."""
    return conn.execute(sa.text("DELETE FROM area_subscription WHERE email = :e"), {"e": email}).rowcount
