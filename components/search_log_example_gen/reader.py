"""Reads a search-log CSV file as strict UTF-8 records, each with the lines it spans (pure Python, no Beam).

The python csv module parses (strict dialect, so malformed quoting is an error, not a silent repair); the
lines are decoded one at a time so that an encoding error has an exact line and byte offset.
"""
import csv
import dataclasses
from typing import BinaryIO, Iterator, List, Optional

from components.search_log_example_gen import rules

_BOM = "\ufeff"


@dataclasses.dataclass
class Record:
    """One CSV record: `line` and `last_line` are 1-based physical lines (they differ for quoted newlines)."""
    line: int
    last_line: int
    fields: Optional[List[str]]  # None when the record is not well-formed CSV
    error: Optional[str] = None  # the csv module's message for such a record


class _Lines:
    """The decoded lines of a binary file, strictly UTF-8, counting lines and bytes as it goes."""

    def __init__(self, path: str, binary: BinaryIO, header: Optional[List[str]] = None):
        self.path, self.header = path, header
        self._binary = binary
        self.lines_read = 0
        self.offset = 0
        self.exhausted = False
        self.mark, self.marked_text = 0, ""  # keeps the text of line `mark` (the first line of a record)

    def __iter__(self):
        return self

    def __next__(self) -> str:
        raw = self._binary.readline()
        if not raw:
            self.exhausted = True
            raise StopIteration
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self._encoding_error(raw, error) from None
        if self.lines_read == 0 and text.startswith(_BOM):
            text = text[len(_BOM):]
        self.lines_read += 1
        self.offset += len(raw)
        if self.lines_read == self.mark:
            self.marked_text = text
        return text

    def _encoding_error(self, raw: bytes, error: UnicodeDecodeError) -> rules.InvalidSearchLogError:
        line = self.lines_read + 1
        column = column_at(self.header, raw[:error.start].decode("utf-8").lstrip(_BOM))
        return rules.InvalidSearchLogError(
            f"{rules.location(self.path, line, column)}, byte offset {self.offset + error.start}: rule "
            f"'{rules.ENCODING}': not valid UTF-8 (byte {raw[error.start:error.end].hex(' ')}: {error.reason}); "
            "re-export the file as UTF-8")


def column_at(header: Optional[List[str]], line_prefix: str) -> Optional[str]:
    """The column of the field at the end of a line prefix (right unless a field spans lines)."""
    if header is None:
        return None
    index = len(next(csv.reader([line_prefix]), [""])) - 1 if line_prefix else 0
    return header[index] if index < len(header) else None


def read_header(path: str, binary: BinaryIO) -> List[str]:
    """The column names on line 1; raises InvalidSearchLogError if there is none or it is not UTF-8 CSV."""
    csv.field_size_limit(rules.MAX_FIELD_CHARS)  # process-wide, idempotent: the limit this reader intends
    lines = _Lines(path, binary)
    try:
        header = next(csv.reader(lines, strict=True), None)
    except csv.Error as error:
        raise rules.InvalidSearchLogError(
            f"{rules.location(path, 1)} (header): rule '{rules.HEADER}': not readable as CSV ({error})") from None
    if not header:
        raise rules.InvalidSearchLogError(
            f"{rules.location(path, 1)} (header): rule '{rules.HEADER}': the file has no header line; expected "
            f"the columns {','.join(rules.REQUIRED_COLUMNS)}")
    return header


def read_records(path: str, binary: BinaryIO, header: List[str]) -> Iterator[Record]:
    """The data records after the header, blank lines included (as empty field lists).

    Raises InvalidSearchLogError on a byte that is not UTF-8 and on a quoted field left open at the end.
    """
    csv.field_size_limit(rules.MAX_FIELD_CHARS)
    lines = _Lines(path, binary, header)
    reader = csv.reader(lines, strict=True)
    next(reader, None)  # the header, checked by read_header
    while True:
        line = lines.mark = lines.lines_read + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if lines.exhausted:
                column = column_at(header, lines.marked_text)
                raise rules.InvalidSearchLogError(
                    f"{rules.location(path, line, column)}: rule '{rules.UNTERMINATED_QUOTE}': a quoted field "
                    "opened on this line is never closed, so the rest of the file would be one row") from None
            yield Record(line, lines.lines_read, None, str(error))
            continue
        yield Record(line, lines.lines_read, fields)
