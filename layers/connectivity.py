"""Internet coverage: providers' coverage areas and public Wi-Fi hotspots."""
from __future__ import annotations

from layers.base import CategoryStyle, Field, Layer

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
)

LAYERS = (COVERAGE_AREAS, WIFI_HOTSPOTS)
