"""Forms (WTForms via Flask-WTF): what residents and staff send, checked with bilingual messages."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, EmailField, FloatField, IntegerField, MultipleFileField, PasswordField,
                     SelectField, StringField, TextAreaField)
from wtforms.validators import AnyOf, Email, InputRequired, Length, NumberRange, Optional, Regexp

from gis.errors import InvalidInput
from layers.reports import MAX_DESCRIPTION


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


class ReportForm(NoCsrfForm):
    lat = FloatField("Широта", validators=[InputRequired(REQUIRED), NumberRange(
        -90, 90, Bilingual("широта має бути між −90 і 90", "latitude must be between −90 and 90"))])
    lon = FloatField("Довгота", validators=[InputRequired(REQUIRED), NumberRange(
        -180, 180, Bilingual("довгота має бути між −180 і 180", "longitude must be between −180 and 180"))])
    category = StringField("Категорія", validators=[InputRequired(REQUIRED)])
    description = TextAreaField("Опис", validators=[
        InputRequired(Bilingual("опишіть проблему", "describe the problem")),
        Length(max=MAX_DESCRIPTION, message=Bilingual(f"до {MAX_DESCRIPTION} знаків",
                                                      f"at most {MAX_DESCRIPTION} characters"))])
    name = StringField("Ім'я", validators=[Optional(), Length(max=200, message=Bilingual("до 200 знаків",
                                                                                          "at most 200 characters"))])
    email = EmailField("Ел. пошта", validators=[Optional(), Email(
        Bilingual("неправильна адреса ел. пошти", "not a valid e-mail address"), check_deliverability=False)])
    phone = StringField("Телефон", validators=[Optional(), Regexp(
        r"^\+?[0-9 ()\-]{7,20}$", message=Bilingual("неправильний номер телефону", "not a valid phone number"))])
    # Only a clear yes publishes the name: "0", "no", "off" and "ні" stay private.
    show_name = BooleanField("Показувати моє ім'я", default=False,
                             false_values=("false", "0", "no", "off", "ні", "n", ""))
    asset_id = IntegerField("Об'єкт", validators=[Optional()])
    photos = MultipleFileField("Фото")


def _speed(label: str, top: int) -> FloatField:
    return FloatField(label, validators=[InputRequired(REQUIRED), NumberRange(0, top, Bilingual(
        f"від 0 до {top} Мбіт/с", f"from 0 to {top} Mbit/s"))])


class SpeedTestForm(NoCsrfForm):
    """A resident's own speed measurement (Mbit/s as speed-test apps show it)."""
    lat = ReportForm.lat
    lon = ReportForm.lon
    down_mbps = _speed("Завантаження, Мбіт/с", 10_000)
    up_mbps = _speed("Віддача, Мбіт/с", 10_000)
    latency_ms = IntegerField("Затримка, мс", validators=[Optional(), NumberRange(0, 10_000, Bilingual(
        "від 0 до 10000 мс", "from 0 to 10000 ms"))])
    network = StringField("Мережа", validators=[InputRequired(REQUIRED), AnyOf(
        ("fixed", "mobile"), Bilingual("fixed (фіксований) або mobile (мобільний)", "fixed or mobile"))])
    provider = StringField("Провайдер", validators=[Optional(), Length(max=100, message=Bilingual(
        "до 100 знаків", "at most 100 characters"))])


class InspectionForm(NoCsrfForm):
    """A road inspection recorded by staff (the scale and PCI are checked by layers.roads)."""
    condition = StringField("Стан (1–5)", validators=[InputRequired(REQUIRED), AnyOf(
        ("1", "2", "3", "4", "5"), Bilingual("від 1 (аварійний) до 5 (відмінний)", "1 (failed) to 5 (excellent)"))])
    pci = FloatField("PCI", validators=[Optional(), NumberRange(0, 100, Bilingual("від 0 до 100", "0 to 100"))])
    inspected_on = DateField("Дата огляду", validators=[InputRequired(REQUIRED)])
    note = TextAreaField("Примітка", validators=[Optional(), Length(max=2000, message=Bilingual(
        "до 2000 знаків", "at most 2000 characters"))])


class MeTooForm(NoCsrfForm):
    email = EmailField("Ел. пошта", validators=[Optional(), Email(
        Bilingual("неправильна адреса ел. пошти", "not a valid e-mail address"), check_deliverability=False)])


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
