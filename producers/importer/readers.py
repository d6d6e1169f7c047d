"""Reading an export file record by record: JSON (an array, or `{"data": [...]}`), JSON Lines
or CSV, streamed so that an export of millions of dossiers needs little memory.

Each record comes with its row number, as an operator finds it again: the position in the JSON
array (from 1), the line number in a JSON Lines file, the data row in a CSV file (the header is
row 0, so a spreadsheet shows it on line row + 1). A record that is not an object is yielded
with a `problem` instead of data; a file that stops being readable raises `ExportError`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from iocmon.producers.importer.errors import ExportError

Format = Literal["json", "jsonl", "csv"]
FormatChoice = Literal["auto", "json", "jsonl", "csv"]
"""What --format takes: a format, or auto (by the file's name and first bytes)."""
FORMATS: tuple[FormatChoice, ...] = ("auto", "json", "jsonl", "csv")
ENCODING = "utf-8-sig"  # tolerate the byte-order mark spreadsheet programs write
_CHUNK = 1 << 20
_MAX_RECORD_CHARS = 64 << 20
_SNIFF_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class SourceRecord:
    row: int
    data: dict[str, Any] | None
    problem: str | None = None


class ByteCounter(io.RawIOBase):
    """A binary file that counts the bytes read through it, for progress reports."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self._raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        self.bytes_read += n or 0
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def detect_format(path: Path) -> Format:
    """The export's format from its first bytes (an extension can lie; `.json` files are often
    JSON Lines): `[` is a JSON array; `{` is JSON Lines when the first line is a whole object
    on its own (and not a `{"data": [...]}` wrapper), else JSON; anything else is CSV.
    """
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        first_line = text.split("\n", 1)[0]
        try:
            doc = json.loads(first_line)
        except ValueError:
            return "json"
        if isinstance(doc, dict) and isinstance(doc.get("data"), list):
            return "json"
        return "jsonl"
    return "csv"


def read_export(
    path: Path, fmt: Format, counter: ByteCounter | None = None
) -> Iterator[SourceRecord]:
    """Every record of the export, in file order."""
    raw = counter if counter is not None else ByteCounter(path.open("rb"))
    newline = "" if fmt == "csv" else None
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding=ENCODING, newline=newline)
    try:
        if fmt == "json":
            yield from _json_records(text)
        elif fmt == "jsonl":
            yield from _jsonl_records(text)
        else:
            yield from _csv_records(text)
    except UnicodeDecodeError:
        raise ExportError(
            f"the export is not UTF-8 text (first bad byte near offset {raw.bytes_read}); "
            "save it as UTF-8 and run again"
        ) from None
    finally:
        text.close()


def _jsonl_records(text: TextIO) -> Iterator[SourceRecord]:
    for line_no, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError):
            yield SourceRecord(line_no, None, "is not valid JSON")
            continue
        yield _record(line_no, doc)


def _record(row: int, doc: object) -> SourceRecord:
    if isinstance(doc, dict):
        return SourceRecord(row, doc)
    return SourceRecord(row, None, "is not a JSON object (one dossier per record)")


def _csv_records(text: TextIO) -> Iterator[SourceRecord]:
    csv.field_size_limit(min(sys.maxsize, 1 << 30))
    header_line = text.readline()
    if not header_line.strip():
        return
    delimiter = max(",;\t", key=header_line.count)
    header = [name.strip() for name in next(csv.reader([header_line], delimiter=delimiter))]
    reader = csv.reader(text, delimiter=delimiter)
    row = 0
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row += 1
            yield SourceRecord(row, dict(zip(header, cells, strict=False)))
    except csv.Error:
        raise ExportError(
            f"the CSV export cannot be read after data row {row} (a quote is not closed?)"
        ) from None


class _JsonStream:
    """Incremental JSON reading over a text stream, one value at a time."""

    def __init__(self, text: TextIO) -> None:
        self._text = text
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._text.read(_CHUNK)
        if not chunk:
            self._eof = True
            return False
        if self._pos > _CHUNK:
            self._buf, self._pos = self._buf[self._pos :], 0
        self._buf += chunk
        return True

    def peek(self) -> str:
        """The next non-whitespace character ("" at the end)."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in " \t\r\n\ufeff":
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def take(self, expected: str, where: str) -> None:
        found = self.peek()
        if found != expected:
            raise ExportError(f"the JSON export is malformed {where} (expected '{expected}')")
        self._pos += 1

    def value(self, where: str) -> Any:
        self.peek()
        while True:
            try:
                doc, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError:
                if len(self._buf) - self._pos < _MAX_RECORD_CHARS and self._fill():
                    continue
                raise ExportError(f"the JSON export is malformed {where}") from None
            except RecursionError:
                raise ExportError(f"the JSON export is nested too deeply {where}") from None
            if end == len(self._buf) and self._fill():
                continue  # a number or literal may go on in the next chunk
            self._pos = end
            return doc


def _json_records(text: TextIO) -> Iterator[SourceRecord]:
    stream = _JsonStream(text)
    first = stream.peek()
    if first == "[":
        yield from _array(stream)
    elif first == "{":
        yield from _wrapped(stream)
    else:
        raise ExportError('a JSON export must be an array of dossiers or {"data": [...]}')
    if stream.peek() != "":
        raise ExportError("the JSON export has data after its end")


def _wrapped(stream: _JsonStream) -> Iterator[SourceRecord]:
    stream.take("{", "at its start")
    found = False
    if stream.peek() == "}":
        stream.take("}", "at its end")
        raise ExportError("the JSON object has no 'data' array of dossiers")
    while True:
        key = stream.value("in a top-level key")
        stream.take(":", "after a top-level key")
        if key == "data" and stream.peek() == "[":
            found = True
            yield from _array(stream)
        else:
            stream.value("in a top-level value")
        if stream.peek() == ",":
            stream.take(",", "between top-level fields")
            continue
        stream.take("}", "at the end of the top-level object")
        break
    if not found:
        raise ExportError("the JSON object has no 'data' array of dossiers")


def _array(stream: _JsonStream) -> Iterator[SourceRecord]:
    stream.take("[", "at the start of the array")
    if stream.peek() == "]":
        stream.take("]", "at the end of the array")
        return
    row = 0
    while True:
        row += 1
        where = f"at record {row}"
        yield _record(row, stream.value(where))
        if stream.peek() == ",":
            stream.take(",", f"after record {row}")
            continue
        stream.take("]", f"after record {row}")
        return
