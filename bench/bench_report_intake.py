"""Report intake: reports/s through the HTTP API (granian in processes of their own, as deployed) vs. the
same validation + routing + insert done as one raw SQL statement per report, in this script.

The HTTP path does everything a resident's submission does: CSRF check, form validation, routing
with its reasons, tracking code, history event, the unit's notice and its mail in the outbox. The SQL
reference writes the same rows (report, event, unit notice, outbox mail) in one statement. Runs are
paired, HTTP SQL HTTP SQL …, and the median of the rounds' HTTP/SQL throughput ratios is the result
(target ≥ 0.5).
"""
import http.client
import json
import random

import psycopg
from sqlalchemy.engine import make_url

from _common import SHARED_DATA, bench_database, paired, run_in_threads, served_apps
from importers.demo import load_demo

REPORTS = 200  # a round
ROUNDS = 4
THREADS = 4
APPS = 2  # app processes, as `hromada cluster` runs them behind nginx; clients take them in turns
CATEGORIES = ["street_light_out", "pothole", "overflowing_bin", "illegal_dump"]

RAW_SQL = """
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
h AS (SELECT hromada.id, hromada.name_uk FROM hromada JOIN hromada_setup s ON s.hromada_id = hromada.id
        AND s.enabled_at IS NOT NULL, p WHERE ST_Intersects(boundary, p.g) ORDER BY ST_Area(boundary) LIMIT 1),
c AS (SELECT c.id, COALESCE(hc.target_days, c.target_days) AS target_days, c.asset_kind, c.snap_distance_m
      FROM category c CROSS JOIN h LEFT JOIN hromada_category hc ON hc.category_id = c.id AND hc.hromada_id = h.id
      WHERE c.code = %(cat)s AND c.is_active AND COALESCE(hc.enabled, true)),
a AS (SELECT a.responsible_unit_id AS unit_id, a.id AS asset_id FROM asset_responsible a, c, h, p
      WHERE a.kind = c.asset_kind AND a.hromada_id = h.id AND a.responsible_unit_id IS NOT NULL
        AND ST_DWithin(a.geom::geography, p.g::geography, c.snap_distance_m) ORDER BY a.geom <-> p.g LIMIT 1),
ar AS (SELECT u.id AS unit_id FROM unit_category uc JOIN unit u ON u.id = uc.unit_id, c, h, p
       WHERE uc.category_id = c.id AND u.hromada_id = h.id AND uc.area IS NOT NULL AND ST_Intersects(uc.area, p.g)
       ORDER BY ST_Area(uc.area), uc.id LIMIT 1),
d AS (SELECT u.id AS unit_id FROM unit_category uc JOIN unit u ON u.id = uc.unit_id, c, h
      WHERE uc.category_id = c.id AND u.hromada_id = h.id AND uc.scope = 'hromada'
      UNION ALL SELECT s.default_unit_id FROM hromada_setup s, h WHERE s.hromada_id = h.id
      AND s.default_unit_id IS NOT NULL LIMIT 1),
n AS (INSERT INTO report_counter (hromada_id, year, last) SELECT id, 2099, 1 FROM h
      ON CONFLICT (hromada_id, year) DO UPDATE SET last = report_counter.last + 1 RETURNING last),
r AS (INSERT INTO report (code, hromada_id, category_id, unit_id, asset_id, location, description,
                          private_token_hash, routing_rule, routing_reason_uk, routing_reason_en, due_at)
      SELECT 'RAW-' || n.last, h.id, c.id, COALESCE((SELECT unit_id FROM a), (SELECT unit_id FROM ar),
             (SELECT unit_id FROM d)), (SELECT asset_id FROM a), p.g, %(descr)s, md5(random()::text),
             CASE WHEN EXISTS (SELECT 1 FROM a) THEN 'asset' WHEN EXISTS (SELECT 1 FROM ar) THEN 'area'
                  ELSE 'default' END, 'raw', 'raw', now() + make_interval(days => c.target_days)
      FROM h, c, p, n
      WHERE length(btrim(%(descr)s)) BETWEEN 1 AND 2000
      RETURNING id, unit_id, code),
e AS (INSERT INTO report_event (report_id, kind, to_status, to_unit_id)
      SELECT id, 'created', 'new', unit_id FROM r RETURNING id, report_id, to_unit_id),
un AS (INSERT INTO unit_notice (unit_id, report_id, event_id, digested_at)
       SELECT to_unit_id, report_id, id, now() FROM e RETURNING id)
INSERT INTO outbox (to_addr, subject, body, message_id, report_id)
SELECT 'unit@example.org', 'Нове звернення ' || r.code, %(descr)s, '<raw-notice-' || un.id || '@bench>', r.id
FROM r, un RETURNING report_id
"""


def points(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    # Around Якушинці and Зарванці, inside the demo hromada.
    return [{"lon": 28.33 + rng.random() * 0.06, "lat": 49.25 + rng.random() * 0.015,
             "cat": rng.choice(CATEGORIES), "descr": f"Звернення для заміру №{i}"} for i in range(n)]


def http_intake(port: int, items: list[dict]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/api/csrf-token")
    answer = conn.getresponse()
    cookie = answer.getheader("Set-Cookie").split(";")[0]
    token = json.loads(answer.read())["csrf_token"]
    for item in items:
        body = json.dumps({"lat": item["lat"], "lon": item["lon"], "category": item["cat"],
                           "description": item["descr"]})
        conn.request("POST", "/api/reports", body=body, headers={
            "Content-Type": "application/json", "X-CSRFToken": token, "Cookie": cookie})
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise SystemExit(f"HTTP intake failed: {response.status}")
    conn.close()


def sql_intake(dsn: str, items: list[dict]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for item in items:
            if conn.execute(RAW_SQL, item).fetchone() is None:
                raise SystemExit("raw SQL intake inserted nothing")


def main() -> None:
    with bench_database() as (url, engine):
        load_demo(engine, SHARED_DATA)
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with served_apps(url, {"REPORT_RATE_LIMIT": "1000000 per minute"}, processes=APPS, threads=THREADS) as ports:
            warm = points(20, seed=1)
            for port in ports:
                http_intake(port, warm)
            sql_intake(dsn, warm)
            rounds = iter(range(1, 1000))
            clients = iter(range(1_000_000))

            def rate(intake):
                items = points(REPORTS, seed=next(rounds))
                return REPORTS / run_in_threads(intake, items, THREADS)

            result = paired(lambda: rate(lambda chunk: sql_intake(dsn, chunk)),
                            lambda: rate(lambda chunk: http_intake(ports[next(clients) % APPS], chunk)), ROUNDS)
        print(f"{REPORTS} reports a round, {THREADS} concurrent clients, {APPS} app processes, "
              f"{ROUNDS} rounds SQL HTTP SQL HTTP …")
        print("raw SQL reports/s: " + ", ".join(f"{r:.0f}" for r in result.a))
        print("HTTP API reports/s: " + ", ".join(f"{r:.0f}" for r in result.b))
        print(f"median ratio HTTP/SQL throughput: {result.ratio:.2f} (target ≥ 0.5)")


if __name__ == "__main__":
    main()
