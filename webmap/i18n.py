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
    "base_map": {"uk": "Основа: OpenStreetMap", "en": "Base map: OpenStreetMap"},
    "large_layer": {"uk": "Шар великий: на мапі він малюється тайлами; повний перелік — через", "en": "A large layer: the map draws it from tiles; the full list is in the"},
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
    # reports, resident side
    "report_problem": {"uk": "Повідомити про проблему", "en": "Report a problem"},
    "report_intro": {"uk": "Оберіть місце: клацніть на мапі, або скористайтеся кнопками нижче (мапу можна пересувати стрілками).",
                     "en": "Choose the place: click the map, or use the buttons below (arrow keys move the map)."},
    "use_my_location": {"uk": "Моє місцезнаходження", "en": "Use my location"},
    "use_map_centre": {"uk": "Центр мапи", "en": "Use the map centre"},
    "latitude": {"uk": "Широта", "en": "Latitude"},
    "longitude": {"uk": "Довгота", "en": "Longitude"},
    "category": {"uk": "Категорія", "en": "Category"},
    "choose_place_first": {"uk": "Спершу оберіть місце", "en": "Choose the place first"},
    "description": {"uk": "Опис проблеми", "en": "Description of the problem"},
    "photos": {"uk": "Фото (до 3, JPEG, PNG або WebP)", "en": "Photos (up to 3, JPEG, PNG or WebP)"},
    "your_name": {"uk": "Ваше ім'я (необов'язково)", "en": "Your name (optional)"},
    "your_email": {"uk": "Ел. пошта — щоб отримати відповідь (необов'язково)", "en": "E-mail — to hear back (optional)"},
    "your_phone": {"uk": "Телефон (необов'язково)", "en": "Phone (optional)"},
    "show_name": {"uk": "Показувати моє ім'я публічно", "en": "Show my name publicly"},
    "privacy_note": {"uk": "Ел. пошту й телефон бачать лише працівники громади.",
                     "en": "Only the community's staff see your e-mail and phone."},
    "similar_reports": {"uk": "Схожі звернення поруч — можливо, це одне з них?", "en": "Similar reports nearby — is it one of these?"},
    "me_too": {"uk": "Я теж", "en": "Me too"},
    "submit_report": {"uk": "Надіслати звернення", "en": "Send the report"},
    "report_sent": {"uk": "Звернення надіслано. Код для відстеження:", "en": "Report sent. Tracking code:"},
    "private_link": {"uk": "Ваше особисте посилання (збережіть його):", "en": "Your private link (keep it):"},
    "me_too_done": {"uk": "Дякуємо! Вашу підтримку додано.", "en": "Thank you! Your support was added."},
    # report page
    "report": {"uk": "Звернення", "en": "Report"},
    "status": {"uk": "Стан", "en": "Status"},
    "responsible_unit": {"uk": "Відповідальний підрозділ", "en": "Responsible unit"},
    "village": {"uk": "Населений пункт", "en": "Settlement"},
    "submitted": {"uk": "Подано", "en": "Submitted"},
    "due": {"uk": "Термін", "en": "Due"},
    "reporter": {"uk": "Заявник", "en": "Reporter"},
    "history": {"uk": "Історія", "en": "History"},
    "supporters": {"uk": "Підтримали", "en": "Supporters"},
    "duplicate_of": {"uk": "Дублікат звернення", "en": "Duplicate of"},
    "your_details": {"uk": "Ваші дані (бачите лише ви й працівники громади)", "en": "Your details (only you and the staff see them)"},
    "ev_created": {"uk": "Звернення подано", "en": "Report submitted"},
    "ev_status": {"uk": "Зміна стану", "en": "Status changed"},
    "ev_transfer": {"uk": "Передано до", "en": "Transferred to"},
    "ev_note": {"uk": "Коментар", "en": "Note"},
    "ev_me_too": {"uk": "Ще хтось підтримав", "en": "Someone else supported it"},
    # staff
    "staff": {"uk": "Кабінет працівника", "en": "Staff"},
    "log_in": {"uk": "Увійти", "en": "Log in"},
    "log_out": {"uk": "Вийти", "en": "Log out"},
    "email": {"uk": "Ел. пошта", "en": "E-mail"},
    "password": {"uk": "Пароль", "en": "Password"},
    "login_failed": {"uk": "Неправильна пошта або пароль", "en": "Wrong e-mail or password"},
    "queue": {"uk": "Черга звернень", "en": "Report queue"},
    "filter": {"uk": "Відібрати", "en": "Filter"},
    "all": {"uk": "усі", "en": "all"},
    "open_only": {"uk": "відкриті", "en": "open"},
    "older_than": {"uk": "Старші за", "en": "Older than"},
    "days": {"uk": "дн.", "en": "days"},
    "overdue": {"uk": "прострочено", "en": "overdue"},
    "routing_reason": {"uk": "Чому цей підрозділ", "en": "Why this unit"},
    "change_status": {"uk": "Змінити стан", "en": "Change status"},
    "new_status": {"uk": "Новий стан", "en": "New status"},
    "public_note": {"uk": "Коментар для мешканців (публічний)", "en": "Note for residents (public)"},
    "private_note": {"uk": "Службова нотатка (лише працівникам)", "en": "Internal note (staff only)"},
    "duplicate_code": {"uk": "Код основного звернення (для «дублікат»)", "en": "Original report's code (for “duplicate”)"},
    "transfer": {"uk": "Передати іншому підрозділу", "en": "Transfer to another unit"},
    "unit": {"uk": "Підрозділ", "en": "Unit"},
    "reason": {"uk": "Причина", "en": "Reason"},
    "add_note": {"uk": "Додати нотатку", "en": "Add a note"},
    "save": {"uk": "Зберегти", "en": "Save"},
    "subscribers": {"uk": "Підписників на оновлення", "en": "Subscribers to updates"},
    "phone": {"uk": "Телефон", "en": "Phone"},
    "name_hidden": {"uk": "ім'я приховано від публіки", "en": "name hidden from the public"},
    "no_reports": {"uk": "Звернень немає", "en": "No reports"},
    "imports": {"uk": "Імпорт даних", "en": "Data imports"},
    "import_file": {"uk": "Файл", "en": "File"},
    "import_layer": {"uk": "Шар", "en": "Layer"},
    "raster": {"uk": "растр", "en": "raster"},
    "import_crs": {"uk": "Система координат, якщо у файлі її немає", "en": "CRS, if the file has none"},
    "import_source_layer": {"uk": "Шар усередині файлу (GeoPackage)", "en": "Layer inside the file (GeoPackage)"},
    "import_encoding": {"uk": "Кодування атрибутів (для старих .dbf)", "en": "Attribute encoding (old .dbf)"},
    "import_upsert_key": {"uk": "Поле-ключ для оновлення замість додавання", "en": "Key field: update instead of add"},
    "import_osm_tags": {"uk": "Теги OSM через кому", "en": "OSM tags, comma-separated"},
    "import_title": {"uk": "Назва набору (для растрів)", "en": "Data set title (rasters)"},
    "import_dry_run": {"uk": "пробний запуск, нічого не записувати", "en": "dry run, write nothing"},
    "import_go": {"uk": "Імпортувати", "en": "Import"},
    "import_runs": {"uk": "Попередні імпорти", "en": "Earlier imports"},
    "import_counts": {"uk": "Прийнято / прочитано", "en": "Accepted / read"},
    "import_report": {"uk": "Звіт імпорту", "en": "Import report"},
    "import_read": {"uk": "Прочитано", "en": "Read"},
    "import_accepted": {"uk": "Прийнято", "en": "Accepted"},
    "import_inserted": {"uk": "додано", "en": "inserted"},
    "import_updated": {"uk": "оновлено", "en": "updated"},
    "import_repaired": {"uk": "Виправлено геометрій", "en": "Geometries repaired"},
    "import_rejected": {"uk": "Відхилено", "en": "Rejected"},
    "import_fields": {"uk": "Відповідність полів", "en": "Field mapping"},
    "import_raw": {"uk": "Збережено в raw", "en": "Kept in raw"},
    "import_rejections": {"uk": "Відхилені рядки", "en": "Rejected rows"},
    "import_row": {"uk": "Рядок", "en": "Row"},
    "public_page": {"uk": "Публічна сторінка звернення", "en": "The report's public page"},
    "photo_of": {"uk": "Фото до звернення", "en": "Photo of report"},
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
