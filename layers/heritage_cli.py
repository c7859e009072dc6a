"""``hromada routes …`` (e-routes from YAML/JSON files) and ``hromada heritage add-photo``."""
from __future__ import annotations

import json
from pathlib import Path

import click

from gis import db
from gis.errors import InvalidInput


def read_route_file(path: str) -> dict:
    """A route file: YAML (``.yaml``/``.yml``) or JSON; InvalidInput when it cannot be parsed."""
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.lower().endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{Path(path).name}: не вдалося прочитати: {exc}",
                           f"{Path(path).name}: cannot be read: {exc}") from None


@click.group("routes")
def routes_group():
    """Heritage e-routes: ordered stops (heritage objects or free points), GPX, printable page."""


def _write(path: str, update: bool) -> None:
    from layers import eroutes

    spec = eroutes.parse_route(read_route_file(path))
    engine = db.make_engine(db.database_url())
    try:
        with engine.begin() as conn:
            (eroutes.update_route if update else eroutes.create_route)(conn, spec)
            summary = eroutes.route_summary(conn, spec.code)
    finally:
        engine.dispose()
    click.echo(f"{summary['code']}: {len(summary['stops'])} зупинок / stops, {summary['length_m'] / 1000:.2f} км, "
               f"пішки / walking {summary['walking_min']} хв, велосипедом / cycling {summary['cycling_min']} хв "
               f"→ /routes/{summary['code']}")


@routes_group.command("create")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
def routes_create(path: str):
    """Add the route described in PATH (YAML or JSON; see layers.eroutes.parse_route)."""
    _write(path, update=False)


@routes_group.command("update")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
def routes_update(path: str):
    """Replace the route with PATH's code by PATH (texts and every stop)."""
    _write(path, update=True)


@routes_group.command("delete")
@click.argument("code")
def routes_delete(code: str):
    from layers import eroutes

    engine = db.make_engine(db.database_url())
    try:
        with engine.begin() as conn:
            eroutes.delete_route(conn, code)
    finally:
        engine.dispose()
    click.echo(f"{code}: видалено / deleted")


@routes_group.command("list")
@click.option("--hromada", "katottg", default=None, help="KATOTTG code (default: the demo hromada).")
def routes_list(katottg: str | None):
    from gis import config
    from layers import eroutes
    from layers.admin_areas import hromada_id_by_code

    engine = db.make_engine(db.database_url())
    try:
        with engine.connect() as conn:
            rows = eroutes.list_routes(conn, hromada_id_by_code(conn, katottg or config.DEMO_KATOTTG))
    finally:
        engine.dispose()
    for r in rows:
        demo = "\t(демо)" if r["is_demo"] else ""
        click.echo(f"{r['code']}\t{r['title_uk']}\t{r['stops']}\t{r['length_m'] / 1000:.2f} км{demo}")


@click.group("heritage")
def heritage_group():
    """Cultural heritage objects."""


@heritage_group.command("add-photo")
@click.argument("object_id", type=int)
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@click.option("--caption", default=None)
@click.option("--author", default=None)
@click.option("--licence", default=None, help="e.g. CC BY-SA 4.0")
def add_photo(object_id: int, path: str, caption, author, licence):
    """Add a photo (JPEG, PNG or WebP; EXIF, GPS included, is removed) to heritage object OBJECT_ID."""
    from layers.heritage import add_photo as add

    engine = db.make_engine(db.database_url())
    try:
        with engine.begin() as conn:
            photo_id = add(conn, object_id, Path(path).read_bytes(), name=Path(path).name, caption=caption,
                           author=author, licence=licence)
    finally:
        engine.dispose()
    click.echo(f"фото / photo #{photo_id} → /heritage/objects/{object_id}")
