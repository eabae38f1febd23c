"""An organisation's data export as files: JSON, and a ZIP of one CSV per table.

The data comes from listings.selectors.organization_export_data; this module only writes it.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from django.core.serializers.json import DjangoJSONEncoder

# Spreadsheets run a cell that starts with one of these as a formula (DESIGN.md, "Uploads";
# OWASP CSV injection). Such a text cell is written with a leading single quote.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\0", "\r")
TABLES: Final = ("organization", "members", "sites", "offers", "demands", "matches")


def csv_cell(value: object) -> object:
    """A value as a CSV cell: text that a spreadsheet would run as a formula is quoted with a
    leading apostrophe; numbers (a negative price is a number, not a formula), dates and None
    are written plainly."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_table(rows: Iterable[Mapping[str, Any]], columns: Iterable[str] | None = None) -> str:
    rows = list(rows)
    header = list(columns) if columns is not None else list(rows[0]) if rows else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in header])
    return out.getvalue()


def export_json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()


def export_csv_zip(data: Mapping[str, Any]) -> bytes:
    """A ZIP archive of `<table>.csv` files (UTF-8 with a byte-order mark, so that spreadsheet
    programs read the accents right)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in TABLES:
            value = data[table]
            rows = [value] if isinstance(value, Mapping) else value
            archive.writestr(f"{table}.csv", "\ufeff" + csv_table(rows))
    return buffer.getvalue()
