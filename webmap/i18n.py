"""Interface language: Ukrainian by default, English second, any other by adding a catalogue.

Interface texts live in gettext catalogues, one per language, read through Flask-Babel::

    webmap/translations/<lang>/LC_MESSAGES/messages.po

Each message's msgid is its key, the one templates and code ask for (``t('key')``, ``tn('key', n)``), and
its msgstr is the text, in every catalogue, Ukrainian too ("monolingual" catalogues, as Weblate calls
them). The languages offered are the catalogues present: adding one needs no code (README.md,
"Languages"). The catalogues are compiled in memory when the app starts, so a fresh clone or an
installed wheel needs no ``.mo`` files and no build step.

The language of a request: ``?lang=`` (remembered in a cookie), else the cookie, else the best match
of the browser's Accept-Language among the languages offered, else Ukrainian. Numbers, money and dates
are written by Babel in that language's way, times in Kyiv time. Layer titles and field labels come
from the layer declarations (layers.base.label).
"""
from __future__ import annotations

import datetime as dt
import functools
import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import flask_babel
from babel import Locale, dates, numbers
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import g, has_request_context, request
from werkzeug.utils import cached_property

from gis import money

DEFAULT_LANGUAGE = "uk"
TIMEZONE = "Europe/Kyiv"
KYIV = ZoneInfo(TIMEZONE)
COOKIE = "lang"
DOMAIN = "messages"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def catalogue_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _languages() -> tuple[str, ...]:
    """Ukrainian first, then the other catalogues' languages in alphabetical order."""
    found = sorted(p.parent.parent.name for p in TRANSLATIONS.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (DEFAULT_LANGUAGE, *(lang for lang in found if lang != DEFAULT_LANGUAGE))


LANGUAGES = _languages()


@functools.cache
def catalogue(lang: str) -> Catalog:
    """A language's catalogue as Babel reads it (the tests check the catalogues against each other)."""
    with open(catalogue_path(lang), "rb") as po:
        return read_po(po, locale=lang, domain=DOMAIN)


@functools.cache
def _compiled(lang: str) -> Translations:
    mo = io.BytesIO()
    write_mo(mo, catalogue(lang))  # fuzzy and empty entries are left out: they read in Ukrainian
    mo.seek(0)
    compiled = Translations(mo, domain=DOMAIN)
    if lang != DEFAULT_LANGUAGE:
        compiled.add_fallback(_compiled(DEFAULT_LANGUAGE))
    return compiled


def translations(lang: str | None = None) -> Translations:
    """The compiled messages of ``lang`` (the request's language by default)."""
    lang = lang or current_lang()
    return _compiled(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


def has(key: str) -> bool:
    """Whether the catalogues have a message ``key`` (for keys made up from data, like an action's)."""
    return key in catalogue(DEFAULT_LANGUAGE)


def t(key: str, lang: str | None = None, **params) -> str:
    """The text of message ``key``; ``params`` fill in its ``%(name)s`` placeholders."""
    text = translations(lang).gettext(key)
    return text % params if params else text


def tn(key: str, n: int, lang: str | None = None, **params) -> str:
    """The plural message ``key`` in the form for the count ``n``, which fills in its ``%(n)s``."""
    return translations(lang).ngettext(key, key, n) % {"n": n, **params}


def current_lang() -> str:
    if not has_request_context():
        return DEFAULT_LANGUAGE
    if "lang" not in g:
        for asked in (request.args.get("lang"), request.cookies.get(COOKIE)):
            if asked in LANGUAGES:
                g.lang = asked
                break
        else:  # a first visit: the browser's preference
            g.lang = request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)
    return g.lang


def remember_language(response):
    """after_request hook: keep an explicit ?lang= choice in a cookie. A page whose language came from
    the cookie or the browser says so to caches (Vary)."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        if request.cookies.get(COOKIE) != asked:
            response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax")
    elif "lang" in g:
        response.vary.update(("Accept-Language", "Cookie"))
    return response


def language_name(lang: str) -> str:
    """The language's name in itself, for the language switcher: Українська, English, Polski."""
    name = Locale.parse(lang).get_display_name(lang) or lang
    return name[:1].upper() + name[1:]


# --- numbers, money, dates ---------------------------------------------------------------------------
# Babel's CLDR data for the language (format_* below), as Flask-Babel's own Jinja filters
# (|datetimeformat, |decimalformat, …) do with the same locale and time zone; these also work outside
# a request (mail, CLI, layers) when given ``lang``. None is written as a dash.


def _locale(lang: str | None) -> Locale:
    return Locale.parse(lang or current_lang())


def _fixed(pattern: str, digits: int) -> str:
    """A CLDR number pattern with exactly ``digits`` decimals: '#,##0.###' → '#,##0.00'."""
    positive = re.sub(r"\.[0#]+", "", pattern.split(";")[0])
    return re.sub(r"0(?=[^0]*$)", "0." + "0" * digits, positive, count=1) if digits else positive


def format_number(value, digits: int | None = None, lang: str | None = None) -> str:
    """``1234567.891`` → ``1 234 567,891`` (uk; no-break spaces) or ``1,234,567.891`` (en);
    ``digits`` fixes the decimals."""
    if value is None:
        return "—"
    locale = _locale(lang)
    pattern = None if digits is None else _fixed(locale.decimal_formats[None].pattern, digits)
    return numbers.format_decimal(value, pattern, locale=locale)


def format_percent(share, digits: int = 0, lang: str | None = None) -> str:
    """A share (0.256) as a percentage: ``26%``; ``digits=1``: ``25,6%`` (uk), ``25.6%`` (en)."""
    if share is None:
        return "—"
    locale = _locale(lang)
    return numbers.format_percent(share, _fixed(locale.percent_formats[None].pattern, digits), locale=locale)


def format_money(value, currency: str = "UAH", lang: str | None = None) -> str:
    """An amount to the kopeck in the page's language (gis.money.format_money)."""
    return money.format_money(value, currency, lang or current_lang())


def format_field_number(value, field_type: str, lang: str | None = None) -> str | None:
    """A value of a declared field (layers.base) written for a page when its type is a number: integer and
    number by format_number, money by format_money. None for an empty value or any other type, which the
    caller writes its own way (mapview.display_value). Exports and APIs keep the plain numbers."""
    if value is None or value == "" or isinstance(value, bool) or field_type not in ("integer", "number", "money"):
        return None
    return format_money(value, lang=lang) if field_type == "money" else format_number(value, lang=lang)


def _moment(value) -> dt.datetime | dt.date:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value or " " in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):  # naive is UTC, as in Flask-Babel
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(KYIV)
    return value


def format_date(value, format: str = "medium", lang: str | None = None) -> str:
    """A date (a moment's date in Kyiv): ``3 трав. 2024 р.`` (uk), ``May 3, 2024`` (en); ``format`` is
    short, medium, long, full or a CLDR pattern."""
    if value is None or value == "":
        return "—"
    return dates.format_date(_moment(value), format, locale=_locale(lang))


def format_datetime(value, format: str = "medium", lang: str | None = None) -> str:
    """A moment in Kyiv time to the minute: ``3 трав. 2024 р., 13:07`` (uk), ``May 3, 2024, 1:07 PM``
    (en); ``format`` names the date's length (short, medium, long, full) or is a CLDR pattern."""
    if value is None or value == "":
        return "—"
    moment, locale = _moment(value), _locale(lang)
    if not isinstance(moment, dt.datetime):
        return dates.format_date(moment, format, locale=locale)
    if format not in ("short", "medium", "long", "full"):
        return dates.format_datetime(moment, format, tzinfo=KYIV, locale=locale)
    return (str(locale.datetime_formats[format]).replace("'", "")
            .replace("{0}", dates.format_time(moment, "short", tzinfo=KYIV, locale=locale))
            .replace("{1}", dates.format_date(moment, format, locale=locale)))


# --- the app -------------------------------------------------------------------------------------------

class _Catalogues(flask_babel.Domain):
    """Flask-Babel's message domain, served from the catalogues compiled in memory (no .mo files)."""

    def get_translations(self):
        locale = flask_babel.get_locale()
        return translations(str(locale) if locale else DEFAULT_LANGUAGE)


class _Babel(flask_babel.Babel):
    @cached_property
    def domain_instance(self):
        return _Catalogues()

    def list_translations(self):
        return [Locale.parse(lang) for lang in LANGUAGES]


def _template_helpers() -> dict:
    return {"t": t, "tn": tn, "lang": current_lang(), "languages": LANGUAGES, "language_name": language_name}


def init_app(app) -> None:
    """Flask-Babel (locale from current_lang, Kyiv time), the language cookie, t/tn/lang in templates
    and the |number, |percent, |money, |date, |datetime filters."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    app.config.setdefault("BABEL_DOMAIN", DOMAIN)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    # WTForms' own messages stay English: webmap/forms.py puts them in both halves of its bilingual
    # messages; with Flask-Babel present Flask-WTF would otherwise translate them into the page's language.
    app.config.setdefault("WTF_I18N_ENABLED", False)
    _Babel(app, locale_selector=current_lang)
    for lang in LANGUAGES:  # a catalogue that cannot be read stops the start, not a page
        _compiled(lang)
    app.after_request(remember_language)
    app.context_processor(_template_helpers)
    app.jinja_env.filters.update(number=format_number, percent=format_percent, money=format_money,
                                 date=format_date, datetime=format_datetime)
