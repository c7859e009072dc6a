"""Find a place by what a person types — an address, a street or a village — with no outside geocoder (#17).

The report form, the venue search (``layers.accessibility.place_for``), ``GET /api/places`` and, later,
Open311's ``address_string`` all ask here. The local address layer is two tables (gis.models):
``street`` (a named street of a village, its line) and ``address_point`` (a house number on a street,
or on a village alone), filled from OpenStreetMap by importers.osm_addresses and, for the demo, by
importers.demo_addresses, both through :func:`store_streets` and :func:`store_addresses`. Villages
are the ``settlement`` table itself, so a newly loaded village is findable at once.

How a text is read
    :func:`normalise` writes stored names and typed text the same way, so that they compare: lower
    case; Latin letters that look Cyrillic made Cyrillic inside Cyrillic words (a phone keyboard's
    "Якушинцi" with a Latin i); apostrophes dropped, whichever was typed (’ ʼ '); "вулиця"/"вул."
    dropped (the kind most streets are) and the other kinds written one way ("провулок", "пров." →
    "пров"); "буд.", "с.", "смт", a flat, a postcode and "… область/район/громада" dropped;
    punctuation a space. :func:`parse` also takes the house number out ("12", "12а", "12/1").

How candidates are matched and ranked (pg_trgm, typo-tolerant)
    * a village: ``word_similarity(name, text)``, how well its name is found in the text (the Ukrainian
      or the English name);
    * a street or an address: the same for the street's name; an address also needs its house number
      exactly — a mistyped number is another house, not a nearby one;
    * the score, 0…1: for a village the mean of that and the plain ``similarity`` (a text saying more
      than the village's name — a street not found — ranks the village below a street found in it);
      for a street or an address, when the text names a village (NAMED_MIN), the mean of the street's
      and its village's similarity — the street in the village named first, the same street name in
      another village well below the village itself — else the street's alone.
    ``find_places`` returns what reaches MATCH_MIN; ``place_for`` takes the best, or raises
    :class:`PlaceNotFound` with the closest (from SUGGEST_MIN) for a page to offer.

Fallbacks, said in the result's ``note``: a house number not found gives the street (kind ``street``);
a street not found in the village named gives the village (kind ``settlement``).

Candidates come from GIN trigram indexes (``search %> token``: a typed word found in a stored name,
at pg_trgm's word_similarity_threshold, 0.6), so a search over every hromada reads neither every
street nor every village; villages are matched by ``settlement.search``, a generated column holding
the Ukrainian name normalised (gis.models.name_key_sql), and by ``name_en``.

pg_trgm classifies letters by the database's ctype: the embedded cluster is C.UTF-8 (Cyrillic are
letters); an external database with LC_CTYPE=C would see no Cyrillic words at all.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa

from gis.bulk import copy_into_staging, ewkb
from gis.errors import InvalidInput, NotFound
from gis.models import APOSTROPHES

KINDS = ("address", "street", "settlement")
MATCH_MIN = 0.65  # "Якушинц" (0.79) is found; "Якушинкі" (0.58), a different letter, is only suggested
SUGGEST_MIN = 0.3
NAMED_MIN = 0.6  # a village's word similarity from which the text counts as naming it
STREET_MIN = 0.5  # a street's word similarity below which it is no candidate at all
CANDIDATES = 50  # per kind, before ranking
MAX_TEXT = 200
LIMIT_MAX = 20
NEAR_CENTRE_M = 2000  # a village known only by its centre point takes what is this near it

# --- reading a text -----------------------------------------------------------------------------------

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LETTERS = re.compile(r"[^\W\d_]+")
# Latin letters drawn like Cyrillic ones; only replaced inside a word that has Cyrillic letters, so
# "Zarvantsi" stays Latin (and is compared with the English names).
_LOOKALIKES = str.maketrans("aceiopxyïABCEHIKMOPTXYÏ", "асеіорхуїАВСЕНІКМОРТХУЇ")
# A Latin letter after a house number: what it stands for ("12a", "12b" → "12а", "12б").
_NUMBER_LETTERS = str.maketrans("abvgdeciky", "абвгдесіку")
_APOSTROPHE = re.compile(f"[{APOSTROPHES}]")
_HYPHENED = ((re.compile(r"\bпр-(?:к?т)\b"), " просп "), (re.compile(r"\bб-р\b"), " бульв "),
             (re.compile(r"\bр-н\b"), " район "), (re.compile(r"\bс-ще\b"), " селище "),
             (re.compile(r"\bпр-д\b"), " проїзд "), (re.compile(r"\bмкр-н\b"), " мкр "))
_FLAT = re.compile(r"\b(?:кв|квартира|оф|офіс)\b\.?\s*\d+\S*")
# "12 а", "12-А" → "12а"; not "12 с. Якушинці" (an abbreviation has its dot) nor "40-річчя".
_NUMBER_LETTER = re.compile(r"(\d)\s*-?\s*([а-яіїєґa-z])(?![\w.])")
_SEPARATOR = re.compile(r"[^\w/#]+|_")
_HOUSE = re.compile(r"\d+[а-яіїєґa-z]?(?:/\d+[а-яіїєґa-z]?)?")
_POSTCODE = re.compile(r"\d{5}")

# The default kind of a street, a settlement's kind, the country: they tell nothing apart.
DROPPED = frozenset({"вулиця", "вул", "ул", "улица", "вулица", "street", "st", "str", "с", "c", "село", "смт",
                     "м", "місто", "селище", "сел", "хутір", "х", "україна", "украина", "ukraine"})
# The other kinds of street, written one way: "провулок Шевченка" is not "вулиця Шевченка".
STREET_KINDS = {
    "провулок": "пров", "пров": "пров", "пер": "пров", "переулок": "пров",
    "проспект": "просп", "просп": "просп", "пр": "просп",
    "площа": "пл", "пл": "пл", "бульвар": "бульв", "бульв": "бульв", "бул": "бульв",
    "тупик": "туп", "туп": "туп", "набережна": "наб", "наб": "наб", "проїзд": "проїзд", "узвіз": "узвіз",
    "шосе": "шосе", "алея": "алея", "мікрорайон": "мкр", "мкр": "мкр",
}
HOUSE_MARKERS = frozenset({"буд", "будинок", "б", "д", "#"})  # "#": "№" (_clean)
# "Вінницька обл.", "Вінницький р-н", "Якушинецька сільська громада": the word and the name before it go.
REGION_WORDS = frozenset({"обл", "область", "район", "громада", "тг", "отг"})
COMMUNITY_ADJECTIVES = frozenset({"сільська", "селищна", "міська", "територіальна"})
# How a street's kind is written in a label: "вулиця Шевченка" → "вул. Шевченка".
SHORT_KINDS = {"вулиця": "вул.", "провулок": "пров.", "проспект": "просп.", "площа": "пл.",
               "бульвар": "бульв.", "набережна": "наб."}


def _clean(text: str) -> str:
    """Unicode's compatible form, no control or invisible characters, Cyrillic look-alikes fixed,
    lower case, apostrophes out, abbreviations with a hyphen spelled out, a flat number dropped."""
    # "№" first: Unicode's compatible form would make it "No".
    text = unicodedata.normalize("NFKC", (text or "").replace("№", " # "))
    text = "".join(" " if unicodedata.category(c) == "Cc" else "" if unicodedata.category(c) in ("Cf", "Cs", "Co")
                   else c for c in text)
    text = _LETTERS.sub(lambda m: m.group().translate(_LOOKALIKES) if _CYRILLIC.search(m.group()) else m.group(),
                        text)
    text = _APOSTROPHE.sub("", text.lower())
    for pattern, replacement in _HYPHENED:
        text = pattern.sub(replacement, text)
    return _NUMBER_LETTER.sub(r"\1\2", _FLAT.sub(" ", text))


def number_key(housenumber: str) -> str:
    """A house number as compared: "12 А", "12-а", "12a" (Latin) → "12а"; "12/1" stays."""
    text = unicodedata.normalize("NFKC", housenumber or "").lower().translate(_NUMBER_LETTERS)
    return re.sub(r"[\s\-.]+", "", text)


def _tokens(segment: str) -> list[tuple[str, str]]:
    """A comma-separated part of a text as (token, role): word, kind (of street), marker (буд., №),
    number (a house number's shape); dropped words and postcodes left out."""
    out: list[tuple[str, str]] = []
    for token in _SEPARATOR.sub(" ", segment.replace("#", " # ")).split():
        if token in HOUSE_MARKERS:
            out.append((token, "marker"))
        elif token in DROPPED or _POSTCODE.fullmatch(token):
            continue
        elif token in STREET_KINDS:
            out.append((STREET_KINDS[token], "kind"))
        elif _HOUSE.fullmatch(token):
            out.append((token, "number"))
        elif token in REGION_WORDS:
            while out and out[-1][1] == "word" and out[-1][0] in COMMUNITY_ADJECTIVES:
                out.pop()
            if out and out[-1][1] == "word":
                out.pop()
        else:
            out.append((token, "word"))
    return out


class Parsed(NamedTuple):
    words: str  # the text as normalise() writes it, without the house number
    tokens: tuple[str, ...]  # its words that pick candidates from the indexes (no kinds, at least 2 letters)
    number: str | None  # the house number (number_key), if the text has one


def parse(text: str) -> Parsed:
    """The text's words and its house number: a number counts as the house's when "буд."/"№" comes
    before it, or a word does ("Шевченка 12"), or it ends its part of the text ("Шевченка, 12") — so
    the 8 of "вул. 8 Березня" stays part of the street's name. Several: the last one."""
    segments = [_tokens(part) for part in re.split(r"[,;]", _clean(text))]
    marked, plain = [], []
    for s, tokens in enumerate(segments):
        for i, (_, role) in enumerate(tokens):
            before = tokens[i - 1][1] if i else None
            if role == "number" and before == "marker":
                marked.append((s, i))
            elif role == "number" and (before == "word" or i == len(tokens) - 1):
                plain.append((s, i))
    house = (marked or plain or [None])[-1]
    words = [token for s, tokens in enumerate(segments) for i, (token, role) in enumerate(tokens)
             if role != "marker" and (s, i) != house]
    tokens = tuple(dict.fromkeys(t for s, ts in enumerate(segments) for i, (t, role) in enumerate(ts)
                                 if role in ("word", "number") and (s, i) != house and len(t) >= 2))
    number = number_key(segments[house[0]][house[1]][0]) if house else None
    return Parsed(" ".join(words), tokens, number)


def normalise(text: str) -> str:
    """A name or a text as it is stored and compared ("вул. Пам’яті Героїв" → "памяті героїв"):
    see the module's docstring. Numbers stay words here (a street's name may have one)."""
    return " ".join(token for part in re.split(r"[,;]", _clean(text)) for token, role in _tokens(part)
                    if role != "marker")


def street_label(name: str | None) -> str | None:
    """A street's name as a label writes it: "вулиця Шевченка" (or "Шевченка вулиця") → "вул. Шевченка"."""
    if not name:
        return name
    words = name.strip().split()
    if len(words) > 1 and words[0].lower() in SHORT_KINDS:
        return " ".join([SHORT_KINDS[words[0].lower()], *words[1:]])
    if len(words) > 1 and words[-1].lower() in SHORT_KINDS:
        return " ".join([SHORT_KINDS[words[-1].lower()], *words[:-1]])
    return name.strip()


# --- finding ---------------------------------------------------------------------------------------------

class PlaceNotFound(NotFound):
    """No place matches well enough, or several do equally: ``suggestions`` are the closest ones, best
    first (the dicts of :func:`find_places`), for a page to offer; also in ``details`` (the JSON error)."""

    def __init__(self, uk: str, en: str, suggestions: list[dict]):
        super().__init__(uk, en, suggestions=suggestions)
        self.suggestions = suggestions


def _village_similarity(function: str, alias: str) -> str:
    """SQL: the better of ``function`` (word_similarity, similarity) over a village's two names: its
    Ukrainian one as ``settlement.search`` keeps it normalised, its English one as it is (pg_trgm
    ignores case)."""
    return (f"GREATEST({function}({alias}.search, :words), "
            f"COALESCE({function}({alias}.name_en, :words), 0))")


_SCOPE = "(CAST(:hromada_id AS integer) IS NULL OR {alias}.hromada_id = :hromada_id)"

# Villages: candidates from the trigram indexes (a typed word found in a name), then scored.
_SETTLEMENTS_SQL = f"""
    SELECT * FROM (
        SELECT v.id AS settlement_id, v.name_uk, v.name_en, h.katottg, v.population,
               ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat,
               {_village_similarity('word_similarity', 'v')} AS found,
               {_village_similarity('similarity', 'v')} AS whole,
               (SELECT count(*) FROM unnest(CAST(:all_words AS text[])) w
                WHERE NOT (w <% v.search OR w <% COALESCE(v.name_en, ''))) AS rest
        FROM settlement v
        JOIN hromada h ON h.id = v.hromada_id
        CROSS JOIN LATERAL (SELECT COALESCE(v.centre, ST_PointOnSurface(v.boundary)) AS pt) p
        WHERE {_SCOPE.format(alias='v')}
          AND (v.search %> ANY(CAST(:tokens AS text[])) OR v.name_en %> ANY(CAST(:tokens AS text[])))
    ) candidates
    WHERE found >= :floor
    ORDER BY found DESC, whole DESC, population DESC NULLS LAST, settlement_id
    LIMIT {CANDIDATES}"""

# Streets: the street table's, and the streets only address points name (no line mapped for them).
_STREETS_SQL = f"""
    WITH named AS (
        SELECT st.hromada_id, st.settlement_id, st.search, st.name,
               ST_ClosestPoint(st.geom, ST_Centroid(st.geom)) AS pt
        FROM street st
        WHERE {_SCOPE.format(alias='st')} AND st.search %> ANY(CAST(:tokens AS text[]))
        UNION ALL
        SELECT a.hromada_id, a.settlement_id, a.search, min(a.street),
               ST_ClosestPoint(ST_Collect(a.geom), ST_Centroid(ST_Collect(a.geom)))
        FROM address_point a
        WHERE {_SCOPE.format(alias='a')} AND a.street IS NOT NULL AND a.search %> ANY(CAST(:tokens AS text[]))
          AND NOT EXISTS (SELECT 1 FROM street st WHERE st.hromada_id = a.hromada_id AND st.search = a.search
                          AND st.settlement_id IS NOT DISTINCT FROM a.settlement_id)
        GROUP BY a.hromada_id, a.settlement_id, a.search
    )
    SELECT n.settlement_id, n.search, n.name AS street, NULL AS place, NULL AS housenumber, h.katottg,
           v.name_uk, v.name_en, ST_X(n.pt) AS lon, ST_Y(n.pt) AS lat,
           word_similarity(n.search, :words) AS name, similarity(n.search, :words) AS whole,
           COALESCE({_village_similarity('word_similarity', 'v')}, 0) AS village
    FROM named n
    JOIN hromada h ON h.id = n.hromada_id
    LEFT JOIN settlement v ON v.id = n.settlement_id
    WHERE word_similarity(n.search, :words) >= {STREET_MIN}
    ORDER BY word_similarity(n.search, :words) + COALESCE({_village_similarity('word_similarity', 'v')}, 0) DESC,
             similarity(n.search, :words) DESC
    LIMIT {CANDIDATES}"""

_ADDRESSES_SQL = f"""
    SELECT a.settlement_id, a.search, a.street, a.place, a.housenumber, h.katottg, v.name_uk, v.name_en,
           ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat,
           word_similarity(a.search, :words) AS name, similarity(a.search, :words) AS whole,
           COALESCE({_village_similarity('word_similarity', 'v')}, 0) AS village
    FROM address_point a
    JOIN hromada h ON h.id = a.hromada_id
    LEFT JOIN settlement v ON v.id = a.settlement_id
    WHERE {_SCOPE.format(alias='a')} AND a.number = :number AND a.search %> ANY(CAST(:tokens AS text[]))
      AND word_similarity(a.search, :words) >= {STREET_MIN}
    ORDER BY word_similarity(a.search, :words) + COALESCE({_village_similarity('word_similarity', 'v')}, 0) DESC,
             similarity(a.search, :words) DESC, a.id
    LIMIT {CANDIDATES}"""

NUMBER_NOT_FOUND = ("Будинку {n} на цій вулиці не знайдено — показано вулицю",
                    "House {n} was not found on this street — showing the street")
STREET_NOT_FOUND = ("Адресу в цьому населеному пункті не знайдено — показано населений пункт",
                    "The address was not found in this village — showing the village")


def checked_text(text: str | None) -> str:
    """The text, stripped; InvalidInput when it is empty or too long to be an address."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("Вкажіть адресу або населений пункт", "Give an address or a village")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"Адреса задовга: до {MAX_TEXT} знаків", f"The address is too long: at most {MAX_TEXT} "
                           "characters")
    return text


UK_ALPHABET = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"
# Labels in the Ukrainian alphabet's order (in Unicode's, І, Ї, Є and Ґ come before А).
_ALPHABETICAL = str.maketrans({c: chr(0x3000 + i) for i, c in enumerate(UK_ALPHABET)})


def _label(street: str | None, place: str | None, housenumber: str | None, village: str | None) -> str:
    """ "вул. Шевченка, 12, Якушинці"; an address by village alone: "Якушинці, 12"."""
    first, where = street_label(street) or place, village or place
    return ", ".join(p for p in (first, housenumber, where if where != first else None) if p)


def _result(kind: str, row, score: float, note: tuple[str, str] | None = None, **fill) -> dict:
    street = row.street if kind != "settlement" else None
    place = row.place if kind == "address" else None
    housenumber = row.housenumber if kind == "address" else None
    return {
        "kind": kind, "label": _label(street, place, housenumber, row.name_uk),
        "lon": round(row.lon, 7), "lat": round(row.lat, 7), "score": round(score, 3),
        "settlement": row.name_uk, "settlement_en": row.name_en, "hromada": row.katottg,
        "street": street_label(street), "housenumber": housenumber,
        "note": {"uk": note[0].format(**fill), "en": note[1].format(**fill)} if note else None,
        "_key": (row.katottg, row.settlement_id), "_whole": float(row.whole),
    }


def find_places(conn: sa.Connection, text: str, *, hromada_id: int | None = None, limit: int = 5,
                min_score: float = MATCH_MIN) -> list[dict]:
    """The places the text may mean, best first, at most ``limit``, each scoring at least ``min_score``.

    Each is ``{kind, label, lon, lat, score, settlement, settlement_en, hromada, street, housenumber,
    note}``: kind is address, street or settlement; label reads "вул. Шевченка, 12, Якушинці";
    hromada is the KATOTTG; note, when not None, says in Ukrainian and English why this is less than
    was asked (a house or a street not found). ``hromada_id`` confines the search to one hromada.
    InvalidInput for an empty or too long text or a limit outside 1…LIMIT_MAX; a text with nothing
    to look for ("вул.", "12") finds nothing.
    """
    text = checked_text(text)
    if not 1 <= limit <= LIMIT_MAX:
        raise InvalidInput(f"limit має бути від 1 до {LIMIT_MAX}", f"limit must be 1 to {LIMIT_MAX}")
    parsed = parse(text)
    if not parsed.words:
        return []
    params = {"words": parsed.words, "tokens": list(parsed.tokens), "all_words": parsed.words.split(),
              "number": parsed.number, "hromada_id": hromada_id, "floor": min(min_score, SUGGEST_MIN)}
    villages = conn.execute(sa.text(_SETTLEMENTS_SQL), params).all() if parsed.tokens else []
    named = bool(villages) and villages[0].found >= NAMED_MIN
    streets = conn.execute(sa.text(_STREETS_SQL), params).all() if parsed.tokens else []
    addresses = conn.execute(sa.text(_ADDRESSES_SQL), params).all() if parsed.tokens and parsed.number else []

    def street_score(row) -> float:
        return (row.name + row.village) / 2 if named else row.name

    results = [_result("address", r, street_score(r)) for r in addresses]
    housed = {(r.katottg, r.settlement_id, r.search) for r in addresses}
    for row in streets:
        if (row.katottg, row.settlement_id, row.search) not in housed:
            note = NUMBER_NOT_FOUND if parsed.number else None
            results.append(_result("street", row, street_score(row), note, n=parsed.number))
    found_in = {r["_key"] for r in results if r["score"] >= min_score}
    for row in villages:
        # Said more than the village's name, and nothing of it was found there: the village instead.
        fallback = (row.rest or parsed.number) and (row.katottg, row.settlement_id) not in found_in
        results.append(_result("settlement", row, (row.found + row.whole) / 2, STREET_NOT_FOUND if fallback else None))
    results.sort(key=lambda r: (-r["score"], -r["_whole"], KINDS.index(r["kind"]),
                                r["label"].lower().translate(_ALPHABETICAL)))
    out, seen = [], set()
    for r in results:
        if r["score"] < min_score or (r["hromada"], r["label"]) in seen:  # a house mapped as a node and a building
            continue
        seen.add((r["hromada"], r["label"]))
        out.append({k: v for k, v in r.items() if not k.startswith("_")})
    return out[:limit]


def place_for(conn: sa.Connection, text: str, hromada_id: int | None = None) -> dict:
    """The one place the text means (a dict of :func:`find_places`).

    InvalidInput for an empty text; :class:`PlaceNotFound` (a NotFound, 404) with the closest
    suggestions when nothing matches well enough, or when the best match is as good in several
    villages ("вул. Садова" with no village named) — then the suggestions are those villages' streets.
    """
    text = checked_text(text)
    found = find_places(conn, text, hromada_id=hromada_id, limit=LIMIT_MAX)
    if found:
        best = found[0]
        alike = [r for r in found if r["kind"] == best["kind"] and r["score"] >= best["score"] - 0.01
                 and (r["hromada"], r["settlement"]) != (best["hromada"], best["settlement"])]
        if not alike:
            return best
        raise PlaceNotFound(
            f"«{text}» є в кількох населених пунктах — уточніть, у якому",
            f"{text!r} is in several villages: say which one", [best, *alike][:5])
    suggestions = find_places(conn, text, hromada_id=hromada_id, limit=5, min_score=SUGGEST_MIN)
    raise PlaceNotFound(f"Місце «{text}» не знайдено: вкажіть населений пункт, вулицю й номер будинку",
                        f"Place {text!r} not found: give a village, a street and a house number", suggestions)


# --- storing (the importers' one way in) ------------------------------------------------------------------

class Address(NamedTuple):
    """An address point to store: ``street`` or ``place`` (a village's name, for an address by
    village alone or to tell which village), the house number, a point, and its id in its source."""

    street: str | None
    place: str | None
    housenumber: str
    geom: object  # a shapely Point, EPSG:4326
    ref: str  # "node/123", "way/45", "Якушинці/вул. Центральна/5"
    osm_id: str | None = None


class StreetPart(NamedTuple):
    """A named line (an OSM way) to store as (part of) a street: its name, line and id in its source."""

    name: str
    geom: object  # a shapely LineString or MultiLineString, EPSG:4326
    ref: str


@dataclass
class Stored:
    """What storing did: rows added, changed, left as they were, and those outside the hromada(s)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    outside: int = 0


_ADDRESS_STAGING = [("row_no", "int8"), ("street", "text"), ("place", "text"), ("place_key", "text"),
                    ("housenumber", "text"),
                    ("search", "text"), ("number", "text"), ("geom", "geometry"), ("ref", "text"),
                    ("osm_id", "text"), ("hromada_id", "int4"), ("settlement_id", "int4")]
_STREET_STAGING = [("row_no", "int8"), ("name", "text"), ("search", "text"), ("geom", "geometry")]

# The hromada a feature is in: the smallest whose boundary piece holds it (gis.models.hromada_part).
_HROMADA_AT = """(SELECT p.hromada_id FROM hromada_part p WHERE ST_Intersects(p.geom, {geom})
                  ORDER BY p.hromada_area, p.hromada_id LIMIT 1)"""
# A village known only by its centre point: the nearest within NEAR_CENTRE_M.
_NEAR_CENTRE = f"""(SELECT v.id FROM settlement v WHERE v.hromada_id = {{hromada}} AND v.boundary IS NULL
                    AND v.centre IS NOT NULL AND ST_DWithin(v.centre::geography, {{geom}}::geography, {NEAR_CENTRE_M})
                    ORDER BY v.centre <-> {{geom}} LIMIT 1)"""


def _fresh_staging(conn: sa.Connection, name: str, columns, rows) -> int:
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))  # a second store in the same transaction
    return copy_into_staging(conn, name, columns, rows)


def _counted(rows) -> tuple[int, int]:
    flags = [added for (added,) in rows]
    return sum(flags), len(flags) - sum(flags)


def store_addresses(conn: sa.Connection, addresses: Iterable[Address], *, source: str,
                    hromada_id: int | None = None) -> Stored:
    """Add or update address points (by ``source`` and each one's ``ref``): a point goes to the hromada
    it is in (only ``hromada_id``'s, if given; the others count as outside) and to the village whose
    boundary holds it, else the village its ``place`` names, else the nearest village known by its
    centre only. Storing the same points again changes nothing. Points without a street or place to
    find them by, or without a number, are the caller's to leave out."""
    def rows():
        for i, a in enumerate(addresses):
            yield (i, (a.street or "").strip() or None, (a.place or "").strip() or None,
                   normalise(a.place or "") or None, a.housenumber.strip(),
                   normalise(a.street or a.place or ""), number_key(a.housenumber), ewkb(a.geom),
                   f"{source}:{a.ref}", a.osm_id, None, None)
    staged = _fresh_staging(conn, "_address_staging", _ADDRESS_STAGING, rows())
    conn.execute(sa.text(f"UPDATE _address_staging s SET hromada_id = {_HROMADA_AT.format(geom='s.geom')}"))
    conn.execute(sa.text("""DELETE FROM _address_staging WHERE hromada_id IS NULL OR search = '' OR number = ''
                            OR (CAST(:only AS integer) IS NOT NULL AND hromada_id <> :only)"""), {"only": hromada_id})
    conn.execute(sa.text(f"""
        UPDATE _address_staging s SET settlement_id = COALESCE(
            (SELECT v.id FROM settlement_at(s.hromada_id, s.geom) v),
            (SELECT v.id FROM settlement v WHERE v.hromada_id = s.hromada_id AND v.search = s.place_key
             ORDER BY v.id LIMIT 1),
            {_NEAR_CENTRE.format(hromada='s.hromada_id', geom='s.geom')})"""))
    kept = conn.execute(sa.text("SELECT count(DISTINCT (hromada_id, ref)) FROM _address_staging")).scalar()
    changed = conn.execute(sa.text("""
        INSERT INTO address_point AS a (hromada_id, settlement_id, street, place, housenumber, search, number,
                                        geom, source, source_ref, osm_id)
        SELECT DISTINCT ON (hromada_id, ref) hromada_id, settlement_id, street, place, housenumber, search, number,
               geom, :source, ref, osm_id
        FROM _address_staging ORDER BY hromada_id, ref, row_no DESC
        ON CONFLICT (hromada_id, source_ref) DO UPDATE SET
            settlement_id = EXCLUDED.settlement_id, street = EXCLUDED.street, place = EXCLUDED.place,
            housenumber = EXCLUDED.housenumber,
            search = EXCLUDED.search, number = EXCLUDED.number, geom = EXCLUDED.geom, source = EXCLUDED.source,
            osm_id = EXCLUDED.osm_id, updated_at = now()
        WHERE (a.settlement_id, a.street, a.place, a.housenumber, a.search, a.number, a.geom, a.source, a.osm_id)
              IS DISTINCT FROM (EXCLUDED.settlement_id, EXCLUDED.street, EXCLUDED.place, EXCLUDED.housenumber,
                                EXCLUDED.search, EXCLUDED.number, EXCLUDED.geom, EXCLUDED.source, EXCLUDED.osm_id)
        RETURNING (xmax = 0)"""), {"source": source}).all()
    added, updated = _counted(changed)
    return Stored(added, updated, kept - added - updated, staged - conn.execute(
        sa.text("SELECT count(*) FROM _address_staging")).scalar())


def store_streets(conn: sa.Connection, parts: Iterable[StreetPart], *, source: str,
                  hromada_id: int | None = None) -> Stored:
    """Add or update streets from named lines: each line is cut at the hromadas' and villages'
    boundaries, and the pieces of one name in one village become one street (a village known only by
    its centre takes the pieces near it; pieces in no village make a street of the hromada with no
    village). Keyed by source, village and name, so storing the same lines again changes nothing.
    ``Stored.outside`` counts the lines in no hromada (or not in ``hromada_id``'s)."""
    def rows():
        for i, p in enumerate(parts):
            search = normalise(p.name)
            if search:
                yield i, p.name.strip(), search, ewkb(p.geom)
    staged = _fresh_staging(conn, "_street_staging", _STREET_STAGING, rows())
    conn.execute(sa.text("DROP TABLE IF EXISTS _street_piece"))
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE _street_piece ON COMMIT DROP AS
        WITH ways AS (  -- each line's part in each hromada (its boundary's pieces, then joined again below)
            SELECT w.row_no, w.name, w.search, p.hromada_id,
                   ST_CollectionExtract(ST_Intersection(w.geom, p.geom), 2) AS geom
            FROM _street_staging w JOIN hromada_part p ON ST_Intersects(p.geom, w.geom)
            WHERE CAST(:only AS integer) IS NULL OR p.hromada_id = :only
        )
        SELECT w.row_no, w.hromada_id, v.id AS settlement_id, w.name, w.search,
               ST_CollectionExtract(ST_Intersection(w.geom, v.boundary), 2) AS geom
        FROM ways w JOIN settlement v ON v.hromada_id = w.hromada_id AND v.boundary IS NOT NULL
                                     AND ST_Intersects(v.boundary, w.geom)
        UNION ALL
        SELECT w.row_no, w.hromada_id, {_NEAR_CENTRE.format(hromada='w.hromada_id', geom='ST_PointOnSurface(r.geom)')},
               w.name, w.search, r.geom
        FROM ways w CROSS JOIN LATERAL (
            SELECT ST_CollectionExtract(ST_Difference(w.geom, COALESCE(
                (SELECT ST_Union(v.boundary) FROM settlement v WHERE v.hromada_id = w.hromada_id
                 AND v.boundary IS NOT NULL AND ST_Intersects(v.boundary, w.geom)),
                ST_SetSRID('GEOMETRYCOLLECTION EMPTY'::geometry, 4326))), 2) AS geom) r
        WHERE NOT ST_IsEmpty(r.geom)"""), {"only": hromada_id})
    conn.execute(sa.text("DELETE FROM _street_piece WHERE geom IS NULL OR ST_IsEmpty(geom)"))
    kept = conn.execute(sa.text(
        "SELECT count(*) FROM (SELECT DISTINCT hromada_id, settlement_id, search FROM _street_piece) s")).scalar()
    inside = conn.execute(sa.text("SELECT count(DISTINCT row_no) FROM _street_piece")).scalar()
    changed = conn.execute(sa.text("""
        INSERT INTO street AS s (hromada_id, settlement_id, name, search, geom, source, source_ref)
        SELECT hromada_id, settlement_id, mode() WITHIN GROUP (ORDER BY name), search,
               ST_Multi(ST_LineMerge(ST_CollectionExtract(ST_Collect(geom ORDER BY row_no, ST_AsEWKB(geom)), 2))),
               :source, :source || ':' || COALESCE(settlement_id::text, '-') || '/' || search
        FROM _street_piece GROUP BY hromada_id, settlement_id, search
        ON CONFLICT (hromada_id, source_ref) DO UPDATE SET
            name = EXCLUDED.name, geom = EXCLUDED.geom, settlement_id = EXCLUDED.settlement_id, updated_at = now()
        WHERE (s.name, s.geom, s.settlement_id) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.geom, EXCLUDED.settlement_id)
        RETURNING (xmax = 0)"""), {"source": source}).all()
    added, updated = _counted(changed)
    return Stored(added, updated, kept - added - updated, staged - inside)
