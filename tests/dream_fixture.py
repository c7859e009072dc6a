"""A DREAM-shaped project record for the tests (written by hand, never fetched).

Its shape follows DREAM's public API (``GET /marketplace/public/dream/ideas/{id}``, OpenAPI in
open-contracting/dream-api-docs): ``internal``/``external`` around ``cdu_response`` with multilingual
``title``, ``status``/``statusDetails``, ``parties``, WB-ECO ``additionalClassifications``,
``relatedProcesses`` (UA-RDDP, UA-PROZORRO), ``approaches[].items[].locations`` (UA-CATOTTG) and
``approaches[].budget`` (``budgetBreakdown``, ``finance``), ``contractingProcesses[].summary``.
``financialProgress`` is the one part whose shape is assumed (see importers/dream.py). The project, its
ids, amounts and the register reference are invented; the KATOTTG prefix is the demo hromada's.
"""
from __future__ import annotations

import copy

DREAM_ID = "DREAM-UA-150523-7A1C4E9B"
TENDER = "UA-2024-02-19-004512-a"
DAMAGE_REF = "РПМ-05-2023-000417"
VILLAGE_CODE = "UA05020310010041236"  # an (invented) settlement code inside the demo hromada's prefix

RECORD = {
    "internal": {"id": "2c1f6b0e-8d4a-4c57-9a7e-3f2b1d0c9e11", "code": DREAM_ID, "status": "active:implementation"},
    "external": {"updated": "2025-03-04T10:15:00.000000Z"},
    "cdu_response": {
        "date": "2023-05-15T08:30:00Z",
        "updated": "2025-03-04T10:15:00Z",
        "type": "rehabilitation",
        "purpose": "restoration",
        "title": [{"lang": "uk", "translation": "Капітальний ремонт покрівлі амбулаторії в с. Якушинці"},
                  {"lang": "en", "translation": "Capital repair of the Yakushyntsi outpatient clinic's roof"}],
        "description": [{"lang": "uk", "translation": "Покрівлю пошкоджено уламками 14.05.2023; ремонт із "
                                                      "утепленням горища."}],
        "status": "active",
        "statusDetails": "implementation",
        "parties": [{"id": "UA-EDR-04327072", "roles": ["balancer", "implementer"],
                     "identifier": {"scheme": "UA-EDR", "id": "04327072",
                                    "legalName": "Якушинецька сільська рада"}}],
        "additionalClassifications": [{"scheme": "WB-ECO", "id": "HQ",
                                       "description": "Health Facilities and Construction"}],
        "relatedProcesses": [
            {"scheme": "UA-RDDP", "id": "8f2d0c1a-1b7e-4d9e-b1e5-0c4a9e7d5b21", "identifier": DAMAGE_REF,
             "relationship": "object"},
            {"scheme": "UA-PROZORRO", "id": "5b3e8a90-6c1d-4e0f-9a2b-7d4c1e8f3a60", "identifier": TENDER,
             "relationship": "procurement"},
        ],
        "approaches": [{
            "id": "a1b2c3d4-0000-4000-8000-000000000001",
            "title": "Ремонт із заміною покриття",
            "items": [{"id": "a1b2c3d4-0000-4000-8000-000000000002", "description": "Будівля амбулаторії",
                       "locations": [{"gazetteer": {"scheme": "UA-CATOTTG", "identifiers": [VILLAGE_CODE]},
                                      "description": "с. Якушинці"}]}],
            "budget": {
                "budgetBreakdown": [
                    {"id": "b-1", "amount": {"amount": 3450000.00, "currency": "UAH", "valueAddedTaxIncluded": True},
                     "period": {"startDate": "2024-03-01T00:00:00Z", "endDate": "2025-06-30T00:00:00Z"},
                     "classifications": {"costItem": "construction", "costType": "capex", "budgetType": "agreed"}},
                    {"id": "b-2", "amount": {"amount": 150000.50, "currency": "UAH", "valueAddedTaxIncluded": True},
                     "period": {"startDate": "2023-09-01T00:00:00Z", "endDate": "2023-12-31T00:00:00Z"},
                     "classifications": {"costItem": "design", "costType": "capex", "budgetType": "agreed"}},
                    # the first estimate, superseded by the agreed lines above
                    {"id": "b-0", "amount": {"amount": 3900000.00, "currency": "UAH", "valueAddedTaxIncluded": True},
                     "period": {"startDate": "2023-06-01T00:00:00Z", "endDate": "2024-12-31T00:00:00Z"},
                     "classifications": {"costItem": "construction", "costType": "capex", "budgetType": "original"}},
                ],
                "finance": [
                    {"id": "f-liq", "value": {"amount": 3000000.00, "currency": "UAH"},
                     "period": {"startDate": "2024-01-01T00:00:00Z", "endDate": "2025-12-31T00:00:00Z"},
                     "financeType": "stateFunds", "financeCategory": "liquidationFund",
                     "financingParty": {"id": "liq", "name": "Фонд ліквідації наслідків збройної агресії"}},
                    {"id": "f-local", "value": {"amount": 600000.50, "currency": "UAH"},
                     "period": {"startDate": "2024-01-01T00:00:00Z", "endDate": "2024-12-31T00:00:00Z"},
                     "financeType": "stateFunds", "financeCategory": "localBudget",
                     "financingParty": {"id": "04327072", "name": "Якушинецька сільська рада"}},
                ],
            },
        }],
        "contractingProcesses": [{
            "id": "cp-1", "platform": "national",
            "summary": {
                "date": "2024-02-19T09:00:00Z",
                "title": [{"lang": "uk", "translation": "Капітальний ремонт покрівлі амбулаторії"}],
                "status": "implementation",
                "externaReference": TENDER,
                "tender": {"id": TENDER},
                "contract": {"id": f"{TENDER}-c1", "status": "active", "dateSigned": "2024-03-20T12:00:00Z",
                             "value": {"amount": 3390000.00, "currency": "UAH", "valueAddedTaxIncluded": True}},
            },
        }],
        "financialProgress": [
            {"finance": "f-liq", "disbursed": {"amount": 2000000.00, "currency": "UAH"},
             "spent": {"amount": 1750000.25, "currency": "UAH"}},
            {"finance": "f-local", "disbursed": {"amount": 600000.50, "currency": "UAH"},
             "spent": {"amount": 600000.50, "currency": "UAH"}},
        ],
    },
}


def record(**changes) -> dict:
    """A deep copy of RECORD; ``changes`` replace keys of ``cdu_response`` (``internal=`` the wrapper's)."""
    out = copy.deepcopy(RECORD)
    for key, value in changes.items():
        if key in ("internal", "external"):
            out[key] = value
        else:
            out["cdu_response"][key] = value
    return out
