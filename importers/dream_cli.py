"""``hromada import-dream FILE.json``: reconstruction projects from DREAM-shaped records (importers.dream)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from gis import codes, db
from gis.errors import InvalidInput, NotFound


@click.command("import-dream")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@click.option("--hromada", "katottg", default=None,
              help="KATOTTG of the hromada; by default each record's own, from its UA-CATOTTG locations.")
def import_dream_command(path: str, katottg: str | None):
    """Import DREAM project records (a JSON list, the API's {"data": [...]}, or one record). Re-running
    updates the projects by their DREAM id; invalid records are listed with the reason."""
    import sqlalchemy as sa

    from importers.dream import import_dream, read_records

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{Path(path).name}: не JSON ({exc})", f"{Path(path).name}: not JSON ({exc})") from None
    records = read_records(data)
    engine = db.make_engine(db.database_url())
    try:
        with engine.begin() as conn:
            hromada_id = None
            if katottg:
                code = codes.katottg(katottg)
                hromada_id = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"), {"k": code}).scalar()
                if hromada_id is None:
                    raise NotFound(f"Громаду {code} не завантажено", f"Hromada {code} is not loaded")
            report = import_dream(conn, hromada_id, records)
    finally:
        engine.dispose()
    for line in report.lines("uk"):
        click.echo(line)
    for line in report.lines("en"):
        click.echo(line)
