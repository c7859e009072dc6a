"""Forms (WTForms via Flask-WTF): what residents and staff send, checked with bilingual messages."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, FloatField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional, Regexp

from gis.errors import InvalidInput


class Bilingual(str):
    """A validation message in both languages; reads as "uk / en" where one string is needed."""

    def __new__(cls, uk: str, en: str):
        obj = super().__new__(cls, f"{uk} / {en}")
        obj.uk, obj.en = uk, en
        return obj


def raise_for(form: FlaskForm) -> None:
    """Turn a form's errors into one InvalidInput (400) listing every field's problem."""
    uk, en, fields = [], [], {}
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        for error in errors:
            uk.append(f"{label}: {getattr(error, 'uk', error)}")
            en.append(f"{name}: {getattr(error, 'en', error)}")
            fields.setdefault(name, []).append({"uk": getattr(error, "uk", str(error)),
                                                "en": getattr(error, "en", str(error))})
    raise InvalidInput("; ".join(uk), "; ".join(en), fields=fields)


REQUIRED = Bilingual("обов'язкове поле", "required")


class NoCsrfForm(FlaskForm):
    """CSRF is checked for every request by CSRFProtect (form field or X-CSRFToken header)."""

    class Meta:
        csrf = False


# The residents' and staff's JSON APIs (reports, speed tests, "me too", road inspections) take
# pydantic models instead: webmap.api_models, validated by webmap.openapi.


class LoginForm(FlaskForm):
    email = EmailField("Ел. пошта", validators=[InputRequired(REQUIRED)])
    password = PasswordField("Пароль", validators=[InputRequired(REQUIRED)])


class StatusForm(FlaskForm):
    # The allowed transitions are checked by the status machine (layers.reports), not by the form.
    status = SelectField("Новий стан", validators=[InputRequired(REQUIRED)], choices=[], validate_choice=False)
    public_note = TextAreaField("Коментар для мешканців", validators=[Optional(), Length(max=2000)])
    private_note = TextAreaField("Службова нотатка", validators=[Optional(), Length(max=2000)])
    duplicate_of = StringField("Код основного звернення (для дубліката)", validators=[Optional(), Length(max=40)])
    # Resolving a pothole may record the repair on its road segment, with the condition after it.
    repair_condition = StringField("Стан дороги після ремонту", validators=[Optional(), Length(max=1)])


class TransferForm(FlaskForm):
    unit_id = SelectField("Підрозділ", coerce=int, validators=[InputRequired(REQUIRED)], choices=[],
                          validate_choice=False)
    reason = TextAreaField("Причина", validators=[InputRequired(REQUIRED), Length(max=2000)])


class NoteForm(FlaskForm):
    public_note = TextAreaField("Коментар для мешканців", validators=[Optional(), Length(max=2000)])
    private_note = TextAreaField("Службова нотатка", validators=[Optional(), Length(max=2000)])


class ModerationForm(FlaskForm):
    """One moderation act (layers.moderation): which, and the photo, text or reason it needs."""
    action = StringField("Дія", validators=[InputRequired(REQUIRED), Length(max=20)])
    position = StringField("Фото", validators=[Optional(), Length(max=3)])
    text = TextAreaField("Опис для мешканців", validators=[Optional(), Length(max=2000)])
    reason = TextAreaField("Причина", validators=[Optional(), Length(max=500)])


class AssignForm(FlaskForm):
    user_id = StringField("Кому", validators=[Optional(), Length(max=12)])  # empty: the unit as a whole


class TemplateForm(FlaskForm):
    title = StringField("Назва", validators=[Optional(), Length(max=200)])
    body = TextAreaField("Текст", validators=[Optional(), Length(max=2000)])
    category = StringField("Категорія", validators=[Optional(), Length(max=60)])
    delete = StringField("Видалити", validators=[Optional(), Length(max=12)])


# --- the hromada set-up console (issue #14, webmap/console.py) -------------------------------------
# Choices are checked with AnyOf (bilingual messages), not WTForms' own English "Not a valid choice";
# the set-up core (gis.hromada_setup) checks everything again and has the last word. Choices are
# plain strings (WTForms 3.3 deprecates tuples); the templates render the options in the page's language.
from wtforms import RadioField, SelectMultipleField, ValidationError  # noqa: E402

from gis.models import ASSIGNMENT_SCOPES, UNIT_KINDS, UNIT_NOTIFY_MODES  # noqa: E402

CODE_RULE = Regexp(r"^[a-z0-9_]+$", message=Bilingual("лише малі латинські літери, цифри та _",
                                                      "only lower-case Latin letters, digits and _"))
TARGET_DAYS = NumberRange(1, 365, Bilingual("від 1 до 365 днів", "from 1 to 365 days"))


def email_list(text: str | None) -> list[str]:
    """Addresses separated by commas, semicolons, spaces or new lines."""
    import re

    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def _valid_emails(_form, field) -> None:
    from email_validator import EmailNotValidError, validate_email

    for address in email_list(field.data):
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError:
            raise ValidationError(Bilingual(f"неправильна адреса ел. пошти: {address}",
                                            f"not a valid e-mail address: {address}")) from None


def _geojson(_form, field) -> None:
    import json

    if not (field.data or "").strip():
        return
    try:
        value = json.loads(field.data)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValidationError(Bilingual("це не GeoJSON: намалюйте ділянку на мапі або вставте GeoJSON-полігон",
                                        "this is not GeoJSON: draw the area on the map or paste a GeoJSON polygon"))


class UnitForm(FlaskForm):
    code = StringField("Код", validators=[InputRequired(REQUIRED), Length(max=60, message=Bilingual(
        "до 60 знаків", "at most 60 characters")), CODE_RULE])
    name_uk = StringField("Назва українською", validators=[InputRequired(REQUIRED), Length(max=300, message=Bilingual(
        "до 300 знаків", "at most 300 characters"))])
    name_en = StringField("Назва англійською", validators=[Optional(), Length(max=300, message=Bilingual(
        "до 300 знаків", "at most 300 characters"))])
    kind = SelectField("Вид", choices=list(UNIT_KINDS), validate_choice=False, validators=[
        InputRequired(REQUIRED), AnyOf(UNIT_KINDS, Bilingual("оберіть вид зі списку", "choose a kind from the list"))])
    emails = TextAreaField("Адреси ел. пошти", validators=[Optional(), _valid_emails])
    phone = StringField("Телефон", validators=[Optional(), Regexp(
        r"^\+?[0-9 ()\-]{7,20}$", message=Bilingual("неправильний номер телефону", "not a valid phone number"))])
    has_accounts = RadioField("Як працює", choices=["yes", "no"], default="yes",
                              validate_choice=False, validators=[InputRequired(REQUIRED), AnyOf(
                                  ("yes", "no"), Bilingual("оберіть один з варіантів", "choose one of the options"))])
    notify_mode = RadioField("Сповіщення", choices=list(UNIT_NOTIFY_MODES), default="each",
                             validate_choice=False, validators=[InputRequired(REQUIRED), AnyOf(
                                 UNIT_NOTIFY_MODES,
                                 Bilingual("оберіть один з варіантів", "choose one of the options"))])


class DistrictForm(FlaskForm):
    code = UnitForm.code
    name_uk = UnitForm.name_uk
    name_en = UnitForm.name_en
    # Ids of the hromada's villages; an unknown one is named by the core (gis.hromada_setup).
    settlements = SelectMultipleField("Населені пункти", choices=[], validate_choice=False)


class AssignmentForm(FlaskForm):
    category = SelectField("Категорія", choices=[], validate_choice=False, validators=[InputRequired(REQUIRED)])
    unit = SelectField("Підрозділ", choices=[], validate_choice=False, validators=[InputRequired(REQUIRED)])
    scope = RadioField("Де", choices=list(ASSIGNMENT_SCOPES), default="hromada", validate_choice=False,
                       validators=[InputRequired(REQUIRED), AnyOf(ASSIGNMENT_SCOPES, Bilingual(
                           "оберіть один з варіантів", "choose one of the options"))])
    district = SelectField("Старостинський округ", choices=[], validate_choice=False, validators=[Optional()])
    villages = SelectMultipleField("Населені пункти", choices=[], validate_choice=False)
    area = TextAreaField("Ділянка (GeoJSON)", validators=[Optional(), _geojson])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        # What each scope needs, next to the field that is missing.
        needs = {"district": (self.district, Bilingual("оберіть округ", "choose a district")),
                 "villages": (self.villages, Bilingual("оберіть хоча б один населений пункт",
                                                       "choose at least one village")),
                 "area": (self.area, Bilingual("намалюйте ділянку на мапі або вставте GeoJSON",
                                               "draw the area on the map or paste GeoJSON"))}
        if self.scope.data in needs:
            field, message = needs[self.scope.data]
            if not field.data or (isinstance(field.data, str) and not field.data.strip()):
                field.errors = [*field.errors, message]
                ok = False
        return ok


class DefaultUnitForm(FlaskForm):
    unit = SelectField("Підрозділ за замовчуванням", choices=[], validate_choice=False, validators=[Optional()])


class LocalCategoryForm(FlaskForm):
    code = StringField("Код", validators=[InputRequired(REQUIRED), Length(max=60, message=Bilingual(
        "до 60 знаків", "at most 60 characters")), CODE_RULE])
    name_uk = UnitForm.name_uk
    name_en = StringField("Назва англійською", validators=[InputRequired(REQUIRED), Length(max=300, message=Bilingual(
        "до 300 знаків", "at most 300 characters"))])
    target_days = IntegerField("Строк, днів", validators=[Optional(), TARGET_DAYS], invalid_value_message=Bilingual(
        "ціле число днів", "a whole number of days"))


class ConsoleActionForm(FlaskForm):
    """Only the CSRF token: deleting, saving a table of switches whose fields the view reads."""


class PreviewForm(NoCsrfForm):
    """A GET form: it changes nothing."""
    lat = FloatField("Широта", validators=[InputRequired(REQUIRED), NumberRange(-90, 90, Bilingual(
        "широта має бути між −90 і 90", "latitude must be between −90 and 90"))], invalid_value_message=Bilingual(
        "широта — число, напр. 49.23", "the latitude is a number, e.g. 49.23"))
    lon = FloatField("Довгота", validators=[InputRequired(REQUIRED), NumberRange(-180, 180, Bilingual(
        "довгота має бути між −180 і 180", "longitude must be between −180 and 180"))], invalid_value_message=Bilingual(
        "довгота — число, напр. 28.41", "the longitude is a number, e.g. 28.41"))
    category = SelectField("Категорія", choices=[], validate_choice=False, validators=[InputRequired(REQUIRED)])
