"""Internet coverage: providers' coverage areas, speed measurements, public Wi-Fi hotspots.

Speed measurements come two ways: Ookla's open-data tiles (``speed_tiles``: the published schema
as it is — quadkey, avg_d_kbps, avg_u_kbps, avg_lat_ms, tests, devices — one zoom-16 Web Mercator
tile each) and single tests (``speed_tests``: points, residents' own measurements among them).
The white-spot analysis (layers.coverage_analysis) ranks them above the providers' claims.
"""
from __future__ import annotations

import re

from layers.base import CategoryStyle, Editing, Field, Layer, Permissions, Style

TECHNOLOGIES = {
    "ftth": {"uk": "оптика до дому (FTTH)", "en": "fibre to the home (FTTH)"},
    "xdsl": {"uk": "xDSL", "en": "xDSL"},
    "docsis": {"uk": "кабельне (DOCSIS)", "en": "cable (DOCSIS)"},
    "fwa": {"uk": "фіксований радіодоступ (FWA)", "en": "fixed wireless (FWA)"},
    "3g": {"uk": "3G", "en": "3G"},
    "4g": {"uk": "4G", "en": "4G"},
    "5g": {"uk": "5G", "en": "5G"},
}

COVERAGE_AREAS = Layer(
    name="coverage_areas",
    title={"uk": "Зони покриття провайдерів", "en": "Providers' coverage areas"},
    geometry="MultiPolygon",
    table="coverage_area",
    generated_table=True,
    fields=(
        Field("provider", "text", {"uk": "Провайдер", "en": "Provider"}, required=True,
              aliases=("оператор", "operator", "isp")),
        Field("technology", "choice", {"uk": "Технологія", "en": "Technology"}, required=True,
              aliases=("tech", "технологія"), choices=TECHNOLOGIES),
        Field("down_mbps", "number", {"uk": "Швидкість завантаження, Мбіт/с", "en": "Download, Mbit/s"},
              aliases=("download", "down", "завантаження")),
        Field("up_mbps", "number", {"uk": "Швидкість віддачі, Мбіт/с", "en": "Upload, Mbit/s"},
              aliases=("upload", "up", "віддача")),
    ),
    popup=("provider", "technology", "down_mbps", "up_mbps"),
    label_field="provider",
    style=CategoryStyle(field="technology", fill_opacity=0.2, colors={
        "ftth": "#2b8a3e", "docsis": "#5c940d", "xdsl": "#e67700", "fwa": "#1971c2",
        "3g": "#c92a2a", "4g": "#1864ab", "5g": "#5f3dc4"}),
    categories=("no_signal",),
    history="public",
)

WIFI_HOTSPOTS = Layer(
    name="wifi_hotspots",
    title={"uk": "Публічний Wi-Fi", "en": "Public Wi-Fi"},
    geometry="Point",
    table="wifi_hotspot",
    generated_table=True,
    fields=(
        Field("name", "text", {"uk": "Місце", "en": "Place"}, required=True, aliases=("назва", "place")),
        Field("operator", "text", {"uk": "Оператор", "en": "Operator"}, aliases=("оператор",)),
        Field("hours", "text", {"uk": "Години роботи", "en": "Opening hours"},
              aliases=("opening_hours", "години")),
        Field("free", "boolean", {"uk": "Безкоштовно", "en": "Free of charge"},
              aliases=("безкоштовно",)),
        Field("osm_id", "text", {"uk": "Ідентифікатор OSM", "en": "OSM id"}),
    ),
    popup=("name", "operator", "hours", "free"),
    label_field="name",
    categories=("no_signal",),
    permissions=Permissions(editing=Editing()),  # the hromada's admins keep the list
    history="public",
)

NETWORKS = {
    "fixed": {"uk": "фіксований", "en": "fixed"},
    "mobile": {"uk": "мобільний", "en": "mobile"},
}

def ookla_file_values(name: str) -> dict[str, str]:
    """Network and quarter from Ookla's file names: ``2024-01-01_performance_mobile_tiles.parquet``
    → mobile, 2024-Q1; ``gps_fixed_tiles.shp`` → fixed. Files with such columns keep their own."""
    values = {}
    if network := re.search(r"(?<![a-z])(fixed|mobile)(?![a-z])", name.lower()):
        values["network"] = network.group(1)
    if date := re.search(r"(?<!\d)(\d{4})-(0[1-9]|1[0-2])-\d{2}(?!\d)", name):
        values["period"] = f"{date.group(1)}-Q{(int(date.group(2)) - 1) // 3 + 1}"
    return values


SPEED_TILES = Layer(
    name="speed_tiles",
    title={"uk": "Виміряна швидкість (плитки Ookla)", "en": "Measured speed (Ookla tiles)"},
    # A zoom-16 tile is 611.5 m of Web Mercator, 611.5 · cos(latitude) on the ground: ~400 m at 49° N.
    description={"uk": "Середні швидкості тестів Speedtest за квартал у плитках ~400 × 400 м",
                 "en": "Average Speedtest results per quarter in ~400 × 400 m tiles"},
    geometry="MultiPolygon",
    table="speed_tile",
    generated_table=True,
    fields=(
        Field("quadkey", "text", {"uk": "Quadkey плитки", "en": "Tile quadkey"}, required=True),
        Field("network", "choice", {"uk": "Мережа", "en": "Network"}, choices=NETWORKS, aliases=("type",)),
        Field("period", "text", {"uk": "Період", "en": "Period"}, aliases=("quarter", "період")),
        Field("avg_d_kbps", "integer", {"uk": "Завантаження, кбіт/с", "en": "Download, kbit/s"}),
        Field("avg_u_kbps", "integer", {"uk": "Віддача, кбіт/с", "en": "Upload, kbit/s"}),
        Field("avg_lat_ms", "integer", {"uk": "Затримка, мс", "en": "Latency, ms"}),
        Field("avg_lat_down_ms", "integer", {"uk": "Затримка під навантаженням (завантаження), мс",
                                             "en": "Loaded latency (download), ms"},
              aliases=("avg_lat_do",)),  # a .dbf column name holds 10 bytes
        Field("avg_lat_up_ms", "integer", {"uk": "Затримка під навантаженням (віддача), мс",
                                           "en": "Loaded latency (upload), ms"}, aliases=("avg_lat_up",)),
        Field("tests", "integer", {"uk": "Тестів", "en": "Tests"}),
        Field("devices", "integer", {"uk": "Пристроїв", "en": "Devices"}),
    ),
    popup=("network", "period", "avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices"),
    label_field="quadkey",
    style=Style(color="#1864ab", fill_opacity=0.25, weight=1),
    attribution="Speedtest® by Ookla® Global Fixed and Mobile Network Performance Maps (CC BY-NC-SA 4.0)",
    values_from_file_name=ookla_file_values,
)

SPEED_TESTS = Layer(
    name="speed_tests",
    title={"uk": "Вимірювання швидкості", "en": "Speed measurements"},
    description={"uk": "Окремі вимірювання швидкості інтернету, зокрема від мешканців",
                 "en": "Single internet speed measurements, residents' own among them"},
    geometry="Point",
    table="speed_test",
    generated_table=True,
    fields=(
        Field("down_kbps", "integer", {"uk": "Завантаження, кбіт/с", "en": "Download, kbit/s"}, required=True,
              aliases=("download_kbps", "avg_d_kbps")),
        Field("up_kbps", "integer", {"uk": "Віддача, кбіт/с", "en": "Upload, kbit/s"}, required=True,
              aliases=("upload_kbps", "avg_u_kbps")),
        Field("latency_ms", "integer", {"uk": "Затримка, мс", "en": "Latency, ms"}, aliases=("ping", "avg_lat_ms")),
        Field("network", "choice", {"uk": "Мережа", "en": "Network"}, choices=NETWORKS),
        Field("provider", "text", {"uk": "Провайдер", "en": "Provider"}, aliases=("оператор", "isp")),
        Field("tests", "integer", {"uk": "Тестів", "en": "Tests"}),
        Field("devices", "integer", {"uk": "Пристроїв", "en": "Devices"}),
        Field("period", "text", {"uk": "Період", "en": "Period"}),
        Field("measured_at", "datetime", {"uk": "Виміряно", "en": "Measured"}, aliases=("date", "дата")),
    ),
    popup=("down_kbps", "up_kbps", "latency_ms", "network", "provider", "measured_at"),
    style=Style(color="#5f3dc4", fill_opacity=0.8),
    categories=("no_signal",),
)

LAYERS = (COVERAGE_AREAS, SPEED_TILES, SPEED_TESTS, WIFI_HOTSPOTS)


def submit_speed_test(conn, *, lon: float, lat: float, down_mbps: float, up_mbps: float, network: str,
                      latency_ms: int | None = None, provider: str | None = None) -> dict:
    """Store a resident's speed measurement at a point of a hromada served here (422 otherwise).

    Nothing identifies the resident; the row is marked ``source = 'resident'`` so the analysis and
    exports can tell it from Ookla's aggregates.
    """
    import sqlalchemy as sa

    from gis.routing import check_point, require_hromada
    from layers.tables import build_table

    lon, lat = check_point(lon, lat)
    hromada = require_hromada(conn, lon, lat)
    table = build_table(SPEED_TESTS)
    new_id = conn.execute(table.insert().values(
        hromada_id=hromada.id, down_kbps=round(down_mbps * 1000), up_kbps=round(up_mbps * 1000),
        latency_ms=latency_ms, network=network, provider=(provider or "").strip() or None, tests=1, devices=1,
        measured_at=sa.func.now(), geom=sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326),
        source="resident").returning(table.c.id)).scalar_one()
    return {"id": new_id, "hromada": hromada.katottg, "down_kbps": round(down_mbps * 1000),
            "up_kbps": round(up_mbps * 1000)}
