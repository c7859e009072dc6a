"""Import reconstruction projects from records shaped like DREAM's public API.

DREAM (dream.gov.ua) publishes projects at ``https://public-api.dream.gov.ua/marketplace/public/dream/ideas/{id}``
(OpenAPI: open-contracting/dream-api-docs). A record is ``{"internal": {"id", "code", "status"}, "external":
{"updated"}, "cdu_response": {…}}`` — or the ``cdu_response`` object alone. What is read from ``cdu_response``:

* the DREAM id ``DREAM-UA-DDMMYY-XXXXXXXX`` — ``internal.code``, else ``code``/``id`` of the record or of
  ``cdu_response`` (the first that has that form); the key that makes re-imports update, not duplicate;
* ``title`` / ``description`` (lists of ``{lang, translation}``, or plain text), ``purpose``
  (restoration/development), ``type`` (construction → new construction; rehabilitation, replacement,
  expansion → reconstruction; equipment), ``status`` + ``statusDetails``, ``date``, ``updated``;
* the sector from ``additionalClassifications`` with scheme ``WB-ECO`` (World Bank sector codes);
* ``approaches[]``: the one with the largest budget is used (as DREAM Analytics does); its ``items[].locations
  []. gazetteer`` (scheme ``UA-CATOTTG``) place the project in a hromada; its ``budget.budgetBreakdown[]
  .amount`` summed is the budget (only ``agreed`` lines when there are any, else ``revised``, else all);
  its ``budget.finance[]`` (``value``, ``financeCategory``, ``financeType``, ``financingParty``) are the
  funding lines, *available* being the finance value;
* ``financialProgress[]`` (in ``cdu_response`` or in the approach's ``budget``): per finance line (``finance``
  / ``financeId`` / ``relatedFinance`` = the finance ``id``, or its ``financeCategory``) the ``disbursed``
  and ``spent`` amounts — **an assumed shape**: the archived API specification does not describe it;
* Prozorro tenders from ``contractingProcesses[].summary`` (``tender.id``, ``externaReference`` [sic]) and
  ``relatedProcesses[]`` with scheme ``UA-PROZORRO``; damaged-property register references from
  ``relatedProcesses[]`` with scheme ``UA-RDDP``; the implementer from ``parties[]`` with role
  ``implementer`` (else ``balancer``).

Amounts must be in UAH (no exchange rates are guessed). DREAM publishes KATOTTG codes, not coordinates: a
``geometry`` (GeoJSON) on the record or in ``cdu_response`` is used when present (our extension), else the
settlement with that KATOTTG code, else a point inside the hromada, flagged ``raw.location_approximate``.

The **stage**: ``complete`` → commissioning; ``active`` → construction when a contract is signed, procurement
when there is a tender, design otherwise; ``pending`` → idea (``initiated``, ``definition``) or financing (any
later detail); ``cancelled``/``unsuccessful`` close the project at the stage its other facts show. A new
project's history starts at ``date`` (as *damage recorded* when it references the damage register) and
enters the current stage at ``updated``; a re-import moves it forward only, never back.

Each record is imported on its own (a savepoint): an invalid one is rejected with its reason in Ukrainian
and English, the others land. A record identical to the last import of its DREAM id changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from gis.errors import HromadaError, InvalidInput, Unprocessable
from layers import reconstruction as rc

log = logging.getLogger(__name__)

TYPES = {"construction": "new_construction", "rehabilitation": "reconstruction", "replacement": "reconstruction",
         "expansion": "reconstruction", "equipment": "equipment"}
WB_ECO = {"YH": "housing", "E": "education", "H": "health", "S": "social", "W": "water", "L": "energy",
          "T": "transport", "B": "administration", "C": "ict", "YT": "culture"}
FINANCE_CATEGORIES = {
    "localBudget": "local_budget", "stateSubsidies": "state_subsidy", "liquidationFund": "liquidation_fund",
    "united24": "united24", "stateCentralBudget": "state_budget", "stateReserve": "state_budget",
    "stateSpecialBudget": "state_budget", "centralBudget": "state_budget",
    "internationalOrganization": "international", "abroadState": "international", "bilateralSupport": "international",
    "techAssistance": "international", "donorFunds": "donors", "charityFunds": "donors", "legalEntity": "donors",
    "naturalPerson": "donors", "abroadEntity": "donors", "abroadPerson": "donors", "fundraisingPlatforms": "donors"}
FINANCE_TYPES = {"stateFunds": "state_budget", "internationalPartners": "international",
                 "privateInvestments": "donors"}
PENDING_IDEA = {"initiated", "definition"}
BUDGET_TYPES = ("agreed", "revised", "original")
BY = "Імпорт DREAM / DREAM import"


@dataclass
class DreamReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)  # {"index", "dream_id", "uk", "en"}
    warnings: list[dict] = field(default_factory=list)  # {"dream_id", "uk", "en"}

    def to_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": self.rejected, "warnings": self.warnings}

    def lines(self, lang: str = "uk") -> list[str]:
        words = {"uk": ("нових", "оновлено", "без змін", "відхилено"), "en": ("created", "updated", "unchanged",
                                                                              "rejected")}[lang]
        out = [f"{words[0]}: {len(self.created)}, {words[1]}: {len(self.updated)}, {words[2]}: {len(self.unchanged)}, "
               f"{words[3]}: {len(self.rejected)}"]
        out += [f"  ✗ #{r['index']} {r['dream_id'] or '—'}: {r[lang]}" for r in self.rejected]
        out += [f"  ! {w['dream_id']}: {w[lang]}" for w in self.warnings]
        return out


def read_records(data) -> list[dict]:
    """The records of a file's JSON: a list, ``{"data": [...]}`` (the API's list answer) or one record."""
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise InvalidInput("Очікується список записів DREAM (JSON-масив)", "A list of DREAM records (a JSON array) "
                                                                          "is expected")
    return data


def import_dream(conn: sa.Connection, hromada_id: int | None, records: list[dict]) -> DreamReport:
    """Create or update one project per record (see the module's docstring); ``hromada_id`` None: each
    record's hromada from its KATOTTG codes. Returns the report; never raises for one bad record."""
    report = DreamReport()
    for index, record in enumerate(records, start=1):
        dream_id = None
        savepoint = conn.begin_nested()
        try:
            if not isinstance(record, dict):
                raise InvalidInput("Запис не є об'єктом JSON", "The record is not a JSON object")
            dream_id = _dream_id(record)
            outcome = _import_one(conn, hromada_id, record, dream_id, report)
            savepoint.commit()
            getattr(report, outcome).append(dream_id)
        except HromadaError as exc:
            savepoint.rollback()
            report.rejected.append({"index": index, "dream_id": dream_id, "uk": exc.uk, "en": exc.en})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            savepoint.rollback()
            log.info("DREAM record %s: %r", index, exc)
            report.rejected.append({"index": index, "dream_id": dream_id,
                                    "uk": f"Запис має неочікувану будову ({type(exc).__name__}: {exc})",
                                    "en": f"The record has an unexpected shape ({type(exc).__name__}: {exc})"})
    return report


# --- reading one record ------------------------------------------------------------------------------

def _cdu(record: dict) -> dict:
    cdu = record.get("cdu_response", record)
    if not isinstance(cdu, dict):
        raise InvalidInput("cdu_response має бути об'єктом", "cdu_response must be an object")
    return cdu


def _dream_id(record: dict) -> str:
    cdu = _cdu(record)
    candidates = [(record.get("internal") or {}).get("code"), record.get("code"), record.get("id"),
                  cdu.get("code"), cdu.get("id")]
    for value in candidates:
        if isinstance(value, str) and value.strip().upper().startswith("DREAM-"):
            return rc.normalise_dream_id(value)
    raise InvalidInput("Немає ідентифікатора DREAM (internal.code у вигляді DREAM-UA-ДДММРР-XXXXXXXX)",
                       "No DREAM id (internal.code of the form DREAM-UA-DDMMYY-XXXXXXXX)")


def _translation(value, lang: str) -> str | None:
    if isinstance(value, str):
        return value if lang == "uk" else None
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item.get("lang") == lang and item.get("translation"):
                return str(item["translation"])
    return None


def _amount(value, what: tuple[str, str]) -> Decimal:
    """A DREAM money object ``{"amount", "currency"}`` (or a bare number) in UAH."""
    if isinstance(value, dict):
        currency = value.get("currency") or "UAH"
        if currency != "UAH":
            raise Unprocessable(f"{what[0]}: сума у {currency}; приймаються лише гривні (UAH)",
                                f"{what[1]}: the amount is in {currency}; only UAH is accepted")
        value = value.get("amount")
    return rc.money(value, what)


def _approach_budget(approach: dict) -> Decimal:
    lines = (approach.get("budget") or {}).get("budgetBreakdown") or []
    typed = {t: [line for line in lines if ((line.get("classifications") or {}).get("budgetType")) == t]
             for t in BUDGET_TYPES}
    chosen = next((typed[t] for t in BUDGET_TYPES if typed[t]), None)
    if chosen is not None:
        lines = chosen + [line for line in lines if not (line.get("classifications") or {}).get("budgetType")]
    return sum((_amount(line.get("amount"), ("кошторис", "budget")) for line in lines), Decimal("0.00"))


def _approach(cdu: dict) -> dict:
    approaches = [a for a in cdu.get("approaches") or [] if isinstance(a, dict)]
    active = [a for a in approaches if a.get("status") in (None, "active")] or approaches
    if not active:
        return {}
    return max(active, key=lambda a: (_approach_budget(a), str(a.get("id") or "")))


def _katottg_codes(cdu: dict) -> list[str]:
    codes = []
    for approach in cdu.get("approaches") or []:
        for item in approach.get("items") or []:
            for loc in item.get("locations") or []:
                gaz = loc.get("gazetteer") or {}
                if gaz.get("scheme") == "UA-CATOTTG":
                    codes += [str(c).strip().upper() for c in gaz.get("identifiers") or [] if c]
    for loc in cdu.get("locations") or []:
        gaz = loc.get("gazetteer") or {}
        if gaz.get("scheme") == "UA-CATOTTG":
            codes += [str(c).strip().upper() for c in gaz.get("identifiers") or [] if c]
    return codes


def _hromada_of(conn: sa.Connection, codes: list[str]) -> int | None:
    """The hromada whose code shares the oblast-raion-hromada part (``UA`` + 7 digits) with a location."""
    for code in codes:
        if len(code) == 19 and code[6:9] != "000":
            found = conn.execute(sa.text("SELECT id FROM hromada WHERE substr(katottg, 3, 7) = :k"),
                                 {"k": code[2:9]}).scalar()
            if found is not None:
                return found
    return None


def _sector(cdu: dict) -> str:
    if cdu.get("sector") in rc.SECTORS:  # our own export read back
        return cdu["sector"]
    classes = list(cdu.get("additionalClassifications") or [])
    for approach in cdu.get("approaches") or []:
        for item in approach.get("items") or []:
            classes += item.get("additionalClassifications") or []
    for cls in classes:
        if cls.get("scheme") == "WB-ECO" and cls.get("id"):
            code = str(cls["id"]).upper()
            if code in WB_ECO:
                return WB_ECO[code]
            if code[:1] in WB_ECO:
                return WB_ECO[code[:1]]
    return "other"


def _status(record: dict, cdu: dict) -> tuple[str | None, str | None]:
    status, detail = cdu.get("status"), cdu.get("statusDetails")
    internal = (record.get("internal") or {}).get("status")
    if not status and isinstance(internal, str):  # "active:approved"
        status, _, detail = internal.partition(":")
    return (status or None), (detail or None)


def _tenders(cdu: dict) -> list[dict]:
    out = []
    for process in cdu.get("contractingProcesses") or []:
        summary = process.get("summary") or {}
        tid = (summary.get("tender") or {}).get("id") or summary.get("externaReference") or summary.get(
            "externalReference")
        contract = summary.get("contract") or {}
        out.append({"id": tid, "title": _translation(summary.get("title"), "uk"), "status": summary.get("status"),
                    "amount": contract.get("value"), "signed": bool(contract.get("dateSigned") or
                                                                    contract.get("status") in ("active", "complete"))})
    for rel in cdu.get("relatedProcesses") or []:
        if rel.get("scheme") == "UA-PROZORRO" and rel.get("identifier"):
            out.append({"id": rel["identifier"], "title": None, "status": None, "amount": None, "signed": False})
    return [t for t in out if t["id"]]


def _stage(status: str | None, detail: str | None, tenders: list[dict], damaged: bool) -> tuple[str, str | None]:
    """(stage, outcome) the record's facts show."""
    if tenders and any(t["signed"] for t in tenders):
        shown = "construction"
    elif tenders:
        shown = "procurement"
    elif status == "active":
        shown = "design"
    elif detail in PENDING_IDEA or detail is None:
        shown = "damage_recorded" if damaged and detail is None else "idea"
    else:
        shown = "financing"
    if status == "complete":
        return "commissioning", None
    if status in rc.OUTCOMES:
        return shown, status
    if status not in (None, "pending", "active"):
        raise InvalidInput(f"Невідомий статус DREAM «{status}»", f"Unknown DREAM status {status!r}")
    return shown, None


def _progress(cdu: dict, approach: dict) -> list[dict]:
    items = list(cdu.get("financialProgress") or []) + list((approach.get("budget") or {}).get("financialProgress")
                                                            or [])
    return [i for i in items if isinstance(i, dict)]


def _funding(cdu: dict, approach: dict, dream_id: str, report: DreamReport) -> list[dict]:
    finance = list((approach.get("budget") or {}).get("finance") or []) + list(
        (cdu.get("budget") or {}).get("finance") or [] if isinstance(cdu.get("budget"), dict) else [])
    finance += list(cdu.get("finance") or [])
    lines = {}
    for f in finance:
        category = f.get("financeCategory")
        source = FINANCE_CATEGORIES.get(category) or FINANCE_TYPES.get(f.get("financeType"))
        if source is None:
            raise InvalidInput(f"Невідоме джерело фінансування «{category}»", f"Unknown finance category {category!r}")
        party = (f.get("financingParty") or {}).get("name")
        ref = str(f.get("id") or f"{category}:{party or ''}")
        lines[ref] = {"source": source, "party": party, "available": _amount(f.get("value"), ("фінансування",
                                                                                              "finance")),
                      "disbursed": Decimal("0.00"), "spent": Decimal("0.00"), "category": category}
    for p in _progress(cdu, approach):
        ref = p.get("finance") or p.get("financeId") or p.get("relatedFinance")
        target = lines.get(str(ref)) if ref else None
        if target is None and p.get("financeCategory"):
            target = next((v for v in lines.values() if v["category"] == p["financeCategory"]), None)
        if target is None:
            report.warnings.append({"dream_id": dream_id,
                                    "uk": f"financialProgress посилається на невідоме фінансування «{ref}»",
                                    "en": f"financialProgress refers to an unknown finance line {ref!r}"})
            continue
        for key, names in (("disbursed", ("disbursed", "transferred")), ("spent", ("spent", "paid"))):
            for name in names:
                if p.get(name) is not None:
                    target[key] += _amount(p[name], (key, key))
    return [{"dream_ref": ref, **line} for ref, line in lines.items()]


def _place(conn: sa.Connection, hromada_id: int, record: dict, cdu: dict, codes: list[str]) -> dict:
    geometry = record.get("geometry") or cdu.get("geometry")
    if isinstance(geometry, dict):
        return {"footprint": geometry, "approximate": False}
    for code in codes:
        row = conn.execute(sa.text("""
            SELECT ST_X(p), ST_Y(p) FROM (SELECT COALESCE(centre, ST_PointOnSurface(boundary)) AS p FROM settlement
            WHERE katottg = :k AND hromada_id = :h) s"""), {"k": code, "h": hromada_id}).first()
        if row is not None:
            return {"lon": row[0], "lat": row[1], "approximate": True}
    row = conn.execute(sa.text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) AS p FROM hromada "
                               "WHERE id = :h) s"), {"h": hromada_id}).first()
    return {"lon": row[0], "lat": row[1], "approximate": True}


def _implementer(cdu: dict) -> str | None:
    for role in ("implementer", "balancer"):
        for party in cdu.get("parties") or []:
            if role in (party.get("roles") or []):
                ident = party.get("identifier") or {}
                name = ident.get("legalName") or party.get("name")
                if name:
                    return f"{name} (ЄДРПОУ {ident['id']})" if ident.get("id") else name
    return None


# --- writing one record ----------------------------------------------------------------------------

def _import_one(conn: sa.Connection, hromada_id: int | None, record: dict, dream_id: str,
                report: DreamReport) -> str:
    cdu = _cdu(record)
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    existing = conn.execute(sa.text("SELECT id, hromada_id, raw FROM reconstruction_project WHERE dream_id = :d "
                                    "FOR UPDATE"), {"d": dream_id}).mappings().first()
    if existing is not None and (existing["raw"] or {}).get("dream_sha256") == digest:
        return "unchanged"
    codes = _katottg_codes(cdu)
    located = _hromada_of(conn, codes)
    if hromada_id is None:
        hromada_id = existing["hromada_id"] if existing else located
        if hromada_id is None:
            raise Unprocessable("Не вдалося визначити громаду: немає коду КАТОТТГ завантаженої громади в locations",
                                "Cannot tell the hromada: no KATOTTG code of a loaded hromada in the locations")
    elif located is not None and located != hromada_id:
        raise Unprocessable("Місця проєкту (КАТОТТГ) — в іншій громаді", "The project's places (KATOTTG) are in "
                                                                         "another hromada")
    title = _translation(cdu.get("title"), "uk") or _translation(cdu.get("title"), "en")
    if not title:
        raise InvalidInput("Немає назви проєкту (title)", "The project has no title")
    approach = _approach(cdu)
    budget = _approach_budget(approach) if approach else Decimal("0.00")
    if not approach and isinstance(cdu.get("budget"), dict) and "amount" in cdu["budget"]:
        budget = _amount(cdu["budget"], ("кошторис", "budget"))
    status, detail = _status(record, cdu)
    tenders = _tenders(cdu)
    valid_tenders = []
    for t in tenders:
        try:
            valid_tenders.append({**t, "id": rc.normalise_tender_id(t["id"])})
        except InvalidInput as exc:
            report.warnings.append({"dream_id": dream_id, "uk": exc.uk, "en": exc.en})
    damage = [str(r["identifier"]) for r in cdu.get("relatedProcesses") or []
              if r.get("scheme") == "UA-RDDP" and r.get("identifier")]
    stage, outcome = _stage(status, detail, valid_tenders, bool(damage))
    funding = _funding(cdu, approach, dream_id, report)
    for line in funding:
        rc.check_amounts(line["available"], line["disbursed"], line["spent"])  # refuses spent > disbursed > available
    fields = dict(title_uk=title, title_en=_translation(cdu.get("title"), "en"),
                  description=_translation(cdu.get("description"), "uk"), sector=_sector(cdu),
                  project_type=TYPES.get(cdu.get("type"), cdu.get("type") if cdu.get("type") in rc.PROJECT_TYPES
                                         else None),
                  purpose=cdu.get("purpose") if cdu.get("purpose") in rc.PURPOSES else None,
                  status_detail=detail, implementer=_implementer(cdu))
    raw = {"dream_sha256": digest, "dream_internal_id": (record.get("internal") or {}).get("id"),
           "dream_updated": cdu.get("updated") or (record.get("external") or {}).get("updated"),
           "katottg": codes}
    created_at, updated_at = cdu.get("date"), cdu.get("updated") or cdu.get("date")
    if existing is None:
        place = _place(conn, hromada_id, record, cdu, codes)
        raw["location_approximate"] = place.pop("approximate")
        first = "damage_recorded" if damage else stage
        if rc.STAGE_ORDER.index(first) > rc.STAGE_ORDER.index(stage):
            first = stage
        project_id = rc.create_project(conn, hromada_id, stage=first, budget=budget, dream_id=dream_id,
                                       entered_at=created_at, by=BY, source="dream", raw=raw, **fields, **place)
        result = "created"
    else:
        project_id = existing["id"]
        conn.execute(sa.text(f"""UPDATE reconstruction_project SET {', '.join(f'{k} = :{k}' for k in fields)},
                     budget = :budget, raw = raw || CAST(:raw AS jsonb) WHERE id = :id"""),
                     {**fields, "budget": budget, "raw": json.dumps(raw), "id": project_id})
        result = "updated"
    current = conn.execute(sa.text("SELECT stage, outcome FROM reconstruction_project WHERE id = :id"),
                           {"id": project_id}).mappings().one()
    is_open = current["outcome"] is None and current["stage"] not in rc.CLOSED_STAGES
    shown, ours = (outcome or stage), (current["outcome"] or current["stage"])
    if is_open and rc.STAGE_ORDER.index(stage) > rc.STAGE_ORDER.index(current["stage"]):
        rc.set_stage(conn, project_id, stage, at=_not_before(conn, project_id, updated_at), by=BY, source="dream")
    elif shown != ours and (not is_open or rc.STAGE_ORDER.index(stage) < rc.STAGE_ORDER.index(current["stage"])):
        report.warnings.append({"dream_id": dream_id, "uk": f"DREAM показує етап «{rc.stage_label(shown, 'uk')}», "
                                f"а проєкт уже «{rc.stage_label(ours, 'uk')}»: назад етап не змінюється",
                                "en": f"DREAM shows the stage “{rc.stage_label(shown, 'en')}”, but the project is "
                                      f"already “{rc.stage_label(ours, 'en')}”: a stage does not go back"})
    if is_open and outcome is not None:
        rc.set_stage(conn, project_id, outcome, at=_not_before(conn, project_id, updated_at), by=BY,
                     source="dream")
    for line in funding:
        conn.execute(sa.text("""
            INSERT INTO project_funding (project_id, source, party, available, disbursed, spent, dream_ref)
            VALUES (:p, :source, :party, :available, :disbursed, :spent, :dream_ref)
            ON CONFLICT (project_id, dream_ref) DO UPDATE SET source = EXCLUDED.source, party = EXCLUDED.party,
                available = EXCLUDED.available, disbursed = EXCLUDED.disbursed, spent = EXCLUDED.spent,
                updated_at = now()"""),
            {"p": project_id, **{k: line[k] for k in ("source", "party", "available", "disbursed", "spent",
                                                       "dream_ref")}})
    for t in valid_tenders:
        amount = None
        if isinstance(t["amount"], dict) and (t["amount"].get("currency") or "UAH") == "UAH":
            amount = t["amount"].get("amount")
        rc.add_tender(conn, project_id, t["id"], title=t["title"], status=t["status"], amount=amount)
    for ref in damage:
        rc.add_damage_ref(conn, project_id, ref)
    return result


def _not_before(conn: sa.Connection, project_id: int, moment) -> object:
    """DREAM's ``updated`` for a move, unless it is missing or earlier than the last move: then now."""
    if not moment:
        return None
    try:
        when = rc._moment(moment)
    except InvalidInput:
        return None
    last = conn.execute(sa.select(sa.func.max(rc.project_stage.c.entered_at))
                        .where(rc.project_stage.c.project_id == project_id)).scalar()
    return None if last is not None and when < last else when
