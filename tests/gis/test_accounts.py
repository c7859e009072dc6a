"""Accounts (issue #14): invitations received over real SMTP exactly once, one-time links that set a
password and cannot be used twice or late, password reset, deactivation that stops sessions and
API tokens at once, roles revoked per hromada, the operator's switches, and the CLI."""
import datetime as dt
import hashlib
import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from gis import accounts, outbox
from gis.audit import By, entries
from gis.errors import Conflict, InvalidInput, NotFound
from gis.user_tokens import create_token, verify_token
from gis.users import authenticate, create_user, load_user
from tests.helpers import STRYZHAVKA, VINNYTSIA_CITY, load_neighbours, scalar

PASSWORD = "correct horse battery"
OPERATOR = By("operator@example.org")
PUBLIC = "https://gis.example.org"
LINK = re.compile(r"https://gis\.example\.org/account/(set-password|reset)/([A-Za-z0-9_-]+)")


@pytest.fixture
def places(clean_db):
    """Two real hromadas, each with a unit that has accounts; Stryzhavka also has an e-mail-only one."""
    load_neighbours(clean_db)
    with clean_db.begin() as conn:
        ids = dict(conn.execute(sa.text("SELECT katottg, id FROM hromada")).all())
        units = {}
        for code, katottg, has_accounts in (("roads", STRYZHAVKA, True), ("oblast_roads", STRYZHAVKA, False),
                                            ("city_roads", VINNYTSIA_CITY, True)):
            units[code] = conn.execute(sa.text(
                "INSERT INTO unit (hromada_id, code, name_uk, kind, has_accounts) VALUES (:h, :c, :c, :k, :a) "
                "RETURNING id"), {"h": ids[katottg], "c": code, "a": has_accounts,
                                  "k": "department" if has_accounts else "outside_body"}).scalar()
    return {"stryzhavka": ids[STRYZHAVKA], "city": ids[VINNYTSIA_CITY], **units}


def in_tx(engine, fn, *args, **kwargs):
    with engine.begin() as conn:
        return fn(conn, *args, **kwargs)


def invite(engine, email, hromada_id, roles=("admin",), **kw):
    return in_tx(engine, accounts.invite_with_link, email=email, roles=list(roles), hromada_id=hromada_id,
                 by=kw.pop("by", OPERATOR), public_url=PUBLIC, **kw)


def token_of(link: str) -> str:
    return LINK.search(link).group(2)


def counts(engine) -> tuple:
    return tuple(scalar(engine, f"SELECT count(*) FROM {t}") for t in ("app_user", "role_grant", "account_token",
                                                                        "outbox", "audit_log"))


def sign_in(engine, email, password=PASSWORD):
    with engine.connect() as conn:
        return authenticate(conn, email, password)


def test_invitation_arrives_once_and_its_link_sets_the_password(clean_db, places, smtp_server):
    settings, store = smtp_server
    invitation = invite(clean_db, "Admin@Example.org", places["stryzhavka"], full_name="Олена Петренко")
    assert invitation.created and sign_in(clean_db, "admin@example.org") is None  # no password yet

    assert outbox.deliver_due(clean_db, settings) == 1
    assert outbox.deliver_due(clean_db, settings) == 0
    [mail] = store.to("Admin@Example.org")
    body = mail["body"]
    assert "Запрошення" in mail["subject"] and "Invitation" in mail["subject"]
    assert "Стрижавська" in body and "адміністратор громади" in body and "hromada administrator" in body
    assert body.index("Вітаємо") < body.index("-- English --") < body.index("Hello")  # Ukrainian first
    kind, token = LINK.search(body).groups()
    assert kind == "set-password" and f"{PUBLIC}/account/set-password/{token}" == invitation.link
    # Only the token's SHA-256 is kept.
    stored = scalar(clean_db, "SELECT token_hash FROM account_token")
    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in stored
    lifetime = scalar(clean_db, "SELECT expires_at - created_at FROM account_token")
    assert lifetime == dt.timedelta(days=7)

    # Opening the link uses nothing up; setting the password does, once.
    assert in_tx(clean_db, accounts.check_link, token, "invite").email == "Admin@Example.org"
    with pytest.raises(NotFound):
        in_tx(clean_db, accounts.check_link, token, "reset")  # an invitation is not a reset link
    user_id = in_tx(clean_db, accounts.set_password_with_token, token, PASSWORD, purpose="invite")
    user = sign_in(clean_db, "admin@example.org")
    assert user is not None and user.id == user_id and user.roles_in(places["stryzhavka"]) == {"admin"}
    assert user.full_name == "Олена Петренко"
    with pytest.raises(accounts.LinkGone) as gone:
        in_tx(clean_db, accounts.set_password_with_token, token, "another password 123")
    assert gone.value.http_status == 410 and "used" in gone.value.en
    assert sign_in(clean_db, "admin@example.org") is not None  # the second try changed nothing
    actions = [e["action"] for e in in_tx(clean_db, entries, places["stryzhavka"])]
    assert actions == ["account.invitation_accepted", "account.invite"]
    assert outbox.deliver_due(clean_db, settings) == 0 and len(store.messages) == 1


def test_bad_links_and_bad_passwords_change_nothing(clean_db, places):
    token = token_of(invite(clean_db, "a@example.org", places["stryzhavka"]).link)
    before = counts(clean_db)
    with pytest.raises(NotFound) as unknown:
        in_tx(clean_db, accounts.set_password_with_token, "no-such-token", PASSWORD)
    assert unknown.value.http_status == 404 and unknown.value.uk and unknown.value.en
    with pytest.raises(InvalidInput):
        in_tx(clean_db, accounts.set_password_with_token, token, "short")
    assert counts(clean_db) == before and scalar(clean_db, "SELECT used_at FROM account_token") is None
    assert scalar(clean_db, "SELECT password_hash FROM app_user") is None

    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE account_token SET expires_at = now() - interval '1 second'"))
    with pytest.raises(accounts.LinkGone) as expired:
        in_tx(clean_db, accounts.set_password_with_token, token, PASSWORD)
    assert "expired" in expired.value.en and "сплив" in expired.value.uk
    assert scalar(clean_db, "SELECT password_hash FROM app_user") is None
    assert scalar(clean_db, "SELECT used_at FROM account_token") is None


def test_invite_lifetime_follows_the_setting(clean_db, places, monkeypatch):
    monkeypatch.setenv("HROMADA_INVITE_DAYS", "3")
    invite(clean_db, "a@example.org", places["stryzhavka"])
    assert scalar(clean_db, "SELECT expires_at - created_at FROM account_token") == dt.timedelta(days=3)
    monkeypatch.setenv("HROMADA_INVITE_DAYS", "tomorrow")  # nonsense: the default, not a crash
    assert accounts.invite_lifetime() == dt.timedelta(days=7)


def test_inviting_again_and_inviting_an_existing_account(clean_db, places):
    first = token_of(invite(clean_db, "a@example.org", places["stryzhavka"]).link)
    again = invite(clean_db, "A@example.org", places["stryzhavka"], roles=("unit_staff",), unit_ids=[places["roads"]])
    assert not again.created
    with pytest.raises(accounts.LinkGone):  # only the newest link works
        in_tx(clean_db, accounts.check_link, first)
    in_tx(clean_db, accounts.set_password_with_token, token_of(again.link), PASSWORD)

    # Someone who already signs in gets the roles in another hromada and a note, not a link.
    other = invite(clean_db, "a@example.org", places["city"], roles=("planner",))
    assert other.link is None
    user = sign_in(clean_db, "a@example.org")
    assert user.roles_in(places["stryzhavka"]) == {"admin", "unit_staff"}
    assert user.roles_in(places["city"]) == {"planner"} and user.unit_ids == {places["roads"]}
    note = scalar(clean_db, "SELECT body FROM outbox ORDER BY id DESC LIMIT 1")
    assert "/staff/login" in note and "/account/" not in note and "планувальник" in note


@pytest.mark.parametrize("kwargs, message", [
    ({"roles": ["operator"]}, "roles"),
    ({"roles": []}, "roles"),
    ({"email": "not an address"}, "e-mail"),
    ({"unit_ids": "city_roads"}, "units of this hromada"),
    ({"unit_ids": "oblast_roads"}, "by e-mail only"),
])
def test_a_bad_invitation_is_refused_and_changes_nothing(clean_db, places, kwargs, message):
    if "unit_ids" in kwargs:
        kwargs["unit_ids"] = [places[kwargs["unit_ids"]]]
    args = {"email": "a@example.org", "roles": ["unit_staff"], **kwargs}
    before = counts(clean_db)
    with pytest.raises(InvalidInput) as refused:
        in_tx(clean_db, accounts.invite, hromada_id=places["stryzhavka"], by=OPERATOR, public_url=PUBLIC, **args)
    assert message in refused.value.en and refused.value.uk != refused.value.en
    assert counts(clean_db) == before


def test_password_reset(clean_db, places, smtp_server):
    settings, store = smtp_server
    in_tx(clean_db, create_user, "staff@example.org", PASSWORD, ["unit_staff"], unit_ids=[places["roads"]])
    in_tx(clean_db, accounts.request_reset, "nobody@example.org", PUBLIC)
    in_tx(clean_db, accounts.request_reset, "not an address", PUBLIC)
    assert scalar(clean_db, "SELECT count(*) FROM outbox") == 0  # silently nothing: no hint either way

    in_tx(clean_db, accounts.request_reset, " STAFF@example.org ", PUBLIC)
    in_tx(clean_db, accounts.request_reset, "staff@example.org", PUBLIC)  # again at once: no second mail
    assert outbox.deliver_due(clean_db, settings) == 1
    [mail] = store.to("staff@example.org")
    kind, token = LINK.search(mail["body"]).groups()
    assert kind == "reset" and "2" in mail["body"] and "-- English --" in mail["body"]
    assert scalar(clean_db, "SELECT expires_at - created_at FROM account_token") == dt.timedelta(hours=2)
    with pytest.raises(NotFound):
        in_tx(clean_db, accounts.set_password_with_token, token, "new password 12345", purpose="invite")
    in_tx(clean_db, accounts.set_password_with_token, token, "new password 12345", purpose="reset")
    assert sign_in(clean_db, "staff@example.org") is None
    assert sign_in(clean_db, "staff@example.org", "new password 12345") is not None
    with pytest.raises(accounts.LinkGone):
        in_tx(clean_db, accounts.set_password_with_token, token, "third password 12345")


def test_deactivation_stops_tokens_and_sign_in_at_once(clean_db, places):
    user_id = in_tx(clean_db, create_user, "staff@example.org", PASSWORD, ["unit_staff"], unit_ids=[places["roads"]])
    admin_id = in_tx(clean_db, create_user, "admin@example.org", PASSWORD, ["admin"], hromada_id=places["stryzhavka"])
    admin = By("admin@example.org", admin_id)
    _, api_token = in_tx(clean_db, create_token, "staff@example.org", "QGIS")
    assert in_tx(clean_db, verify_token, api_token).id == user_id
    # A pending reset link must not outlive the account either.
    in_tx(clean_db, accounts.request_reset, "staff@example.org", PUBLIC)

    in_tx(clean_db, accounts.deactivate, user_id, places["stryzhavka"], admin)
    assert in_tx(clean_db, load_user, user_id) is None  # what every request's session check uses
    assert in_tx(clean_db, verify_token, api_token) is None
    assert sign_in(clean_db, "staff@example.org") is None
    assert scalar(clean_db, "SELECT count(*) FROM account_token WHERE used_at IS NULL") == 0
    in_tx(clean_db, accounts.deactivate, user_id, places["stryzhavka"], admin)  # again: no harm
    staff = {s["email"]: s for s in in_tx(clean_db, accounts.list_staff, places["stryzhavka"])}
    assert staff["staff@example.org"]["active"] is False and staff["staff@example.org"]["roles"] == ["unit_staff"]

    in_tx(clean_db, accounts.reactivate, user_id, places["stryzhavka"], admin)
    assert sign_in(clean_db, "staff@example.org") is not None
    assert in_tx(clean_db, verify_token, api_token) is None  # a revoked token stays revoked
    actions = [e["action"] for e in in_tx(clean_db, entries, places["stryzhavka"])]
    assert actions[:2] == ["account.reactivate", "account.deactivate"]

    with pytest.raises(Conflict):  # not oneself
        in_tx(clean_db, accounts.deactivate, admin_id, places["stryzhavka"], admin)
    with pytest.raises(NotFound):  # the city's administrator does not see Stryzhavka's staff
        in_tx(clean_db, accounts.deactivate, user_id, places["city"], By("x@example.org", None))
    assert sign_in(clean_db, "staff@example.org") is not None


def test_a_hromada_reaches_only_its_own_roles(clean_db, places):
    user_id = in_tx(clean_db, create_user, "both@example.org", PASSWORD, ["planner"], hromada_id=places["stryzhavka"])
    with clean_db.begin() as conn:
        accounts.grant_roles(conn, user_id, ["unit_staff"], unit_ids=[places["city_roads"]])
        accounts.grant_roles(conn, user_id, ["unit_staff"], unit_ids=[places["roads"]])
    admin = By("admin@example.org", None)
    before = counts(clean_db)
    with pytest.raises(Conflict) as both:  # switching it off would lock the city out too
        in_tx(clean_db, accounts.deactivate, user_id, places["stryzhavka"], admin)
    assert "other hromadas" in both.value.en and counts(clean_db) == before

    assert in_tx(clean_db, accounts.revoke_roles, user_id, places["stryzhavka"], admin) == ["planner", "unit_staff"]
    user = sign_in(clean_db, "both@example.org")
    assert user.roles_in(places["stryzhavka"]) == frozenset() and user.roles_in(places["city"]) == {"unit_staff"}
    assert user.unit_ids == {places["city_roads"]}
    with pytest.raises(NotFound):
        in_tx(clean_db, accounts.revoke_roles, user_id, places["stryzhavka"], admin)
    # Now it works for the city only, and the city's administrator may switch it off.
    in_tx(clean_db, accounts.deactivate, user_id, places["city"], admin)
    assert sign_in(clean_db, "both@example.org") is None
    with pytest.raises(Conflict):  # a switched-off account is not silently invited back
        invite(clean_db, "both@example.org", places["stryzhavka"])


def test_list_staff(clean_db, places):
    invite(clean_db, "new@example.org", places["stryzhavka"], roles=("unit_staff", "planner"),
           unit_ids=[places["roads"]])
    in_tx(clean_db, create_user, "old@example.org", PASSWORD, ["admin"], hromada_id=places["stryzhavka"])
    in_tx(clean_db, create_user, "city@example.org", PASSWORD, ["admin"], hromada_id=places["city"])
    staff = in_tx(clean_db, accounts.list_staff, places["stryzhavka"])
    assert [s["email"] for s in staff] == ["new@example.org", "old@example.org"]
    new, old = staff
    assert new["roles"] == ["planner", "unit_staff"] and new["pending"] and new["invite_expires_at"] is not None
    assert [u["code"] for u in new["units"]] == ["roads"] and new["active"]
    assert old["roles"] == ["admin"] and not old["pending"] and old["units"] == []


def test_operator_enables_a_hromada_and_appoints_its_administrator(clean_db, places):
    assert scalar(clean_db, "SELECT count(*) FROM hromada_setup") == 0
    assert in_tx(clean_db, accounts.enable_hromada, STRYZHAVKA, OPERATOR) == places["stryzhavka"]
    first = scalar(clean_db, "SELECT enabled_at FROM hromada_setup")
    in_tx(clean_db, accounts.enable_hromada, STRYZHAVKA, OPERATOR)  # already on: unchanged
    assert scalar(clean_db, "SELECT enabled_at FROM hromada_setup") == first
    invitation = in_tx(clean_db, accounts.appoint_admin, STRYZHAVKA, "head@example.org", OPERATOR, PUBLIC)
    assert invitation.link and scalar(clean_db, "SELECT role FROM role_grant") == "admin"
    in_tx(clean_db, accounts.disable_hromada, STRYZHAVKA, OPERATOR)
    assert scalar(clean_db, "SELECT enabled_at FROM hromada_setup") is None
    actions = [e["action"] for e in in_tx(clean_db, entries, places["stryzhavka"])]
    assert actions == ["hromada.disable", "account.invite", "hromada.enable"]
    with pytest.raises(NotFound):
        in_tx(clean_db, accounts.enable_hromada, "UA99999999999999999", OPERATOR)

    rows, total = in_tx(clean_db, accounts.hromada_page, "стриж")
    assert total == 1 and rows[0]["katottg"] == STRYZHAVKA and rows[0]["admins"] == ["head@example.org"]
    assert in_tx(clean_db, accounts.hromada_page, "ua0502")[1] == 2
    assert in_tx(clean_db, accounts.hromada_page, "%")[1] == 0  # a wildcard is a character, not "anything"
    page_one, total = in_tx(clean_db, accounts.hromada_page, "", per_page=1)
    page_two, _ = in_tx(clean_db, accounts.hromada_page, "", page=2, per_page=1)
    assert total == 2 and page_one[0]["id"] != page_two[0]["id"]


def test_cli_first_operator_invite_and_deactivate(clean_db, places, database_url, monkeypatch):
    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HROMADA_PUBLIC_URL", PUBLIC)
    runner = CliRunner()
    added = runner.invoke(main, ["users", "add", "root@example.org", "--role", "operator"],
                          env={"HROMADA_NEW_PASSWORD": PASSWORD})
    assert added.exit_code == 0, added.output
    operator = sign_in(clean_db, "root@example.org")
    assert operator.is_operator and operator.grants == {}

    invited = runner.invoke(main, ["users", "invite", "head@example.org", "--hromada", STRYZHAVKA, "--role", "admin"])
    assert invited.exit_code == 0, invited.output
    token = token_of(invited.output)
    in_tx(clean_db, accounts.set_password_with_token, token, PASSWORD)
    assert sign_in(clean_db, "head@example.org").roles_in(places["stryzhavka"]) == {"admin"}
    assert scalar(clean_db, "SELECT count(*) FROM outbox WHERE to_addr = 'head@example.org'") == 1

    staff = runner.invoke(main, ["users", "add", "s@example.org", "--role", "unit_staff", "--hromada", STRYZHAVKA,
                                 "--unit", "roads"], env={"HROMADA_NEW_PASSWORD": PASSWORD})
    assert staff.exit_code == 0, staff.output
    assert sign_in(clean_db, "s@example.org").unit_ids == {places["roads"]}

    off = runner.invoke(main, ["users", "deactivate", "head@example.org"])
    assert off.exit_code == 0, off.output
    assert sign_in(clean_db, "head@example.org") is None
    missing = runner.invoke(main, ["users", "deactivate", "nobody@example.org"])
    assert missing.exit_code == 1 and "There is no account" in missing.output
    wrong = runner.invoke(main, ["users", "invite", "x@example.org", "--hromada", "UA99999999999999999",
                                 "--role", "admin"])
    assert wrong.exit_code == 1 and "Hromada UA99999999999999999 not found" in wrong.output
