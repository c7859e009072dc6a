"""``hromada coverage …``: the white-spot analysis of internet coverage (layers.coverage_analysis)."""
from __future__ import annotations

import click

from gis import config, db


@click.group("coverage")
def coverage_group():
    """Internet coverage: white spots per settlement and hex cell."""


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:5.1f} %"


@coverage_group.command("analyse")
@click.option("--hromada", "katottg", default=config.DEMO_KATOTTG, show_default=True,
              help="KATOTTG code of the hromada.")
@click.option("--hex-size", "hex_size", default=1000.0, show_default=True, type=float,
              help="Side of the hex cells, metres (100…20000).")
@click.option("--test-radius", "test_radius", default=150.0, show_default=True, type=float,
              help="Radius a single speed test stands for, metres.")
def analyse_command(katottg: str, hex_size: float, test_radius: float):
    """Recompute the white spots of a hromada and store them as a new run."""
    from gis import hromadas
    from layers.coverage_analysis import address_layer_in, analyse, latest_run, results
    from layers.registry import LAYERS

    engine = db.make_engine(db.database_url())
    try:
        with engine.begin() as conn:
            hromada_id = hromadas.hromada_id(conn, katottg)
            run_id = analyse(conn, hromada_id, hex_size_m=hex_size, test_radius_m=test_radius,
                             address_layer=address_layer_in(LAYERS))
            run = latest_run(conn, hromada_id)
            settlements = results(conn, run_id, "settlement")
    finally:
        engine.dispose()
    s, ev = run["summary"], run["evidence"]
    click.echo(f"розрахунок / run {run_id} ({run['computed_at']:%Y-%m-%d %H:%M %Z}), {katottg}: "
               f"{s['settlements']} населених пунктів / settlements, {s['hexes']} шестикутників / hexes")
    click.echo(f"докази / evidence: {ev['speed_tiles']} speed tiles, {ev['speed_tests']} speed tests, "
               f"{ev['coverage_areas']} coverage areas, {len(ev['rasters'])} raster(s)"
               + (f", {len(ev['rasters_skipped'])} skipped" if ev["rasters_skipped"] else ""))
    click.echo("громада / hromada: площа / area — "
               + ", ".join(f"{c} {_pct(s['area_' + c])}" for c in ("unserved", "underserved", "served", "unknown")))
    if s["population"]:
        click.echo("                   населення / population — "
                   + ", ".join(f"{c} {_pct(s['pop_' + c])}" for c in ("unserved", "underserved", "served",
                                                                     "unknown")))
    click.echo("найбільший розрив / worst gap (share below 100/20: area, population):")
    for r in settlements[:10]:
        click.echo(f"  {r['name']:<24} {_pct(r['gap_area'])}  {_pct(r['gap_population'])}")
