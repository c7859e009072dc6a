"""``hromada communities …`` and ``hromada demo …``: loading boundaries and the demo community."""
from __future__ import annotations

import click

from gis import db


@click.group("communities")
def communities_group():
    """Hromada boundaries and settlements."""


@communities_group.command("load")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--katottg", "codes", multiple=True, help="Load only this KATOTTG code (repeatable).")
@click.option("--layer", default=None, help="Layer of a multi-layer file (GeoPackage).")
def communities_load(path: str, codes: tuple[str, ...], layer: str | None):
    """Load hromada boundaries from PATH (GeoPackage, GeoJSON, …); re-running changes nothing."""
    from importers.communities import load_communities

    report = load_communities(db.make_engine(db.database_url()), path, katottg=list(codes) or None, layer=layer)
    click.echo(report.summary("uk"))


@communities_group.command("settlements")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--layer", default=None)
def settlements_load(path: str, layer: str | None):
    """Load settlements (village polygons, centre points) into the hromadas that contain them."""
    from importers.communities import load_settlements

    click.echo(load_settlements(db.make_engine(db.database_url()), path, layer=layer).summary("uk"))


@click.group("demo")
def demo_group():
    """The demo community (Якушинецька громада)."""


@demo_group.command("load")
def demo_load():
    """Load the demo hromada, villages, units and categories from ../shared/data."""
    from importers.demo import load_demo

    for report in load_demo(db.make_engine(db.database_url())):
        click.echo(report.summary("uk"))
