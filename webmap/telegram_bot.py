"""The hromada's Telegram bot (#18): a resident reports a problem in a chat and hears back there.

The conversation (python-telegram-bot's ConversationHandler, in memory): a location, or a typed address
found by the local address search (its suggestions offered as buttons) → a category from those handled
at that point (the web form's list) → a description → photos (optional) → "send": the tracking code
and the private link. What happens to the report comes back to the chat. ``/my`` lists the chat's
reports, ``/lang`` chooses the language (else the Telegram user's, else Ukrainian), ``/cancel``.

Everything about reports is layers.telegram_channel's (the same validation, routing, idempotency and
privacy as the web form; the messages of status changes queued with the change); this module holds the
handlers, keyboards and texts (the gettext catalogues, ``tg_*``), and delivers the queued messages from
a task of the bot's own event loop. Database calls run in a worker thread (``asyncio.to_thread``), so a
slow query never holds up other chats.

Configured by the environment (``BotSettings.from_env``): TELEGRAM_BOT_TOKEN (required),
TELEGRAM_HROMADA (the KATOTTG of the hromada it serves; the demo's by default), TELEGRAM_API_URL (a
local Bot API server, e.g. ``http://127.0.0.1:8081``), HROMADA_PUBLIC_URL (links),
HROMADA_REPORT_RATE_LIMIT (reports per chat, as per client address on the web). Run by ``hromada bot``
(long polling), and by ``hromada run`` beside the web app when a token is set.
"""
from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field

import sqlalchemy as sa
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from gis import config, db
from gis.errors import HromadaError
from gis.photos import MAX_PHOTO_BYTES, MAX_PHOTOS
from layers import telegram_channel as channel
from layers.places import PlaceNotFound
from layers.report_states import STATUSES, readable_report_url
from layers.reports import MAX_DESCRIPTION
from layers.unit_mail import configured_public_url
from webmap.i18n import DEFAULT_LANGUAGE, LANGUAGES, format_date, language_name, t

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO, and the Bot API's URLs hold the token: not in our logs.
logging.getLogger("httpx").setLevel(logging.WARNING)

PLACE, CATEGORY, DESCRIPTION, PHOTOS = range(4)
END = ConversationHandler.END
DRAFT, LANG = "draft", "lang"  # keys of a chat's chat_data
PRIVATE = filters.ChatType.PRIVATE
COMMANDS = ("new", "my", "lang", "cancel")


@dataclass(frozen=True)
class BotSettings:
    token: str
    hromada: str = config.DEMO_KATOTTG
    api_url: str = "https://api.telegram.org"
    public_url: str = field(default_factory=configured_public_url)
    poll_timeout: int = 10  # seconds a getUpdates long poll waits
    delivery_seconds: float = 2.0  # how often queued messages are looked for
    report_rate_limit: str = "10 per minute;60 per hour"  # reports per chat

    @classmethod
    def from_env(cls, env=None) -> BotSettings:
        env = os.environ if env is None else env
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise HromadaError("Не задано TELEGRAM_BOT_TOKEN: створіть бота в @BotFather і вкажіть його токен",
                               "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and give its token")
        return cls(token=token, hromada=env.get("TELEGRAM_HROMADA", "").strip() or config.DEMO_KATOTTG,
                   api_url=(env.get("TELEGRAM_API_URL", "").strip() or cls.api_url).rstrip("/"),
                   public_url=configured_public_url(env.get("HROMADA_PUBLIC_URL")),
                   report_rate_limit=env.get("HROMADA_REPORT_RATE_LIMIT") or cls.report_rate_limit)


def pick(texts: dict, lang: str) -> str:
    """A ``{"uk": …, "en": …}`` text in the language (English for any language but Ukrainian)."""
    return texts["uk"] if lang == "uk" else texts.get("en") or texts["uk"]


def error_text(error: HromadaError, lang: str) -> str:
    """A resident's mistake in their language (the errors speak Ukrainian and English)."""
    return error.message("uk" if lang == "uk" else "en")


def language_of(update: object, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The chat's language: chosen with /lang, else the Telegram user's, else Ukrainian."""
    chosen = context.chat_data.get(LANG) if context.chat_data is not None else None
    if chosen in LANGUAGES:
        return chosen
    user = update.effective_user if isinstance(update, Update) else None
    code = ((user.language_code if user else None) or "").split("-")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def category_data(code: str) -> str:
    return f"cat:{code}"[:64]  # Telegram's limit for callback data; the code is matched on its prefix


class HromadaBot:
    """The bot of one hromada: its handlers and the delivery of queued messages."""

    def __init__(self, settings: BotSettings, engine: sa.Engine):
        self.settings = settings
        self.engine = engine
        with engine.connect() as conn:
            self.hromada = channel.served_hromada(conn, settings.hromada)  # NotFound says what to do
        self.limits = parse_many(settings.report_rate_limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self._stop_delivery = asyncio.Event()
        self._delivery: asyncio.Task | None = None

    # --- the application --------------------------------------------------------------------------------

    def build_application(self) -> Application:
        api = self.settings.api_url
        application = (
            ApplicationBuilder().token(self.settings.token)
            .base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
            .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
            .job_queue(None)  # delivery is a task of the loop (no APScheduler needed)
            .post_init(self._post_init).post_stop(self._post_stop)
            .build())
        with warnings.catch_warnings():
            # Buttons are tracked per chat and user (the default), on purpose: a conversation spans
            # several bot messages. PTB warns about that combination whatever the intent.
            warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
            conversation = ConversationHandler(
                entry_points=[
                    CommandHandler(["start", "new"], self.start, filters=PRIVATE),
                    MessageHandler(PRIVATE & filters.LOCATION, self.begin_with_location),
                    MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND, self.begin_with_address),
                ],
                states={
                    PLACE: [MessageHandler(filters.LOCATION, self.got_location),
                            MessageHandler(filters.TEXT & ~filters.COMMAND, self.got_address),
                            CallbackQueryHandler(self.chose_place, pattern=r"^place:\d+$"),
                            MessageHandler(~filters.COMMAND, self.expect("tg_ask_place"))],
                    CATEGORY: [CallbackQueryHandler(self.chose_category, pattern=r"^cat:"),
                               CallbackQueryHandler(self.chose_place, pattern=r"^place:\d+$"),
                               MessageHandler(filters.LOCATION, self.got_location),
                               MessageHandler(~filters.COMMAND, self.expect("tg_expect_category"))],
                    DESCRIPTION: [MessageHandler(filters.TEXT & ~filters.COMMAND, self.got_description),
                                  MessageHandler(~filters.COMMAND, self.expect("tg_expect_description"))],
                    PHOTOS: [MessageHandler(filters.PHOTO | filters.Document.IMAGE, self.got_photo),
                             CallbackQueryHandler(self.send, pattern=r"^send:\d+$"),
                             MessageHandler(~filters.COMMAND, self.expect("tg_expect_photo"))],
                },
                # /new starts over at any step. (Not allow_reentry: it would put every entry point — any
                # text, any location — before the step's own handlers.)
                fallbacks=[CommandHandler(["start", "new"], self.start, filters=PRIVATE),
                           CommandHandler("cancel", self.cancel),
                           CallbackQueryHandler(self.cancel, pattern="^cancel$")],
                name="report",
            )
        application.add_handler(conversation)
        # Outside a conversation (or not part of its current step).
        application.add_handler(CommandHandler(["start", "new"], self.private_only, filters=~PRIVATE))
        application.add_handler(CommandHandler("my", self.my_reports, filters=PRIVATE))
        application.add_handler(CommandHandler("lang", self.choose_language, filters=PRIVATE))
        application.add_handler(CommandHandler("cancel", self.cancel, filters=PRIVATE))
        application.add_handler(CallbackQueryHandler(self.set_language, pattern=r"^lang:\w+$"))
        # A "send" pressed again, re-delivered, or after a restart: the report filed, never a second one.
        application.add_handler(CallbackQueryHandler(self.send, pattern=r"^send:\d+$"))
        application.add_handler(CallbackQueryHandler(self.stale_button))
        application.add_handler(MessageHandler(PRIVATE & (filters.PHOTO | filters.Document.IMAGE), self.expect(
            "tg_start_first")))
        application.add_error_handler(self.on_error)
        return application

    async def _post_init(self, application: Application) -> None:
        try:
            for lang in LANGUAGES:
                commands = [BotCommand(name, t(f"tg_cmd_{name}", lang)) for name in COMMANDS]
                # The Ukrainian list is also everyone's whose language has none of its own.
                await application.bot.set_my_commands(commands,
                                                      language_code=None if lang == DEFAULT_LANGUAGE else lang)
        except TelegramError as exc:  # the menu of commands is a convenience: the bot works without it
            log.warning("Telegram bot: could not set its commands: %s", exc)
        self._stop_delivery = asyncio.Event()
        self._delivery = asyncio.create_task(self._deliver_forever(application), name="telegram-outbox")
        log.info("Telegram bot @%s serves %s (%s)", application.bot.username, self.hromada.name_uk,
                 self.hromada.katottg)

    async def _post_stop(self, application: Application) -> None:
        # The bot is still connected: a message being sent is sent and marked so.
        self._stop_delivery.set()
        if self._delivery is not None:
            await self._delivery

    # --- helpers ------------------------------------------------------------------------------------

    async def _read(self, fn, *args, **kwargs):
        """``fn(conn, *args)`` in a read-only moment, off the event loop."""
        def run():
            with self.engine.connect() as conn:
                return fn(conn, *args, **kwargs)
        return await asyncio.to_thread(run)

    async def _write(self, fn, *args, **kwargs):
        def run():
            with self.engine.begin() as conn:
                return fn(conn, *args, **kwargs)
        return await asyncio.to_thread(run)

    def _draft(self, update: Update, context: ContextTypes.DEFAULT_TYPE, *, fresh: bool = False) -> channel.Draft:
        draft = context.chat_data.get(DRAFT)
        if fresh or draft is None:
            draft = channel.Draft(started_by=update.effective_message.message_id, lang=language_of(update, context))
            context.chat_data[DRAFT] = draft
        return draft

    @staticmethod
    async def _answer(update: Update) -> None:
        """Acknowledge a button press (the client stops its spinner)."""
        if update.callback_query is not None:
            try:
                await update.callback_query.answer()
            except TelegramError as exc:  # too old a press: nothing to acknowledge
                log.debug("callback answer failed: %s", exc)

    @staticmethod
    async def _drop_buttons(update: Update, text: str | None = None) -> None:
        """The pressed message loses its buttons (a second press would mean nothing); ``text`` replaces it."""
        query = update.callback_query
        if query is None:
            return
        try:
            if text is not None:
                await query.edit_message_text(text)
            else:
                await query.edit_message_reply_markup(None)
        except BadRequest as exc:  # already edited ("message is not modified"), or too old
            log.debug("edit of a pressed message failed: %s", exc)

    def location_keyboard(self, lang: str) -> ReplyKeyboardMarkup:
        return ReplyKeyboardMarkup([[KeyboardButton(t("tg_share_location", lang), request_location=True)]],
                                   resize_keyboard=True, one_time_keyboard=True)

    def send_keyboard(self, draft: channel.Draft, lang: str) -> InlineKeyboardMarkup:
        send = t("tg_send", lang) if draft.photos else t("tg_send_without_photo", lang)
        return InlineKeyboardMarkup([[InlineKeyboardButton(send, callback_data=f"send:{draft.started_by}")],
                                     [InlineKeyboardButton(t("tg_cancel", lang), callback_data="cancel")]])

    def expect(self, key: str):
        """A handler that says what the step expects (a sticker where a place is asked for, …)."""
        async def remind(update: Update, context: ContextTypes.DEFAULT_TYPE):
            lang = language_of(update, context)
            markup = self.location_keyboard(lang) if key == "tg_ask_place" else None
            await update.effective_chat.send_message(t(key, lang, max=MAX_PHOTOS), reply_markup=markup)
        return remind

    # --- the conversation -------------------------------------------------------------------------

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        lang = language_of(update, context)
        self._draft(update, context, fresh=True)
        await update.effective_chat.send_message(t("tg_welcome", lang, hromada=self.hromada.name(lang)),
                                                 reply_markup=self.location_keyboard(lang))
        return PLACE

    async def begin_with_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        self._draft(update, context, fresh=True)
        return await self.got_location(update, context)

    async def begin_with_address(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        self._draft(update, context, fresh=True)
        return await self.got_address(update, context)

    async def got_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        location = update.effective_message.location
        lon, lat = location.longitude, location.latitude
        offered, label = await self._read(self._at_point, lon, lat)
        return await self._offer_categories(update, context, lon, lat, label, offered)

    def _at_point(self, conn: sa.Connection, lon: float, lat: float) -> tuple[list[dict], dict]:
        offered = channel.categories_here(conn, self.hromada, lon, lat)  # outside: OutsideHromada
        return offered, channel.place_of_point(conn, self.hromada, lon, lat)

    async def got_address(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        lang, draft = language_of(update, context), self._draft(update, context)
        try:
            place = await self._read(channel.find_place, self.hromada, update.effective_message.text)
        except PlaceNotFound as exc:
            draft.suggestions = exc.suggestions
            if not exc.suggestions:
                await update.effective_chat.send_message(f"{error_text(exc, lang)}\n{t('tg_place_again', lang)}",
                                                         reply_markup=self.location_keyboard(lang))
                return PLACE
            buttons = [[InlineKeyboardButton(s["label"], callback_data=f"place:{i}")]
                       for i, s in enumerate(exc.suggestions)]
            await update.effective_chat.send_message(f"{error_text(exc, lang)}\n{t('tg_choose_place', lang)}",
                                                     reply_markup=InlineKeyboardMarkup(buttons))
            return PLACE
        return await self._place_found(update, context, place)

    async def chose_place(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
        await self._answer(update)
        draft = self._draft(update, context)
        index = int(update.callback_query.data.split(":")[1])
        if index >= len(draft.suggestions):
            await update.effective_chat.send_message(t("tg_place_again", language_of(update, context)))
            return None  # the step stays as it was
        await self._drop_buttons(update)
        return await self._place_found(update, context, draft.suggestions[index])

    async def _place_found(self, update: Update, context: ContextTypes.DEFAULT_TYPE, place: dict) -> int:
        lang = language_of(update, context)
        offered = await self._read(channel.categories_here, self.hromada, place["lon"], place["lat"])
        label = place["label"] + (f" — {pick(place['note'], lang)}" if place.get("note") else "")
        return await self._offer_categories(update, context, place["lon"], place["lat"],
                                            {"uk": label, "en": label}, offered)

    async def _offer_categories(self, update: Update, context: ContextTypes.DEFAULT_TYPE, lon: float, lat: float,
                                label: dict, offered: list[dict]) -> int:
        lang, draft = language_of(update, context), self._draft(update, context)
        draft.set_place(lon, lat, label, offered)
        chat = update.effective_chat
        await chat.send_message(t("tg_place", lang, place=pick(label, lang)), reply_markup=ReplyKeyboardRemove())
        buttons = [[InlineKeyboardButton(pick(c, lang), callback_data=category_data(c["code"]))] for c in offered]
        await chat.send_message(t("tg_choose_category", lang), reply_markup=InlineKeyboardMarkup(buttons))
        return CATEGORY

    async def chose_category(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        await self._answer(update)
        lang, draft = language_of(update, context), self._draft(update, context)
        wanted = update.callback_query.data
        match = next((c["code"] for c in draft.offered if category_data(c["code"]) == wanted), wanted[4:])
        chosen = draft.choose_category(match)  # not offered here (an old keyboard): InvalidInput
        await self._drop_buttons(update, t("tg_category", lang, category=pick(chosen, lang)))
        await update.effective_chat.send_message(t("tg_ask_description", lang, max=MAX_DESCRIPTION))
        return DESCRIPTION

    async def got_description(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        lang, draft = language_of(update, context), self._draft(update, context)
        draft.describe(update.effective_message.text)  # empty or too long: InvalidInput, the step stays
        summary = t("tg_summary", lang, category=pick(draft.category, lang), place=pick(draft.place, lang),
                    description=draft.description)
        await update.effective_chat.send_message(f"{summary}\n\n{t('tg_ask_photo', lang, max=MAX_PHOTOS)}",
                                                 reply_markup=self.send_keyboard(draft, lang))
        return PHOTOS

    async def got_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        lang, draft = language_of(update, context), self._draft(update, context)
        message = update.effective_message
        attachment = message.photo[-1] if message.photo else message.document  # the largest size
        if attachment.file_size and attachment.file_size > MAX_PHOTO_BYTES:
            await update.effective_chat.send_message(t("tg_photo_too_large", lang,
                                                       mb=MAX_PHOTO_BYTES // 1024 // 1024))
            return PHOTOS
        draft.check_room_for_photo()  # InvalidInput at the limit, before anything is downloaded
        data = await (await attachment.get_file()).download_as_bytearray()
        name = getattr(attachment, "file_name", None) or "photo"
        await asyncio.to_thread(draft.add_photo, bytes(data), name)  # checked, EXIF stripped (gis.photos)
        await update.effective_chat.send_message(t("tg_photo_added", lang, n=len(draft.photos), max=MAX_PHOTOS),
                                                 reply_markup=self.send_keyboard(draft, lang))
        return PHOTOS

    async def send(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
        """File the report — once: a second press, a re-delivered update or one after a restart gets the
        report filed the first time (layers.telegram_channel.file_report)."""
        await self._answer(update)
        lang, chat = language_of(update, context), update.effective_chat
        started_by = int(update.callback_query.data.split(":")[1])
        draft = context.chat_data.get(DRAFT)
        if draft is None or draft.started_by != started_by or not draft.ready():
            earlier = await asyncio.to_thread(channel.earlier_answer, self.engine, chat.id, started_by)
            await self._drop_buttons(update)
            await chat.send_message(t("tg_filed_earlier", lang, code=earlier["code"]) if earlier
                                    else t("tg_expired", lang))
            return END
        if not all(self.limiter.hit(limit, "telegram-chat", str(chat.id)) for limit in self.limits):
            await chat.send_message(t("tg_too_fast", lang))
            return None
        filed = await asyncio.to_thread(channel.file_report, self.engine, chat.id, draft,
                                        public_url=self.settings.public_url)
        context.chat_data.pop(DRAFT, None)
        await self._drop_buttons(update)
        await chat.send_message(self.filed_text(filed, lang))
        return END

    def filed_text(self, filed: channel.Filed, lang: str) -> str:
        answer = filed.answer
        code = answer["code"]
        url = readable_report_url(self.settings.public_url, code)
        if filed.repeated:
            return t("tg_filed_earlier", lang, code=code)
        if answer["joined_existing"]:
            return t("tg_joined", lang, code=code, url=url)
        private_url = f"{url}?{answer['private_url'].split('?', 1)[1]}"  # the same link, readable
        return t("tg_filed", lang, code=code, unit=pick(answer["unit"], lang), url=url, private_url=private_url)

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        await self._answer(update)
        context.chat_data.pop(DRAFT, None)
        await self._drop_buttons(update)
        await update.effective_chat.send_message(t("tg_cancelled", language_of(update, context)),
                                                 reply_markup=ReplyKeyboardRemove())
        return END

    # --- outside the conversation ------------------------------------------------------------------------

    async def private_only(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_chat.send_message(t("tg_private_only", language_of(update, context)))

    async def my_reports(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang, chat = language_of(update, context), update.effective_chat
        rows = await self._read(channel.chat_reports, chat.id, self.hromada.id)
        if not rows:
            await chat.send_message(t("tg_my_none", lang))
            return
        lines = [t("tg_my_title", lang)]
        for row in rows:
            status = STATUSES[row["status"]]
            line = t("tg_my_line", lang, code=row["code"], category=pick(row["category"], lang),
                     status=status.uk if lang == "uk" else status.en, date=format_date(row["created_at"], lang=lang))
            if not row["is_reporter"]:
                line += f" · {t('tg_my_supported', lang)}"
            lines += ["", line, readable_report_url(self.settings.public_url, row["code"])]
        await chat.send_message("\n".join(lines))

    async def choose_language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        buttons = [[InlineKeyboardButton(language_name(lang), callback_data=f"lang:{lang}")] for lang in LANGUAGES]
        await update.effective_chat.send_message(t("tg_choose_language", language_of(update, context)),
                                                 reply_markup=InlineKeyboardMarkup(buttons))

    async def set_language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update)
        lang = update.callback_query.data.split(":")[1]
        if lang not in LANGUAGES:
            return
        context.chat_data[LANG] = lang
        draft = context.chat_data.get(DRAFT)
        if draft is not None:
            draft.lang = lang
        # The chat's reports are told of in it from now on, too.
        await self._write(channel.set_chat_language, update.effective_chat.id, lang)
        await self._drop_buttons(update, t("tg_language_set", lang, language=language_name(lang)))

    async def stale_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button of an earlier step or conversation (or of a bot since restarted)."""
        await self._answer(update)
        await self._drop_buttons(update)
        in_progress = context.chat_data.get(DRAFT) is not None
        await update.effective_chat.send_message(t("tg_button_gone" if in_progress else "tg_expired",
                                                   language_of(update, context)))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A resident's mistake (HromadaError: a place outside, too long a text, a file that is no photo)
        is told in their language, and the step stays; anything else is logged and excused."""
        error = context.error
        if not isinstance(update, Update) or update.effective_chat is None:
            log.warning("Telegram bot: %s", error)
            return
        lang = language_of(update, context)
        if isinstance(error, HromadaError):
            text = error_text(error, lang)
        else:
            log.error("Telegram bot: an update failed", exc_info=error)
            text = t("tg_error", lang)
        await self._answer(update)
        try:
            await update.effective_chat.send_message(text)
        except TelegramError as exc:
            log.warning("Telegram bot: could not tell the chat of an error: %s", exc)

    # --- delivering the queued messages ------------------------------------------------------------------

    async def _deliver_forever(self, application: Application) -> None:
        while not self._stop_delivery.is_set():
            try:
                await self.deliver_due(application.bot)
            except Exception:  # the database away, a bug: delivery must outlive it; the lease brings a message back
                log.exception("Telegram outbox: delivery failed; trying again")
            try:
                await asyncio.wait_for(self._stop_delivery.wait(), timeout=self.settings.delivery_seconds)
            except TimeoutError:
                pass

    async def deliver_due(self, bot, limit: int = 100) -> int:
        """Send what is due now (up to ``limit``); how many were handled."""
        handled = 0
        while handled < limit and not self._stop_delivery.is_set():
            message = await asyncio.to_thread(channel.claim_one, self.engine, self.hromada.id)
            if message is None:
                break
            handled += 1
            try:
                await bot.send_message(message.chat_id, message.text)
            except RetryAfter as exc:  # flood control: this one later, and the rest too
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", PTBDeprecationWarning)
                    wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
                await asyncio.to_thread(channel.record_failure, self.engine, message, str(exc), wait_seconds=seconds)
                break
            except (Forbidden, BadRequest) as exc:  # the resident blocked the bot, or the chat is gone
                log.info("Telegram outbox: message %s not deliverable: %s", message.id, exc)
                await asyncio.to_thread(channel.record_failure, self.engine, message, str(exc), give_up=True)
            except TelegramError as exc:  # the network, Telegram's side: retried with back-off
                log.warning("Telegram outbox: message %s failed (attempt %s): %s", message.id, message.attempts, exc)
                await asyncio.to_thread(channel.record_failure, self.engine, message, str(exc))
            else:
                await asyncio.to_thread(channel.record_sent, self.engine, message.id)
        return handled


# --- running it ---------------------------------------------------------------------------------------------

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
BOOTSTRAP_RETRIES = 5  # getMe and deleteWebhook at start, through a short network outage


class BotThread(threading.Thread):
    """The bot's long polling in a thread of its own (its own event loop), beside the web app."""

    def __init__(self, bot: HromadaBot):
        super().__init__(name="telegram-bot", daemon=True)
        self.bot = bot
        self.application = bot.build_application()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()

    def run(self) -> None:
        try:
            self.loop = new_loop_checking_the_token(self.application)
        except HromadaError as exc:
            log.error("Telegram bot not started: %s", exc)
            return
        finally:
            self._started.set()
        try:
            self.application.run_polling(timeout=self.bot.settings.poll_timeout, allowed_updates=ALLOWED_UPDATES,
                                         bootstrap_retries=BOOTSTRAP_RETRIES, stop_signals=None, close_loop=True)
        except Exception:  # Telegram out of reach at start, a bug: the web app goes on without the bot
            log.exception("Telegram bot stopped")

    def stop(self, timeout: float = 30) -> None:
        """Stop polling, finish what is being sent, and wait for the thread (up to ``timeout`` s)."""
        self._started.wait(timeout)
        waited = 0.0
        # Asked again until it ends: a request that comes while the bot is still starting is not lost.
        while self.is_alive() and waited < timeout:
            if self.loop is not None and not self.loop.is_closed():
                try:
                    self.loop.call_soon_threadsafe(self.application.stop_running)
                except RuntimeError:  # the loop closed meanwhile
                    pass
            self.join(0.5)
            waited += 0.5


def new_loop_checking_the_token(application: Application) -> asyncio.AbstractEventLoop:
    """A new event loop for this thread (run_polling takes it), in which the bot has asked Telegram who
    it is: a refused token is a HromadaError that does not quote it (PTB's own start-up would log a
    trace with the token in it). Telegram out of reach is left to run_polling, which tries again
    (BOOTSTRAP_RETRIES)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(application.bot.initialize())
    except InvalidToken:
        loop.close()
        raise HromadaError("Telegram не прийняв TELEGRAM_BOT_TOKEN: скопіюйте токен з @BotFather повністю",
                           "Telegram refused TELEGRAM_BOT_TOKEN: copy the token from @BotFather in full") from None
    except NetworkError as exc:
        log.warning("Telegram is not reachable yet (%s); trying again", exc)
    return loop


def run_bot(settings: BotSettings | None = None) -> None:
    """``hromada bot``: serve until Ctrl-C or SIGTERM. A wrong token or no way to Telegram is a
    HromadaError (one message, as every command's)."""
    settings = settings or BotSettings.from_env()
    engine = db.make_engine(db.database_url())
    try:
        application = HromadaBot(settings, engine).build_application()
        new_loop_checking_the_token(application)
        application.run_polling(timeout=settings.poll_timeout, allowed_updates=ALLOWED_UPDATES,
                                bootstrap_retries=BOOTSTRAP_RETRIES)
    except NetworkError as exc:
        raise HromadaError(f"Немає зв'язку з Telegram ({settings.api_url}): {exc}",
                           f"Cannot reach Telegram ({settings.api_url}): {exc}") from None
    finally:
        engine.dispose()


def start_in_background() -> BotThread | None:
    """``hromada run``: the bot beside the web app, when TELEGRAM_BOT_TOKEN is set; None otherwise (or
    when it cannot start: the reason is logged, the web app goes on)."""
    if not os.environ.get("TELEGRAM_BOT_TOKEN", "").strip():
        return None
    try:
        thread = BotThread(HromadaBot(BotSettings.from_env(), db.make_engine(db.database_url())))
    except HromadaError as exc:
        log.error("Telegram bot not started: %s", exc)
        return None
    thread.start()
    atexit.register(thread.stop)
    return thread
