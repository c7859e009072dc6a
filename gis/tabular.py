"""The one CSV writer: rows of plain values to CSV text, in chunks for streaming.

Values are written as a reader of the file expects them: nothing for a missing value, ISO 8601
for dates and times, exact decimals as written. The byte-order mark that spreadsheet programs
need to read Cyrillic as UTF-8 is the download's business (webmap.downloads), not the writer's,
so that the text can also go into files and tests as it is.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence

BATCH = 2000  # rows a chunk


def cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return value


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence], *, batch: int = BATCH) -> Iterator[str]:
    """The header line, then the rows ``batch`` at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for n, row in enumerate(rows, start=1):
        writer.writerow([cell(v) for v in row])
        if n % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    return "".join(csv_chunks(header, rows))
