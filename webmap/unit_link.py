"""A unit reached by e-mail only acts on its report through the signed link in its mail (issue #14).

``/unit-link/<token>`` shows the report and four forms — acknowledge, add a public note, mark
resolved (with a public note), "not ours" — each a POST with a CSRF token. The token (layers.unit_mail)
names one report and one unit, expires, and acts only while the report is with that unit; the work is
done by layers.unit_link_actions.act_by_link through the staff workflow, so the reporter is told exactly as
when staff act. The URL carries a secret: no referrer is sent from these pages and nothing is cached.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from gis.errors import HromadaError, NotFound
from layers import reports, unit_link_actions, unit_mail
from webmap.database import connection, engine
from webmap.forms import Bilingual
from webmap.i18n import current_lang
from webmap.idempotency import public_url

bp = Blueprint("unit_link", __name__, url_prefix="/unit-link")

MAX_NOTE = 2000
TEXT = {
    "title": {"uk": "Звернення", "en": "Report"},
    "intro": {"uk": "Звернення передано підрозділу «{unit}». Тут можна діяти без облікового запису; "
                    "кожну дію записано в історії звернення.",
              "en": "This report is with “{unit}”. You can act on it here without an account; "
                    "every action is recorded in the report's history."},
    "place": {"uk": "Місце", "en": "Place"},
    "map": {"uk": "Мапа (OpenStreetMap)", "en": "Map (OpenStreetMap)"},
    "why": {"uk": "Чому вам", "en": "Why your unit"},
    "kyiv_time": {"uk": "за київським часом", "en": "Kyiv time"},
    "photos": {"uk": "Фото", "en": "Photos"},
    "actions": {"uk": "Що зробити", "en": "What to do"},
    "acknowledge": {"uk": "Прийняти в роботу", "en": "Acknowledge"},
    "acknowledge_hint": {"uk": "Заявник отримає лист, що звернення прийнято.",
                         "en": "The reporter is e-mailed that the report was acknowledged."},
    "note": {"uk": "Коментар для мешканців", "en": "A note for residents"},
    "note_hint": {"uk": "Його видно на публічній сторінці звернення.", "en": "It shows on the report's public page."},
    "add_note": {"uk": "Додати коментар", "en": "Add the note"},
    "resolution": {"uk": "Що зроблено (коментар для мешканців)", "en": "What was done (a note for residents)"},
    "resolve": {"uk": "Позначити вирішеним", "en": "Mark resolved"},
    "resolve_hint": {"uk": "Заявник отримає лист із цим коментарем.", "en": "The reporter is e-mailed this note."},
    "reason": {"uk": "Чому звернення не ваше", "en": "Why the report is not yours"},
    "not_ours": {"uk": "Не наше", "en": "Not ours"},
    "not_ours_hint": {"uk": "Звернення повернеться громаді; причину побачать її працівники.",
                      "en": "The report goes back to the hromada; its staff see the reason."},
    "closed": {"uk": "Звернення закрите: змінити його стан уже не можна, але можна додати коментар.",
               "en": "The report is closed: its status can no longer change, but you can add a note."},
    "done_acknowledge": {"uk": "Звернення прийнято в роботу.", "en": "The report is acknowledged."},
    "done_note": {"uk": "Коментар додано.", "en": "The note was added."},
    "done_resolve": {"uk": "Звернення позначено вирішеним; заявнику надіслано лист.",
                     "en": "The report is marked resolved; the reporter has been e-mailed."},
    "done_not_ours": {"uk": "Дякуємо: звернення повернуто громаді. Це посилання більше не діє.",
                      "en": "Thank you: the report went back to the hromada. This link no longer works."},
    "done_not_ours_kept": {"uk": "Дякуємо: адміністратори громади побачать вашу відповідь.",
                           "en": "Thank you: the hromada's administrators will see your answer."},
    "form_errors": {"uk": "Форму не надіслано: виправте позначене.", "en": "Not sent: correct what is marked."},
    "link_refused": {"uk": "Посилання не діє", "en": "This link does not work"},
}


def tt(key: str) -> str:
    return TEXT[key][current_lang()]


class AcknowledgeForm(FlaskForm):
    pass


def _text_field(label: str, required_uk: str, required_en: str) -> TextAreaField:
    return TextAreaField(label, filters=[lambda text: text.strip() if isinstance(text, str) else text], validators=[
        DataRequired(Bilingual(required_uk, required_en)),
        Length(max=MAX_NOTE, message=Bilingual(f"до {MAX_NOTE} знаків", f"at most {MAX_NOTE} characters"))])


class NoteForm(FlaskForm):
    note = _text_field("Коментар", "напишіть коментар", "write the note")


class ResolveForm(FlaskForm):
    resolution = _text_field("Що зроблено", "напишіть, що зроблено", "say what was done")


class NotOursForm(FlaskForm):
    reason = _text_field("Причина", "напишіть, чому звернення не ваше", "say why the report is not yours")


# URL name of each action → (layers.unit_mail action, its form, the form's text field)
ACTIONS = {
    "acknowledge": ("acknowledge", AcknowledgeForm, None),
    "note": ("note", NoteForm, "note"),
    "resolve": ("resolve", ResolveForm, "resolution"),
    "not-ours": ("not_ours", NotOursForm, "reason"),
}


DONE = ("acknowledge", "note", "resolve", "not_ours_kept")


@bp.after_request
def _keep_the_token_private(response):
    # The URL is the key: never sent on as a referrer (photos, OSM, the language switch), never cached.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.errorhandler(HromadaError)
def _refused(error: HromadaError):
    """A refused link or action: a page in both languages (the holder may read either), nothing changed."""
    return render_template("unit_link/error.html", error=error, tt=tt), error.http_status


def _max_age() -> float:
    configured = current_app.config.get("UNIT_LINK_MAX_AGE_SECONDS")  # tests set a tiny one
    return float(configured) if configured is not None else unit_mail.link_days() * 86400


def _context(token: str) -> unit_link_actions.LinkContext:
    report_id, unit_id = unit_mail.read_link_token(current_app.config["SECRET_KEY"], token, _max_age())
    return unit_link_actions.link_context(connection(), report_id, unit_id)


def _render(token: str, ctx: unit_link_actions.LinkContext, forms: dict | None = None, done: str | None = None,
            status: int = 200):
    conn = connection()
    event_id = unit_mail.arrival_event(conn, ctx.report_id, ctx.unit.id)
    facts = unit_mail.report_facts(conn, ctx.report_id, event_id)
    forms = {"acknowledge": AcknowledgeForm(formdata=None), "note": NoteForm(formdata=None),
             "resolve": ResolveForm(formdata=None), "not-ours": NotOursForm(formdata=None), **(forms or {})}
    allowed = reports.TRANSITIONS[ctx.status]
    lang = current_lang()
    return render_template(
        "unit_link/page.html", token=token, ctx=ctx, facts=facts, forms=forms, done=done, tt=tt,
        statuses=reports.STATUSES, may_acknowledge="acknowledged" in allowed, may_resolve="resolved" in allowed,
        is_open=reports.STATUSES[ctx.status].is_open, place=unit_mail.place_text(facts, lang),
        map_link=unit_mail.map_link(facts.lat, facts.lon), due=unit_mail.kyiv_time(facts.due_at),
        unit_name=ctx.unit.name_uk if lang == "uk" else ctx.unit.name_en,
        history=[{**e, "at_kyiv": unit_mail.kyiv_time(dt.datetime.fromisoformat(e["at"]))}
                 for e in reports.history(conn, ctx.report_id, staff=False)],
    ), status


@bp.get("/<token>")
def page(token: str):
    done = request.args.get("done")
    return _render(token, _context(token), done=done if done in DONE else None)


@bp.post("/<token>/<action>")
def act(token: str, action: str):
    if action not in ACTIONS:
        raise NotFound("Немає такої дії", "No such action")
    ctx = _context(token)
    name, form_class, field = ACTIONS[action]
    form = form_class()
    if not form.validate():
        return _render(token, ctx, forms={action: form}, status=400)
    text = getattr(form, field).data if field else None
    with engine().begin() as conn:
        # Checked again in the transaction, and by layers.reports under the report's lock: a transfer
        # meanwhile makes it a 403 and changes nothing.
        current = unit_link_actions.link_context(conn, ctx.report_id, ctx.unit.id)
        detail = unit_link_actions.act_by_link(conn, current, name, text, public_url=public_url())
    if name == "not_ours" and detail.get("to_unit"):
        # The report has left the unit: the link's work is done (and it no longer opens the report).
        return render_template("unit_link/done.html", code=ctx.code, message=tt("done_not_ours"), tt=tt)
    return redirect(url_for(".page", token=token, done="not_ours_kept" if name == "not_ours" else name), 303)
