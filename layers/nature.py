"""Protected natural and park sites (природно-заповідний фонд)."""
from __future__ import annotations

from layers.base import CategoryStyle, Field, Layer

PROTECTED_AREAS = Layer(
    name="protected_areas",
    title={"uk": "Природно-заповідний фонд", "en": "Protected areas"},
    description={"uk": "Заповідні території та об'єкти: заказники, пам'ятки природи, парки-пам'ятки садово-паркового "
                       "мистецтва", "en": "Protected sites: zakazniks, natural monuments, parks of garden art"},
    geometry="Point",
    table="protected_area",
    generated_table=True,
    fields=(
        Field("register_no", "text", {"uk": "Реєстраційний номер", "en": "Register number"},
              aliases=("Реєстраційний номер", "ref", "register")),
        Field("name_uk", "text", {"uk": "Назва", "en": "Name (Ukrainian)"}, required=True,
              aliases=("Унормована назва", "name:uk", "name", "назва")),
        Field("name_en", "text", {"uk": "Назва латиницею", "en": "Name"},
              aliases=("Унормована назва латиницею", "name:en")),
        Field("kind", "text", {"uk": "Вид об'єкта", "en": "Kind"},
              aliases=("Вид географічного об'єкту", "Вид географічного об'єкта", "type")),
        Field("significance", "choice", {"uk": "Значення", "en": "Significance"},
              aliases=("Адміністративний статус", "status"), choices={
                  "national": {"uk": "загальнодержавного значення", "en": "national"},
                  "local": {"uk": "місцевого значення", "en": "local"},
              }),
        Field("oblast", "text", {"uk": "Область", "en": "Oblast"},
              aliases=("Адміністративно-територіальна одиниця (АР Крим, область)",)),
        Field("raion", "text", {"uk": "Район", "en": "Raion"}, aliases=("Район",)),
    ),
    popup=("name_uk", "kind", "significance", "register_no"),
    label_field="name_uk",
    style=CategoryStyle(field="significance", colors={"national": "#2b8a3e", "local": "#66a80f"},
                        fill_opacity=0.7),
    attribution="Державний реєстр географічних назв (land.gov.ua), gontsa/geonames-ua, CC BY 4.0",
    licence="CC BY 4.0",
    source="Державний реєстр географічних назв, via gontsa/geonames-ua (2018)",
)

LAYERS = (PROTECTED_AREAS,)
