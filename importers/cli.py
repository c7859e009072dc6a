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


@click.command("import")
@click.argument("layer_name", metavar="LAYER")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--source-layer", default=None, help="Layer inside a GeoPackage or OSM file.")
@click.option("--crs", default=None, help="CRS of a file that has none (or overrides it), e.g. EPSG:5563.")
@click.option("--map", "mappings", multiple=True, metavar="SRC=DST", help="Source column → layer field (repeatable).")
@click.option("--upsert-key", default=None, help="Field whose known values update rows instead of adding them.")
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option("--encoding", default=None, help="Text encoding of an attribute file without one, e.g. cp1251.")
@click.option("--osm-tag", "osm_tags", multiple=True, metavar="KEY[=VALUE]", help="OSM tag filter (repeatable).")
@click.option("--lat", default=None, help="CSV: latitude column.")
@click.option("--lon", default=None, help="CSV: longitude column.")
@click.option("--wkt", default=None, help="CSV: WKT geometry column.")
@click.option("--title", default=None, help="Raster layers: the data set's title.")
@click.option("--mapping", "saved_mapping", default=None, metavar="NAME",
              help="A saved field mapping, importers/mappings/NAME.json (row filter, columns, value maps).")
@click.option("--hromada", "katottg", default=None, metavar="KATOTTG",
              help="`import gtfs FEED.zip --hromada KATOTTG`: the hromada whose public transport the feed replaces.")
@click.option("--realtime-url", default=None, metavar="URL",
              help="`import gtfs`: the operator's GTFS-Realtime feed (vehicle positions and trip updates).")
def import_command(layer_name, path, source_layer, crs, mappings, upsert_key, dry_run, encoding, osm_tags,
                   lat, lon, wkt, title, saved_mapping, katottg, realtime_url):
    """Import PATH (GeoJSON, GeoPackage, zipped Shapefile, KML, CSV, OSM XML/PBF; GeoTIFF and other
    rasters into a raster layer) into LAYER; `gtfs` takes a GTFS feed (zip) for a hromada's public transport."""
    from gis.errors import InvalidInput

    if layer_name == "gtfs":
        _import_gtfs(path, katottg, dry_run, realtime_url)
        return
    from importers.pipeline import ImportOptions, import_file
    from layers.rasters import RASTER_LAYERS
    from layers.registry import get_layer

    if layer_name in RASTER_LAYERS:
        from importers.rasters import import_raster

        click.echo(import_raster(db.make_engine(db.database_url()), RASTER_LAYERS[layer_name], path,
                                 crs=crs, title=title).summary())
        return

    mapping = {}
    for item in mappings:
        if "=" not in item:
            raise InvalidInput(f"--map {item!r}: потрібно КОЛОНКА=ПОЛЕ", f"--map {item!r}: expected COLUMN=FIELD")
        src, dst = item.split("=", 1)
        mapping[src] = dst
    options = ImportOptions(
        source_layer=source_layer, crs=crs, mapping=mapping, upsert_key=upsert_key, dry_run=dry_run,
        encoding=encoding,
        osm_filters=[(t.split("=", 1)[0], t.split("=", 1)[1] if "=" in t else None) for t in osm_tags],
        csv_columns={k: v for k, v in {"lat": lat, "lon": lon, "wkt": wkt}.items() if v})
    if saved_mapping:
        from importers import saved_mappings

        options = saved_mappings.apply(saved_mappings.load_mapping(saved_mapping), get_layer(layer_name), options)
    engine = db.make_engine(db.database_url())
    try:
        report = import_file(engine, get_layer(layer_name), path, options)
    finally:
        engine.dispose()  # no pooled connection left for the garbage collector
    click.echo(report.summary("uk"))
    click.echo(f"(звіт / report: import_run #{report.run_id})")


def _import_gtfs(path: str, katottg: str | None, dry_run: bool, realtime_url: str | None = None) -> None:
    from gis.errors import InvalidInput
    from importers.gtfs import import_gtfs

    if not katottg:
        raise InvalidInput("import gtfs: вкажіть --hromada KATOTTG", "import gtfs: give --hromada KATOTTG")
    engine = db.make_engine(db.database_url())
    try:
        report = import_gtfs(engine, path, katottg, dry_run=dry_run, realtime_url=realtime_url)
    finally:
        engine.dispose()
    click.echo(report.summary("uk"))
    click.echo(report.summary("en"))


@click.command("export")
@click.argument("layer_name", metavar="LAYER")
@click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg", "csv"]), default="geojson", show_default=True)
@click.option("--headings", type=click.Choice(["uk", "en"]), default=None, help="Column names from the field labels.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Default: LAYER.FORMAT")
def export_command(layer_name, fmt, headings, output):
    """Export LAYER as open data (public fields only), with a LAYER.FORMAT.metadata.json sidecar."""
    import json

    from layers import export
    from layers.registry import get_layer

    layer = get_layer(layer_name)
    engine = db.make_engine(db.database_url())
    output = output or f"{layer.name}.{fmt}"
    if fmt == "gpkg":
        count = export.write_gpkg(engine, layer, output, headings)
    else:
        chunks = export.geojson_chunks if fmt == "geojson" else export.csv_chunks
        with open(output, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as f:
            for chunk in chunks(engine, layer, headings):
                f.write(chunk)
        count = None
    meta = export.metadata(engine, layer)
    with open(output + ".metadata.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=2)
    click.echo(f"{output}: {count if count is not None else meta['feature_count']} об'єктів / features "
               f"(+ {output}.metadata.json)")


@click.group("synthetic")
def synthetic_group():
    """Synthetic layers for load tests (flagged as synthetic)."""


@synthetic_group.command("load")
@click.option("--points", default=1_000_000, show_default=True)
@click.option("--roads", default=200_000, show_default=True)
def synthetic_load(points: int, roads: int):
    """Fill the synthetic layers with POINTS points and ROADS road segments over Ukraine."""
    from layers.synthetic import load_synthetic

    with db.make_engine(db.database_url()).begin() as conn:
        load_synthetic(conn, points, roads)
    click.echo(f"synthetic_points: {points}, synthetic_roads: {roads}")


@synthetic_group.command("national")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True, max=10), default=1.0, show_default=True,
              help="Share of the national totals (2 M reports, 1 M lamps, 0.5 M roads, 1 M parcels, 0.1 M venues).")
@click.option("--seed", type=int, default=20, show_default=True, help="The same seed gives the same data.")
@click.option("--limit-hromadas", type=click.IntRange(min=1), default=None,
              help="Fill only the first N hromadas (by KATOTTG) not yet set up, with the whole share among them.")
@click.option("--source", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Boundaries to load (default: ../shared/data/ukraine/ukraine_hromadas.gpkg).")
@click.option("--with-history", is_flag=True,
              help="Keep the history triggers on (a feature_version row for every generated feature).")
def synthetic_national(scale: float, seed: int, limit_hromadas: int | None, source: str | None, with_history: bool):
    """Every hromada not yet set up, set up and filled with three years of flagged-synthetic reports, lamps,
    roads, parcels and venues (importers/national.py); hromadas already set up (the demo) are left alone."""
    from importers.national import generate_national

    engine = db.make_engine(db.database_url())
    try:
        report = generate_national(engine, scale=scale, seed=seed, limit_hromadas=limit_hromadas, source=source,
                                   history=with_history, progress=lambda line: click.echo(f"  {line}"))
    finally:
        engine.dispose()
    click.echo(report.summary("uk"))
    click.echo(report.summary("en"))


@click.command("import-addresses")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--hromada", "katottg", default=None,
              help="KATOTTG of the hromada to import into; by default every loaded hromada takes what lies in it.")
def import_addresses_command(path: str, katottg: str | None):
    """Import address points and streets from an OpenStreetMap extract (.osm XML or .osm.pbf) for the
    address search (/api/places); re-importing the same file changes nothing."""
    from importers.osm_addresses import import_osm_addresses

    engine = db.make_engine(db.database_url())
    try:
        report = import_osm_addresses(engine, path, katottg=katottg)
    finally:
        engine.dispose()
    click.echo(report.summary("uk"))
    click.echo(report.summary("en"))
