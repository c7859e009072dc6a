"""Interface language: Ukrainian by default, English as the second.

The language comes from ``?lang=uk|en`` (remembered in a cookie), else the cookie, else Ukrainian.
Interface strings live in MESSAGES; layer titles and field labels come from the layer declarations.
"""
from __future__ import annotations

from flask import g, request

LANGUAGES = ("uk", "en")
DEFAULT_LANGUAGE = "uk"
COOKIE = "lang"

MESSAGES = {
    "site_name": {"uk": "Громада ГІС", "en": "Hromada GIS"},
    "skip_to_content": {"uk": "Перейти до змісту", "en": "Skip to content"},
    "skip_to_list": {"uk": "Перейти до списку об'єктів", "en": "Skip to the list of features"},
    "nav_map": {"uk": "Мапа", "en": "Map"},
    "nav_hromadas": {"uk": "Громади", "en": "Communities"},
    "nav_api": {"uk": "API шарів", "en": "Layer API"},
    "language": {"uk": "Мова", "en": "Language"},
    "open_city_map": {"uk": "Відкрите місто: мапа громади", "en": "Open city: community map"},
    "map_label": {"uk": "Інтерактивна мапа громади. Клавіші-стрілки пересувають мапу, + і − змінюють масштаб.",
                  "en": "Interactive map of the community. Arrow keys pan, + and − zoom."},
    "features_list": {"uk": "Об'єкти на мапі", "en": "Features on the map"},
    "no_features": {"uk": "Немає об'єктів", "en": "No features"},
    "hromadas_title": {"uk": "Територіальні громади", "en": "Territorial communities"},
    "hromadas_none": {"uk": "Жодної громади ще не завантажено. Виконайте: hromada demo load",
                      "en": "No community is loaded yet. Run: hromada demo load"},
    "katottg": {"uk": "Код КАТОТТГ", "en": "KATOTTG code"},
    "name": {"uk": "Назва", "en": "Name"},
    "area_km2": {"uk": "Площа, км²", "en": "Area, km²"},
    "demo_data": {"uk": "Демонстраційні дані: склад старостинських округів, адреси й назва КП вигадані для демонстрації.",
                  "en": "Demo data: the starosta districts, addresses and the enterprise's name are invented for the demo."},
    "data_sources": {"uk": "Межі: © OpenStreetMap contributors (ODbL).",
                     "en": "Boundaries: © OpenStreetMap contributors (ODbL)."},
    "yes": {"uk": "так", "en": "yes"},
    "no": {"uk": "ні", "en": "no"},
    "error": {"uk": "Помилка", "en": "Error"},
    "back_to_map": {"uk": "На мапу", "en": "Back to the map"},
    "not_found": {"uk": "Сторінку не знайдено", "en": "Page not found"},
}


def current_lang() -> str:
    if "lang" not in g:
        asked = request.args.get("lang") or request.cookies.get(COOKIE)
        g.lang = asked if asked in LANGUAGES else DEFAULT_LANGUAGE
    return g.lang


def t(key: str, lang: str | None = None) -> str:
    entry = MESSAGES[key]
    return entry[lang or current_lang()]


def remember_language(response):
    """after_request hook: keep an explicit ?lang= choice in a cookie."""
    asked = request.args.get("lang")
    if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax")
    return response
