"""Photos residents attach to reports: recognised by content, turned upright, EXIF stripped, resized.

Only JPEG, PNG and WebP are accepted, recognised from the bytes (Pillow reads the magic numbers),
never from the file name. The stored image is a fresh JPEG re-encoded from pixels only, so no EXIF
(GPS, camera, time) survives; EXIF orientation is applied first so the picture stays upright.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from gis.errors import InvalidInput

# MPO is how Pillow names the multi-picture JPEGs many phone cameras write; the first picture is used.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 3
MAX_SIDE = 2048
THUMB_SIDE = 320
MAX_PIXELS = 50_000_000  # decompression-bomb guard: larger images are refused, not decoded


@dataclass(frozen=True)
class Photo:
    jpeg: bytes
    thumb: bytes
    width: int
    height: int
    # Where the camera says it was taken (lon, lat), read before the EXIF is dropped: a report form
    # may take it as the place. Never stored: the stored JPEG has no EXIF.
    position: tuple[float, float] | None = None


def process_photo(data: bytes, name: str = "photo") -> Photo:
    """Check and clean one uploaded photo; InvalidInput (400) says what is wrong."""
    if not data:
        raise InvalidInput(f"Фото «{name}» порожнє", f"Photo “{name}” is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise InvalidInput(
            f"Фото «{name}» завелике: {len(data) // 1024} КБ, можна до {MAX_PHOTO_BYTES // 1024 // 1024} МБ",
            f"Photo “{name}” is too large: {len(data) // 1024} KB, the limit is {MAX_PHOTO_BYTES // 1024 // 1024} MB")
    not_image = InvalidInput(f"Файл «{name}» не є фото JPEG, PNG чи WebP",
                             f"File “{name}” is not a JPEG, PNG or WebP photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise not_image
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput(f"Фото «{name}» має завелику роздільність", f"Photo “{name}” has too many pixels")
            image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            SyntaxError, ValueError):
        raise not_image from None
    position = gps_position(image)
    image = ImageOps.exif_transpose(image)
    image = _flatten(image)
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return Photo(_jpeg(image), _jpeg(thumb, quality=80), image.width, image.height, position)


def gps_position(image: Image.Image) -> tuple[float, float] | None:
    """The (lon, lat) in the image's EXIF GPS tags, or None when it has none (or nonsense)."""
    try:
        gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"), "S")
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return lon, lat


def _degrees(dms, ref, negative: str) -> float:
    degrees, minutes, seconds = (float(v) for v in dms)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if str(ref).strip().upper() == negative else value


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no transparency."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    # Pixels only: no exif=, no icc_profile=, so no metadata is written.
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def store_photo(conn, table, owner_column: str, owner_id: int, data: bytes, *, name: str = "photo",
                limit: int, **values) -> int:
    """Clean one photo (:func:`process_photo`) and add it after the owner's other photos in ``table``
    (columns: the owner's, position, width, height, data, thumb, and ``values``); its id.

    The caller locks the owner's row first, so two uploads cannot take the same position.
    InvalidInput when the owner has ``limit`` photos already.
    """
    import sqlalchemy as sa

    owner = table.c[owner_column]
    count = conn.execute(sa.select(sa.func.count()).where(owner == owner_id)).scalar_one()
    if count >= limit:
        raise InvalidInput(f"Фото вже {count}; можна до {limit}",
                           f"There are {count} photos already; the limit is {limit}")
    photo = process_photo(data, name)
    position = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.position), 0) + 1)
                            .where(owner == owner_id)).scalar_one()
    return conn.execute(table.insert().values({
        owner_column: owner_id, "position": position, "width": photo.width, "height": photo.height,
        "data": photo.jpeg, "thumb": photo.thumb, **values}).returning(table.c.id)).scalar_one()
