"""Files offered for download: one place for their media types, names and the CSV byte-order mark."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

from flask import Response, stream_with_context

from gis.tabular import csv_chunks

BOM = "\ufeff"  # so that spreadsheet programs read the Cyrillic as UTF-8


def attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def csv_download(name: str, header: Sequence[str] | None = None, rows: Iterable[Sequence] = (), *,
                 chunks: Iterator[str] | None = None) -> Response:
    """A CSV file from a header and rows, or from ``chunks`` of CSV text already made; streamed."""
    body = chunks if chunks is not None else csv_chunks(header, rows)

    def with_bom():
        yield BOM.encode("utf-8")
        for chunk in body:
            yield chunk.encode("utf-8")
    # A text/* mimetype gets "; charset=utf-8" from Flask: naming it here too sent it twice.
    return Response(stream_with_context(with_bom()), mimetype="text/csv", headers=attachment(name))


def geojson_download(name: str, collection: dict) -> Response:
    return Response(json.dumps(collection, ensure_ascii=False), mimetype="application/geo+json",
                    headers=attachment(name))
