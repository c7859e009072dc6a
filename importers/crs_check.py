"""Is the data where Ukraine is? And if not, which CRS did it look like?

After reprojection to EPSG:4326 every feature must fall in Ukraine (with a margin). When it does
not — a shapefile without .prj, a wrong zone, swapped axes — the import stops with a message that
names the CRS the coordinates look like, found by trying the Ukrainian systems from the PROJ
database (UCS-2000 geographic, Gauss–Krüger and TM zones, the oblast local systems LCS-xx, SK-42
and SK-63), instead of loading features into the sea.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyproj

from gis.errors import InvalidInput
from gis.geometry import UKRAINE_BBOX

NAME_PREFIXES = ("UCS-2000", "Pulkovo 1942 / Gauss-Kruger", "Pulkovo 1942 / 3-degree", "SK-63")


@lru_cache(maxsize=1)
def ukrainian_crs_codes() -> list[int]:
    """EPSG codes of the Ukrainian systems (and SK-42 zones over Ukraine), from PROJ's database."""
    codes = []
    for info in pyproj.database.query_crs_info(auth_name="EPSG"):
        if not info.name.startswith(NAME_PREFIXES) or info.deprecated:
            continue
        area = info.area_of_use
        if area is None or area.east < UKRAINE_BBOX[0] or area.west > UKRAINE_BBOX[2] \
                or area.north < UKRAINE_BBOX[1] or area.south > UKRAINE_BBOX[3]:
            continue
        codes.append(int(info.code))
    return sorted(set(codes) | {4284, 28404, 28405, 28406, 28407})


def inside_ukraine(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = UKRAINE_BBOX
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def guess_crs(x: np.ndarray, y: np.ndarray) -> list[str]:
    """The CRSs in which these coordinates land in Ukraine (all of them), best first."""
    guesses = []
    if np.all(inside_ukraine(y, x)):
        guesses.append("EPSG:4326 з переставленими осями (широта, довгота) / with swapped axes (lat, lon)")
    for code in ukrainian_crs_codes():
        try:
            transformer = pyproj.Transformer.from_crs(code, 4326, always_xy=True)
            lon, lat = transformer.transform(x, y, errcheck=False)
        except pyproj.exceptions.ProjError:
            continue
        if np.all(np.isfinite(lon)) and np.all(inside_ukraine(np.asarray(lon), np.asarray(lat))):
            guesses.append(f"EPSG:{code} {pyproj.CRS.from_epsg(code).name}")
    # Gauss–Krüger eastings carry their zone in the millions: 5 599 840 is zone 5, so zone 5 first.
    zone = f"zone {int(np.median(x) // 1_000_000)}"
    return sorted(guesses, key=lambda g: (not g.endswith(zone), "Pulkovo" in g))


def check_in_ukraine(lon: np.ndarray, lat: np.ndarray, raw_x: np.ndarray, raw_y: np.ndarray,
                     crs_name: str, source: str) -> None:
    """Raise InvalidInput naming likely CRSs when any point falls outside Ukraine."""
    ok = inside_ukraine(lon, lat)
    if np.all(ok):
        return
    sample = slice(0, min(len(raw_x), 200))
    guesses = guess_crs(raw_x[sample], raw_y[sample])
    hint_uk = ("; схоже на: " + "; ".join(guesses[:4])) if guesses else \
        "; жодна українська система координат не підходить"
    hint_en = ("; they look like: " + "; ".join(guesses[:4])) if guesses else "; no Ukrainian CRS fits them"
    bad = int((~ok).sum())
    raise InvalidInput(
        f"{source}: {bad} об'єкт(ів) після перетворення з {crs_name} опиняються поза Україною "
        f"(перший: {raw_x[~ok][0]:.6g}, {raw_y[~ok][0]:.6g}){hint_uk}. Вкажіть систему координат: --crs EPSG:…",
        f"{source}: {bad} feature(s) fall outside Ukraine after transforming from {crs_name} "
        f"(first: {raw_x[~ok][0]:.6g}, {raw_y[~ok][0]:.6g}){hint_en}. Give the CRS with --crs EPSG:…",
        guesses=guesses)
