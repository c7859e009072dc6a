"""A small Telegram Bot API on loopback, for running the real bot (python-telegram-bot) in tests.

It speaks the part of the Bot API the hromada's bot uses, over HTTP as Telegram does (form-encoded
requests, ``{"ok": …, "result": …}`` answers): getMe, deleteWebhook, setMyCommands, getUpdates (long
polling over the updates a test injects, each served until a later offset confirms it, as Telegram
does; a test may inject one again, as Telegram re-delivers an update whose confirmation was lost),
sendMessage (recorded with its keyboards), answerCallbackQuery, editMessageText,
editMessageReplyMarkup, getFile and the file download. A chat in ``blocked`` answers sendMessage as a
chat that blocked the bot does (403). Any other method is a 404, and recorded.
"""
from __future__ import annotations

import io
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from PIL import ExifTags, Image

TOKEN = "123456:TEST-token"
BOT = {"id": 123456, "is_bot": True, "first_name": "Громада", "username": "hromada_test_bot",
       "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}
JSON_FIELDS = {"reply_markup", "commands", "allowed_updates", "link_preview_options", "scope"}


def gps_jpeg(lat: float, lon: float, size=(800, 600)) -> bytes:
    """A JPEG with EXIF GPS tags (and a camera name): what a phone sends as an uncompressed file."""
    image = Image.new("RGB", size, (120, 160, 90))
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "Test phone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)

    def dms(value: float):
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 2))

    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", dms(lat)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", dms(lon)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


class FakeBotAPI:
    """The server and what it saw. ``url`` is the base for TELEGRAM_API_URL."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[tuple[str, dict]] = []  # (method, parameters), in order
        self.messages: list[dict] = []  # what the bot sent (sendMessage), as the Bot API answered it
        self.markups: dict[tuple[int, int], dict] = {}  # (chat, message id) → the keyboard it was sent with
        self.files: dict[str, bytes] = {}
        self.blocked: set[int] = set()
        self._updates: list[dict] = []
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._lock = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                api._handle(self)

            def do_POST(self):
                api._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # --- the HTTP side ----------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = unquote(urlsplit(request.path).path)
        if path.startswith(f"/file/bot{self.token}/"):
            data = self.files.get(path.rsplit("/", 1)[1].split(".")[0])
            if data is None:
                return self._reply(request, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
            request.send_response(200)
            request.send_header("Content-Type", "image/jpeg")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
            return
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return self._reply(request, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = path[len(prefix):]
        params = self._params(request)
        with self._lock:
            self.calls.append((method, params))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._reply(request, 404, {"ok": False, "error_code": 404, "description": "Not Found: method"})
        status, result = handler(params)
        if status != 200:
            return self._reply(request, status, {"ok": False, "error_code": status, "description": result})
        self._reply(request, 200, {"ok": True, "result": result})

    @staticmethod
    def _params(request: BaseHTTPRequestHandler) -> dict:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length).decode() if length else ""
        if request.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(body or "{}")
        params = dict(parse_qsl(body or urlsplit(request.path).query))
        for name in JSON_FIELDS & params.keys():
            params[name] = json.loads(params[name])
        return params

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, answer: dict) -> None:
        data = json.dumps(answer).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # a bot stopped while its long poll waited
            pass

    # --- the methods ------------------------------------------------------------------------------------

    def _api_getMe(self, params):
        return 200, BOT

    def _api_deleteWebhook(self, params):
        return 200, True

    def _api_setMyCommands(self, params):
        return 200, True

    def _api_answerCallbackQuery(self, params):
        return 200, True

    def _api_getUpdates(self, params):
        # As Telegram: an update is served until a later call's offset confirms it, so one a stopped bot
        # never received comes again. An update injected again is served again, whatever its id.
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._lock:
            self._updates = [u for u in self._updates if not (u["served"] and u["update"]["update_id"] < offset)]
            while not self._updates and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())
            for entry in self._updates:
                entry["served"] = True
            return 200, [entry["update"] for entry in self._updates]

    def _api_sendMessage(self, params):
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            return 403, "Forbidden: bot was blocked by the user"
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT,
                   "chat": {"id": chat_id, "type": "private"}, "text": params["text"]}
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram gives back inline keyboards only
        with self._lock:
            self.messages.append(message)
            self.markups[(chat_id, message["message_id"])] = markup
            self._lock.notify_all()
        return 200, message

    def _find(self, params) -> dict | None:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        return next((m for m in self.messages if m["chat"]["id"] == chat_id and m["message_id"] == message_id), None)

    def _api_editMessageText(self, params):
        message = self._find(params)
        if message is None:
            return 400, "Bad Request: message to edit not found"
        with self._lock:
            message["text"] = params["text"]
            message.pop("reply_markup", None)
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            self._lock.notify_all()
        return 200, message

    def _api_editMessageReplyMarkup(self, params):
        message = self._find(params)
        if message is None:
            return 400, "Bad Request: message to edit not found"
        with self._lock:
            message.pop("reply_markup", None)
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            self._lock.notify_all()
        return 200, message

    def _api_getFile(self, params):
        file_id = params["file_id"]
        if file_id not in self.files:
            return 400, "Bad Request: invalid file_id"
        return 200, {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(self.files[file_id]),
                     "file_path": f"photos/{file_id}.jpg"}

    # --- what a test does: residents writing, and waiting for the bot -----------------------------------

    def deliver(self, update: dict) -> dict:
        """Queue an update for the bot's next getUpdates (the same one again: a re-delivery)."""
        with self._lock:
            self._updates.append({"update": update, "served": False})
            self._lock.notify_all()
        return update

    def _message(self, user: dict, **content) -> dict:
        return self.deliver({"update_id": next(self._ids), "message": {
            "message_id": next(self._message_ids), "date": int(time.time()), "from": user,
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]}, **content}})

    def text(self, user: dict, text: str) -> dict:
        if text.startswith("/"):
            command = text.split()[0]
            return self._message(user, text=text, entities=[{"type": "bot_command", "offset": 0,
                                                             "length": len(command)}])
        return self._message(user, text=text)

    def location(self, user: dict, lon: float, lat: float) -> dict:
        return self._message(user, location={"longitude": lon, "latitude": lat})

    def photo(self, user: dict, data: bytes, file_id: str) -> dict:
        self.files[file_id] = data
        self.files[f"{file_id}-thumb"] = data
        return self._message(user, photo=[
            {"file_id": f"{file_id}-thumb", "file_unique_id": f"u-{file_id}-thumb", "width": 90, "height": 68,
             "file_size": len(data)},
            {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 800, "height": 600,
             "file_size": len(data)}])

    def press(self, user: dict, message: dict, data: str) -> dict:
        """The resident presses the button ``data`` under the bot's ``message``."""
        return self.deliver({"update_id": next(self._ids), "callback_query": {
            "id": f"cq-{next(self._ids)}", "from": user, "chat_instance": f"ci-{user['id']}", "data": data,
            "message": {k: v for k, v in message.items()}}})

    def sent_to(self, chat_id: int) -> list[dict]:
        with self._lock:
            return [m for m in self.messages if m["chat"]["id"] == chat_id]

    def wait_for(self, chat_id: int, contains: str, *, after: int = 0, timeout: float = 20) -> dict:
        """The first message to the chat, from its ``after``-th on, whose text has ``contains``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for message in [m for m in self.messages if m["chat"]["id"] == chat_id][after:]:
                    if contains in message["text"]:
                        return message
                if time.monotonic() >= deadline:
                    texts = [m["text"][:120] for m in self.messages if m["chat"]["id"] == chat_id]
                    raise AssertionError(f"no message with {contains!r} to {chat_id}; it got: {texts}")
                self._lock.wait(max(0.0, deadline - time.monotonic()))

    def wait_for_call(self, method: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not any(m == method for m, _ in list(self.calls)):
            if time.monotonic() >= deadline:
                raise AssertionError(f"the bot never called {method}")
            time.sleep(0.02)


def buttons(message: dict) -> list[tuple[str, str]]:
    """The inline buttons under a message: (text, callback data)."""
    markup = message.get("reply_markup") or {}
    return [(b["text"], b.get("callback_data")) for row in markup.get("inline_keyboard", []) for b in row]


def user(chat_id: int, language_code: str = "uk", name: str = "Оксана") -> dict:
    return {"id": chat_id, "is_bot": False, "first_name": name, "language_code": language_code}
