"""Interface texts in gettext catalogues (webmap/translations), the language of a request, and numbers,
money and dates in the language's way (webmap/i18n.py)."""
import datetime as dt
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from webmap import i18n

ROOT = Path(__file__).resolve().parents[2]
UK_PLURAL_FORMS = ("nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
                   "(n%100<10 || n%100>=20) ? 1 : 2);")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def catalogue_problems(folder: Path) -> list[str]:
    """What keeps the catalogues under ``folder`` from being complete, each against the Ukrainian one
    and the Ukrainian against each: a message missing or empty, a plural form missing, a placeholder
    lost or added, a fuzzy (unchecked) text, a msgid twice."""
    problems = []
    catalogues = {}
    for po in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        lang = po.parent.parent.name
        text = po.read_text(encoding="utf-8")
        twice = sorted({m for m in re.findall(r'^msgid "(.+)"$', text, re.M)
                        if len(re.findall(rf'^msgid "{re.escape(m)}"$', text, re.M)) > 1})
        problems += [f"{lang}: {m} is there twice" for m in twice]
        with open(po, "rb") as f:
            catalogues[lang] = read_po(f)
        if catalogues[lang].locale is None or str(catalogues[lang].locale) != lang:
            problems.append(f"{lang}: its Language header says {catalogues[lang].locale}")
    uk = catalogues.pop("uk")
    reference = {m.id if isinstance(m.id, str) else m.id[0]: m for m in uk if m.id}
    for lang, other in [("uk", uk), *catalogues.items()]:
        found = {m.id if isinstance(m.id, str) else m.id[0]: m for m in other if m.id}
        problems += [f"{lang}: {key} is missing" for key in reference.keys() - found.keys()]
        problems += [f"{lang}: {key} is not in the Ukrainian catalogue" for key in found.keys() - reference.keys()]
        for key in reference.keys() & found.keys():
            ours, theirs = reference[key], found[key]
            if ours.pluralizable != theirs.pluralizable:
                problems.append(f"{lang}: {key} is {'not ' if ours.pluralizable else ''}a plural in this catalogue")
                continue
            forms = list(theirs.string) if theirs.pluralizable else [theirs.string]
            if theirs.pluralizable and len(forms) != other.num_plurals:
                problems.append(f"{lang}: {key} has {len(forms)} plural forms, not {other.num_plurals}")
            if not all(forms):
                problems.append(f"{lang}: {key} lacks the text of a plural form" if theirs.pluralizable
                                else f"{lang}: {key} has no text")
            if theirs.fuzzy:
                problems.append(f"{lang}: {key} is fuzzy (not checked)")
            wanted = set(PLACEHOLDER.findall(ours.string if isinstance(ours.string, str) else ours.string[-1]))
            for form in forms:
                if form and set(PLACEHOLDER.findall(form)) != wanted:
                    problems.append(f"{lang}: {key} has placeholders {sorted(PLACEHOLDER.findall(form))}, "
                                    f"the Ukrainian {sorted(wanted)}")
    return problems


def test_every_message_has_its_text_in_every_catalogue():
    assert catalogue_problems(i18n.TRANSLATIONS) == []
    assert len(list(i18n.catalogue("uk"))) > 700


def test_the_check_finds_a_missing_text_a_lost_plural_form_and_a_lost_placeholder(tmp_path):
    shutil.copytree(i18n.TRANSLATIONS, tmp_path / "translations")
    po = tmp_path / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "con_title"\nmsgstr "Hromada set-up"', 'msgid "con_title"\nmsgstr ""')
    text = text.replace('msgstr[1] "%(n)s steps"', 'msgstr[1] ""')
    text = text.replace("At least %(n)s characters;", "At least a few characters;")
    text = text.replace('msgid "nav_map"\nmsgstr "Map"\n', "")
    po.write_text(text, encoding="utf-8")
    assert sorted(catalogue_problems(tmp_path / "translations")) == sorted([
        "en: nav_map is missing", "en: a11y_steps lacks the text of a plural form",
        "en: acc_password_hint has placeholders [], the Ukrainian ['n']", "en: con_title has no text"])


def test_the_ukrainian_catalogue_has_three_plural_forms():
    uk = i18n.catalogue("uk")
    assert uk.mime_headers and dict(uk.mime_headers)["Plural-Forms"] == UK_PLURAL_FORMS
    assert uk.num_plurals == 3 and i18n.catalogue("en").num_plurals == 2


@pytest.mark.parametrize(("n", "uk", "en"), [
    (1, "1 сходинка", "1 step"), (2, "2 сходинки", "2 steps"), (4, "4 сходинки", "4 steps"),
    (5, "5 сходинок", "5 steps"), (11, "11 сходинок", "11 steps"), (12, "12 сходинок", "12 steps"),
    (21, "21 сходинка", "21 steps"), (22, "22 сходинки", "22 steps"), (25, "25 сходинок", "25 steps"),
    (111, "111 сходинок", "111 steps"), (0, "0 сходинок", "0 steps"),
])
def test_plurals_come_from_the_catalogues(n, uk, en):
    assert (i18n.tn("a11y_steps", n, "uk"), i18n.tn("a11y_steps", n, "en")) == (uk, en)


def test_plurals_and_placeholders_in_interface_texts():
    from layers.accessibility import reason_text

    assert reason_text("steps:21:3") == "21 сходинка 3 см без пандуса"
    assert reason_text("steps_few:1", "en") == "1 step, no ramp"
    assert "(діє 7 днів)" in i18n.tn("acc_invite_intro", 7, "uk")
    assert "(діє 1 день)" in i18n.tn("acc_invite_intro", 1, "uk")
    assert "(valid for 1 day)" in i18n.tn("acc_invite_intro", 1, "en")
    assert i18n.tn("acc_password_hint", 12, "en").startswith("At least 12 characters;")


def keys_used() -> tuple[set[str], set[str]]:
    """The keys the templates and the code ask for with t('…') or tn('…'), and the prefixes of keys
    made up from data (t('op_' + …), t(f"plan_status_{…}"))."""
    keys, prefixes = set(), set()
    literal = re.compile(r"""\btn?\(\s*(['"])([A-Za-z0-9_.]+)\1\s*[,)]""")
    prefix = re.compile(r"""\btn?\(\s*f?(['"])([A-Za-z0-9_.]+)(?:\1\s*[+~]|\{)""")
    files = [*(ROOT / "webmap").rglob("*.html"), *(ROOT / "webmap").rglob("*.py"), *(ROOT / "layers").rglob("*.py")]
    for path in files:
        if path.name == "i18n.py" and path.parent.name == "webmap":
            continue  # its docstrings speak of t('key')
        source = path.read_text(encoding="utf-8")
        keys |= {m.group(2) for m in literal.finditer(source)}
        prefixes |= {m.group(2) for m in prefix.finditer(source)}
    return keys, prefixes


def test_every_key_the_code_asks_for_is_in_the_catalogues():
    keys, prefixes = keys_used()
    assert len(keys) > 500 and "site_name" in keys and "a11y_steps" in keys and "op_" in prefixes
    assert sorted(k for k in keys if not i18n.has(k)) == []
    known = [m.id if isinstance(m.id, str) else m.id[0] for m in i18n.catalogue("uk") if m.id]
    assert sorted(p for p in prefixes if not any(k.startswith(p) for k in known)) == []


# --- a third language: only a catalogue --------------------------------------------------------------

@pytest.fixture
def polish(tmp_path, monkeypatch):
    """webmap/translations with a Polish catalogue added (a copy of the English one, one text translated)."""
    folder = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, folder)
    (folder / "pl" / "LC_MESSAGES").mkdir(parents=True)
    text = (folder / "en" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    text = text.replace('"Language: en\\n"', '"Language: pl\\n"').replace(
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"',
        '"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\\n"')
    text = text.replace('msgid "site_name"\nmsgstr "Hromada GIS"',
                        'msgid "site_name"\nmsgstr "Hromada GIS (po polsku)"')
    text = text.replace('msgstr[0] "%(n)s step"\nmsgstr[1] "%(n)s steps"',
                        'msgstr[0] "%(n)s stopień"\nmsgstr[1] "%(n)s stopnie"\nmsgstr[2] "%(n)s stopni"')
    text = re.sub(r'^(msgstr\[1\] (".*"))\n(?!msgstr\[2\])', r"\1\nmsgstr[2] \2\n", text, flags=re.M)  # 3 forms
    (folder / "pl" / "LC_MESSAGES" / "messages.po").write_text(text, encoding="utf-8")
    monkeypatch.setattr(i18n, "TRANSLATIONS", folder)
    monkeypatch.setattr(i18n, "LANGUAGES", i18n._languages())
    yield folder
    i18n.catalogue.cache_clear()
    i18n._compiled.cache_clear()


def test_a_third_language_is_a_catalogue_and_nothing_else(polish):
    assert i18n.LANGUAGES == ("uk", "en", "pl")
    assert catalogue_problems(polish) == []
    assert i18n.t("site_name", "pl") == "Hromada GIS (po polsku)"
    assert [i18n.tn("a11y_steps", n, "pl") for n in (1, 3, 5, 22)] == ["1 stopień", "3 stopnie", "5 stopni",
                                                                        "22 stopnie"]
    assert i18n.format_money(Decimal("1234.5"), lang="pl") == "1\u00a0234,50\u00a0UAH"
    assert i18n.language_name("pl") == "Polski"


def test_a_third_language_is_offered_and_chosen_by_the_browser(polish, client):
    html = client.get("/hromadas", headers={"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="pl">' in html and "Hromada GIS (po polsku)" in html
    assert 'hreflang="pl"' in html and ">Polski</a>" in html and ">Українська</a>" in html


# --- the language of a request --------------------------------------------------------------------------

def test_a_first_visit_speaks_the_browsers_language_else_ukrainian(client):
    def lang(**headers):
        return re.search(r'<html lang="(\w+)">', client.get("/hromadas", headers=headers).get_data(as_text=True))[1]

    assert lang() == "uk"
    assert lang(**{"Accept-Language": "en-GB,en;q=0.9"}) == "en"
    assert lang(**{"Accept-Language": "de-DE,de;q=0.9,en;q=0.8,uk;q=0.7"}) == "en"
    assert lang(**{"Accept-Language": "uk-UA,uk;q=0.9,en;q=0.8"}) == "uk"
    assert lang(**{"Accept-Language": "de-DE,fr;q=0.5"}) == "uk"  # none offered
    answer = client.get("/hromadas", headers={"Accept-Language": "en"})
    assert "Set-Cookie" not in answer.headers  # only a choice on the page is remembered
    assert "Accept-Language" in answer.headers["Vary"]


def test_the_choice_and_the_cookie_come_before_the_browser(client):
    english = {"Accept-Language": "en"}
    answer = client.get("/hromadas?lang=uk", headers=english)
    assert '<html lang="uk">' in answer.get_data(as_text=True) and "lang=uk" in answer.headers["Set-Cookie"]
    assert '<html lang="uk">' in client.get("/hromadas", headers=english).get_data(as_text=True)  # the cookie
    assert '<html lang="en">' in client.get("/hromadas?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/hromadas?lang=xx").get_data(as_text=True)  # unknown: the cookie


# --- numbers, money, dates ------------------------------------------------------------------------------

def test_money_numbers_and_shares_in_each_language():
    assert i18n.format_money(Decimal("1234567.8"), lang="uk") == "1\u00a0234\u00a0567,80\u00a0₴"
    assert i18n.format_money(Decimal("1234567.8"), lang="en") == "UAH\u00a01,234,567.80"
    assert i18n.format_money(None) == "—"
    assert i18n.format_number(1234.5, 2, "uk") == "1\u00a0234,50"
    assert i18n.format_number(1234.5, 2, "en") == "1,234.50"
    assert (i18n.format_percent(0.256, lang="uk"), i18n.format_percent(0.256, 1, "uk")) == ("26%", "25,6%")
    assert i18n.format_percent(0.256, 1, "en") == "25.6%"


def test_moments_are_written_in_kyiv_time():
    summer = dt.datetime(2024, 5, 3, 10, 7, tzinfo=dt.timezone.utc)  # EEST, UTC+3
    winter = dt.datetime(2024, 12, 31, 22, 30, tzinfo=dt.timezone.utc)  # EET, UTC+2: already the new year
    assert i18n.format_datetime(summer, lang="uk") == "3 трав. 2024\u202fр., 13:07"
    assert i18n.format_datetime(summer, lang="en") == "May 3, 2024, 1:07\u202fPM"
    assert i18n.format_datetime(winter.isoformat(), lang="uk") == "1 січ. 2025\u202fр., 00:30"
    assert i18n.format_date(winter, lang="en") == "Jan 1, 2025"
    assert i18n.format_date("2026-11-20", lang="uk") == "20 лист. 2026\u202fр."
    assert i18n.format_date(None) == "—"
