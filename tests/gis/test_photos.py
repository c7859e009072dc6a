"""Photos: recognised by content, upright, EXIF (GPS included) gone, resized, thumbnails."""
import io

import pytest
from PIL import Image

from gis.errors import InvalidInput
from gis.photos import MAX_PHOTO_BYTES, process_photo


def image_bytes(fmt: str, size=(400, 300), mode="RGB", exif=None) -> bytes:
    colour = {"RGBA": (200, 30, 30, 128), "L": 128}.get(mode, (200, 30, 30))
    image = Image.new(mode, size, colour)
    out = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def exif_with_gps_and_rotation() -> Image.Exif:
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"  # camera make
    exif[0x8825] = {1: "N", 2: (49.0, 15.0, 30.0), 3: "E", 4: (28.0, 22.0, 1.0)}  # GPS
    return exif


def test_exif_orientation_applied_then_all_exif_stripped():
    raw = image_bytes("JPEG", size=(3000, 2000), exif=exif_with_gps_and_rotation())
    assert b"SecretCam" in raw
    photo = process_photo(raw)
    assert (photo.width, photo.height) == (1365, 2048)  # upright (portrait) and at most 2048 px
    stored = Image.open(io.BytesIO(photo.jpeg))
    assert stored.format == "JPEG" and stored.size == (1365, 2048)
    assert dict(stored.getexif()) == {} and b"SecretCam" not in photo.jpeg and b"Exif" not in photo.jpeg
    assert max(Image.open(io.BytesIO(photo.thumb)).size) == 320
    # Where it was taken is read before the EXIF goes (a form may offer it as the place), not stored.
    assert photo.position == pytest.approx((28 + 22 / 60 + 1 / 3600, 49 + 15 / 60 + 30 / 3600))


def test_a_photo_without_gps_or_with_a_zero_position_has_none():
    assert process_photo(image_bytes("JPEG")).position is None
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x8825] = {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)}  # a camera without a fix
    assert process_photo(image_bytes("JPEG", exif=exif)).position is None
    exif[0x8825] = {1: "S", 2: (33.0, 30.0, 0.0), 3: "W", 4: (70.0, 0.0, 0.0)}
    assert process_photo(image_bytes("JPEG", exif=exif)).position == pytest.approx((-70.0, -33.5))


@pytest.mark.parametrize("fmt, mode", [("PNG", "RGBA"), ("WEBP", "RGB"), ("JPEG", "RGB")])
def test_accepted_formats(fmt, mode):
    photo = process_photo(image_bytes(fmt, mode=mode), f"x.{fmt.lower()}")
    assert (photo.width, photo.height) == (400, 300)


@pytest.mark.parametrize("data, words", [
    (image_bytes("GIF"), "not a JPEG, PNG or WebP"),
    (b"%PDF-1.7 this is not a picture", "not a JPEG, PNG or WebP"),
    (b"\xff\xd8\xff\xe0 truncated jpeg", "not a JPEG, PNG or WebP"),
    (b"", "empty"),
])
def test_refused_by_content_whatever_the_name(data, words):
    with pytest.raises(InvalidInput) as err:
        process_photo(data, "holiday.jpg")
    assert words in err.value.en and "holiday.jpg" in err.value.uk


def test_size_limit():
    with pytest.raises(InvalidInput, match="too large"):
        process_photo(b"\xff\xd8" + b"0" * MAX_PHOTO_BYTES, "big.jpg")


def test_decompression_bomb_is_refused():
    bomb = image_bytes("PNG", size=(12000, 12000), mode="L")  # 144 Mpx, a few hundred KB compressed
    with pytest.raises(InvalidInput):
        process_photo(bomb, "bomb.png")


def test_multi_picture_jpeg_from_phones_is_accepted():
    out = io.BytesIO()
    first, second = Image.new("RGB", (640, 480), (10, 20, 30)), Image.new("RGB", (320, 240), (0, 0, 0))
    first.save(out, format="MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"
    photo = process_photo(out.getvalue(), "phone.jpg")
    assert (photo.width, photo.height) == (640, 480)
