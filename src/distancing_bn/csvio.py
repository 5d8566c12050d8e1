"""CSV input and output of batch scoring: every cell read as text, every row kept, in order.

Reading: the header is the first line that is not blank; its delimiter is detected (',', ';'
or tab) unless given. A UTF-8 BOM is dropped; quoted fields (with line breaks and doubled
quotes inside) and ``\\n``, ``\\r\\n`` or ``\\r`` line ends are read as usual. The rows come in
chunks: pyarrow's reader where it can, pandas' C parser from the same row on where pyarrow
gives up (a very long cell, a row with a missing field, bad UTF-8) and for stdin (read as a
stream, at constant memory), one-column files and repeated column names.

Blank lines: a line that is empty or holds only spaces (and tabs, unless the tab is the
delimiter) holds no cell and is skipped, wherever it is and whatever the number of columns.
A quoted blank cell (``""`` or ``"  "``) is a cell, so its line is a row. Both readers follow
this rule, so they count rows alike and the handover from one to the other loses nothing.

Problems become :class:`DataError` naming the file, the data row (1-based, the header not
counted) and the line of the file. Limits: at most :data:`MAX_COLUMNS` columns and a header of
at most :data:`MAX_HEADER_BYTES` bytes.

Writing: each chunk is rendered cell by cell with pyarrow's compute kernels, so the bytes of a
row never depend on the other rows of its chunk: text is written as is and quoted only when it
holds a comma, quote or line break (quotes doubled); missing values are empty; floats are
rounded to 6 significant digits (like ``%.6g``) and written in their shortest form. Unless
``raw_cells`` is set, a text cell a spreadsheet would run as a formula (one that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return and is not a plain number) is written
with a ``'`` in front (the OWASP rule against CSV injection).
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from .errors import DataError, DistancingBNWarning

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_COLUMNS",
    "MAX_HEADER_BYTES",
    "check_separator",
    "detect_separator",
    "file_error",
    "read_csv_chunks",
    "round_significant",
    "write_csv_chunk",
]

MAX_COLUMNS = 10_000  # the widest real survey export we know of has a few hundred
MAX_HEADER_BYTES = 16 << 20
_CELLS_PER_CHUNK = 4_000_000  # a chunk holds at most this many cells (fewer rows for wide files)
_ARROW_BLOCK = 1 << 20  # bytes pyarrow parses at a time (more costs memory, not speed)
_READ_BLOCK = 1 << 16  # bytes read at a time while looking for the header or a bad row
_QUOTE = ord('"')
_LINE_END = re.compile(rb"\r\n|\r|\n")
_DETECTED = ",;\t"
_NEEDS_QUOTES = r'[,"\r\n]'
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_BLANK, _END, _MORE = 0, 1, 2  # what one physical line does to the record it is in


def detect_separator(header: str) -> str:
    """Return the most plausible delimiter of a CSV header line: ',', ';' or tab."""
    counts = dict.fromkeys(_DETECTED, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def check_separator(sep: str) -> str:
    """Return ``sep`` if it can delimit CSV cells (one ASCII character, not a quote or line break)."""
    if not isinstance(sep, str) or len(sep) != 1 or not sep.isascii() or sep in '"\r\n':
        raise DataError(
            f"the delimiter must be one ASCII character other than a quote or a line break, got {sep!r:.40}; "
            "for example ',', ';', '|' or a tab ('tab' on the command line)"
        )
    return sep


# ---------------------------------------------------------------------------- opening the input
def _open(src: str | Path) -> tuple[BinaryIO, str, Path | None]:
    """The binary stream of ``src`` (``'-'``: stdin), its name for messages, and its path."""
    if str(src) == "-":
        return sys.stdin.buffer, "<stdin>", None
    path = Path(src)
    try:
        return open(path, "rb"), str(path), path
    except OSError as exc:
        raise file_error(path, exc, "read") from None


def file_error(path: Path | str, exc: OSError, doing: str) -> DataError:
    """A :class:`DataError` for a file that cannot be ``doing`` (read, write, open), with what to do."""
    if isinstance(exc, FileNotFoundError):
        what = "no such directory" if doing == "write" else "no such file"
        fix = "check the path"
    elif isinstance(exc, IsADirectoryError):
        what, fix = "is a directory", "give the path of a file"
    elif isinstance(exc, PermissionError):
        what, fix = "permission denied", f"check who may {doing} it"
    else:
        what = exc.strerror or type(exc).__name__
        full = exc.errno in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
        fix = "free some space, raise the file size limit or write elsewhere" if full else "check the file"
    return DataError(f"{path}: cannot {doing} the file: {what}; {fix}", file=str(path))


class _Recorded:
    """A ``read`` that keeps every byte it returned (so stdin's first bytes can be read again)."""

    def __init__(self, fh: BinaryIO, name: str, limit: int) -> None:
        self.fh, self.name, self.limit = fh, name, limit
        self.data = bytearray()

    def read(self, n: int) -> bytes:
        if len(self.data) > self.limit:
            raise DataError(
                f"{self.name}: the header (first line) is longer than {self.limit >> 20} MiB; "
                "is this a CSV file with line breaks?",
                file=self.name,
                line=1,
            )
        try:
            block = self.fh.read(n)
        except OSError as exc:
            raise file_error(self.name, exc, "read") from None
        self.data += block
        return block


class _Replay(io.RawIOBase):
    """The bytes already read from a stream, then the rest of the stream; checks UTF-8 as it goes."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = memoryview(head), rest
        self.position = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.bad_utf8_at: int | None = None
        self.hazard: re.Pattern[bytes] | None = None  # set by the reader: see _lone_cr_hazard
        self.name, self.sep = "<stdin>", ","
        self.carry = b""  # the blank end of the previous block, where a hazard may begin

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(self.head):
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
        else:
            data = self.rest.read1(len(buffer)) if hasattr(self.rest, "read1") else self.rest.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        if self.hazard is not None and n:
            data = self.carry + bytes(buffer[:n])
            if self.hazard.search(data):
                raise _refuse_lone_cr(self.name, self.sep, None)
            blank_end = len(data) - len(data.rstrip(b" \t\r\n"))
            self.carry = data[-min(len(data), blank_end + 1, 1 << 16) :]
        if self.bad_utf8_at is None:
            pending = len(self.decoder.getstate()[0])
            try:
                self.decoder.decode(bytes(buffer[:n]), final=n == 0)
            except UnicodeDecodeError as exc:
                self.bad_utf8_at = self.position - pending + exc.start
        self.position += n
        return n


# ---------------------------------------------------------------------------- lines and records
def _physical_lines(read: Callable[[int], bytes]) -> Iterator[tuple[bytes, int]]:
    """Yield every physical line (without its end: ``\\r\\n``, ``\\r`` or ``\\n``) and its offset."""
    pending = bytearray()
    offset = 0  # offset of pending[0] in the stream
    while True:
        block = read(_READ_BLOCK)
        if not block:
            if pending:
                yield bytes(pending[:-1] if pending.endswith(b"\r") else pending), offset
            return
        searched = max(0, len(pending) - 1)  # only a held-back '\r' can end a line before the block
        pending += block
        start = 0
        for m in _LINE_END.finditer(pending, searched):
            if m.end() == len(pending) and m.group() == b"\r":
                break  # perhaps the first half of '\r\n': the next block tells
            yield bytes(pending[start : m.start()]), offset + start
            start = m.end()
        del pending[:start]
        offset += start


class _Records:
    """Where CSV records end, by pandas' rules: a quote opens a field only at its start, ``""``
    inside quotes is a quote, text after a closing quote joins the field, and a blank line
    (spaces, and tabs unless a tab delimits, outside quotes) is no record."""

    def __init__(self, seps: str) -> None:
        self.seps = seps.encode("ascii")  # several while the delimiter is not known yet
        self.blank = bytes(c for c in b" \t" if c not in self.seps)
        self.in_record = self.quoted = False

    def line(self, text: bytes) -> int:
        """Take one physical line; say whether it is blank, ends a record or leaves one open."""
        if not self.in_record:
            if not text.strip(self.blank):
                return _BLANK
            self.in_record, self.quoted = True, False
        elif not self.quoted:  # pragma: no cover - a record only stays open inside quotes
            raise AssertionError
        if not self.quoted and _QUOTE not in text:  # the common case: one line, one record
            self.in_record = False
            return _END
        quoted, start, i, n = self.quoted, not self.quoted, 0, len(text)
        while i < n:
            if quoted:
                j = text.find(b'"', i)
                if j < 0:
                    break
                if j + 1 < n and text[j + 1] == _QUOTE:
                    i = j + 2
                else:
                    quoted, start, i = False, False, j + 1
            elif start and text[i] == _QUOTE:
                quoted, i = True, i + 1
            else:
                j = self._next_sep(text, i)
                if j < 0:
                    break
                start, i = True, j + 1
        self.quoted = quoted
        self.in_record = quoted
        return _MORE if quoted else _END

    def _next_sep(self, text: bytes, i: int) -> int:
        if len(self.seps) == 1:
            return text.find(self.seps, i)
        found = [j for s in self.seps if (j := text.find(bytes((s,)), i)) >= 0]
        return min(found) if found else -1


def _split_fields(record: bytes, sep: bytes) -> list[bytes]:
    """The fields of one record (its line breaks inside quotes kept), by :class:`_Records`' rules."""
    fields: list[bytes] = []
    i, n = 0, len(record)
    while True:
        if i < n and record[i] == _QUOTE:
            parts = []
            i += 1
            while True:
                j = record.find(b'"', i)
                if j < 0:
                    parts.append(record[i:])
                    i = n
                    break
                parts.append(record[i:j])
                if j + 1 < n and record[j + 1] == _QUOTE:
                    parts.append(b'"')
                    i = j + 2
                else:
                    i = j + 1
                    break
            k = record.find(sep, i)
            fields.append(b"".join(parts) + (record[i:] if k < 0 else record[i:k]))
        else:
            k = record.find(sep, i)
            fields.append(record[i:] if k < 0 else record[i:k])
        if k < 0:
            return fields
        i = k + 1


def _first_record(read: Callable[[int], bytes], seps: str) -> tuple[int, int, int] | None:
    """Offsets (start, end) of the first record that is not blank, and its line; None if none."""
    records = _Records(seps)
    start = line_no = 0
    for number, (text, at) in enumerate(_physical_lines(read), 1):
        end = at + len(text)
        if not records.in_record:
            start, line_no = at, number
            if at == 0 and text.startswith(codecs.BOM_UTF8):
                start, text = 3, text[3:]
        if records.line(text) == _END:
            return start, end, line_no
    return None


def _chain(head: bytes, read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """A ``read`` that returns ``head`` first, then what ``read`` returns."""
    position = 0

    def chained(n: int) -> bytes:
        nonlocal position
        if position < len(head):
            block = head[position : position + n]
            position += len(block)
            return block
        return read(n)

    return chained


def _read_header(fh: BinaryIO, name: str, sep: str | None) -> tuple[str, list[str], bytes]:
    """The delimiter, the header's names and every byte read from ``fh`` to find them."""
    recorded = _Recorded(fh, name, MAX_HEADER_BYTES)
    found = _first_record(recorded.read, sep or _DETECTED)
    if found is None:
        raise DataError(f"{name}: the file is empty (no header line)", file=name, line=1)
    separator = sep or detect_separator(_header_text(recorded.data, found, name))
    if sep is None:  # while it was unknown, every candidate delimiter could open a quoted field
        found = _first_record(_chain(bytes(recorded.data), recorded.read), separator) or found
    _header_text(recorded.data, found, name)  # valid UTF-8, or a DataError naming the byte
    raw = bytes(recorded.data[found[0] : found[1]])
    header = [f.decode("utf-8") for f in _split_fields(raw, separator.encode("ascii"))]
    return separator, header, bytes(recorded.data)


def _header_text(data: bytearray, found: tuple[int, int, int], name: str) -> str:
    start, end, line_no = found
    try:
        return bytes(data[start:end]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{name}: the header (line {line_no}) is not valid UTF-8 (byte {start + exc.start}); "
            "save the file as UTF-8",
            file=name,
            line=line_no,
        ) from None


def _locate(path: Path, sep: str, *, line: int | None = None, offset: int | None = None) -> tuple[int | None, int]:
    """Data row (1-based; None for the header) and file line of the record that pandas numbers
    ``line`` (it counts the header, each blank line and each record once), that holds byte
    ``offset``, or (neither given) that a quote left open at the end of the file; ``(None, 0)``
    if there is none."""
    records = _Records(sep)
    counted = -1  # pandas' count minus one; data rows: records after the header
    rows = -1
    first_line = 0
    with open(path, "rb") as fh:
        for number, (text, at) in enumerate(_physical_lines(fh.read), 1):
            if not records.in_record:
                first_line = number
                if at == 0 and text.startswith(codecs.BOM_UTF8):
                    text = text[3:]
            kind = records.line(text)
            if kind == _MORE:
                continue
            counted += 1
            if kind == _END:
                rows += 1
            here = offset is not None and offset <= at + len(text)
            if (line is not None and counted + 1 == line) or here:
                return (rows if kind == _END and rows > 0 else None), first_line
    if line is None and offset is None and records.in_record:
        return (rows + 1 if rows >= 0 else None), first_line
    return None, 0


def _first_bad_utf8(path: Path) -> int | None:
    """Offset of the first byte of ``path`` that is not valid UTF-8, if any."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    position = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 20)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return position - pending + exc.start
            if not block:
                return None
            position += len(block)


def _lone_cr_hazard(sep: str) -> re.Pattern[bytes]:
    """Where pandas' C parser (up to at least 3.1) loses a cell: a blank line that ends with a
    lone ``\r`` and is followed by the delimiter (after such a skipped line it eats the
    delimiter instead of ending the record's first, empty field). The pyarrow reader has no
    such bug; a file the pandas reader must read with this in it is refused, not misread."""
    blank = re.escape(bytes(c for c in b" \t" if c != ord(sep)))
    return re.compile(rb"[\r\n][" + blank + rb"]*\r" + re.escape(sep.encode("ascii")))


def _refuse_lone_cr(name: str, sep: str, line: int | None) -> DataError:
    where = f"line {line}" if line else "a line"
    return DataError(
        f"{name}: {where} is blank and ends with a lone carriage return (\\r) right before a row that "
        f"starts with the delimiter {sep!r}; pandas' CSV reader, which this file needs, would drop that "
        "row's first cell. Convert the line ends to \\n or \\r\\n, or remove the blank line",
        file=name,
        line=line,
    )


def _check_lone_cr(path: Path, name: str, sep: str) -> None:
    """Raise :func:`_refuse_lone_cr` if ``path`` holds the pandas hazard (one C-speed regex pass)."""
    import mmap

    with open(path, "rb") as fh:
        if not os.fstat(fh.fileno()).st_size:
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            found = _lone_cr_hazard(sep).search(data)
            if found is not None:
                blank_starts = found.start() + 1
                line = len(_LINE_END.findall(data[:blank_starts])) + 1
                raise _refuse_lone_cr(name, sep, line)


# ---------------------------------------------------------------------------- reading chunks
def read_csv_chunks(src: str | Path, sep: str | None, chunk_size: int) -> tuple[Iterator[pd.DataFrame], str, list[str]]:
    """Open a CSV file (``'-'``: stdin) for reading in chunks of rows, every cell as text.

    Returns the chunks (pandas DataFrames whose columns are the header's names, in file order;
    at most ``chunk_size`` rows each, fewer for very wide files), the delimiter (``sep`` or
    detected) and the header's names as written. Raises :class:`DataError` for a file that
    cannot be opened, is empty, has a bad header or too many columns, and, while iterating,
    for a row neither reader can parse (row and line named).
    """
    if sep is not None:
        check_separator(sep)
    fh, name, path = _open(src)
    try:
        separator, header, head = _read_header(fh, name, sep)
    except BaseException:
        if path is not None:
            fh.close()
        raise
    if path is not None:
        fh.close()
    if len(header) > MAX_COLUMNS:
        raise DataError(
            f"{name}: the header has {len(header):,} columns; at most {MAX_COLUMNS:,} are supported "
            "(keep the columns the scoring needs: the questions, the mapped columns and the ids)",
            file=name,
            line=1,
        )
    rows = max(1, min(chunk_size, _CELLS_PER_CHUNK // len(header)))
    reader = _Reader(name, path, separator, header, rows)
    if path is None:
        return reader.pandas(_Replay(head, fh)), separator, header
    if len(header) == 1 or max(Counter(header).values()) > 1:
        # one column: pyarrow cannot tell a blank line from a blank cell; repeated names: pyarrow refuses them
        return reader.pandas(None), separator, header
    return reader.with_fallback(), separator, header


class _ArrowGaveUp(Exception):
    """pyarrow could not read the rest of the file; pandas' reader takes over."""


class _Reader:
    """The two readers of one file, and the messages for rows neither can read."""

    def __init__(self, name: str, path: Path | None, sep: str, header: list[str], rows: int) -> None:
        self.name, self.path, self.sep, self.header, self.rows = name, path, sep, header, rows

    def with_fallback(self) -> Iterator[pd.DataFrame]:
        """pyarrow's chunks; if it gives up, pandas' from the same row on.

        pyarrow refuses what pandas reads (rows with a missing field, blank lines of spaces in a
        file of several columns) or reports in its own words (bad UTF-8, unbalanced quotes); the
        rows already read are the same for both (see the module's rule on blank lines).
        """
        done = 0
        try:
            for chunk in self.arrow():
                done += len(chunk)
                yield chunk
            return
        except _ArrowGaveUp:
            pass
        skip = done
        for chunk in self.pandas(None):
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            yield chunk.iloc[skip:].reset_index(drop=True) if skip else chunk
            skip = 0

    def arrow(self) -> Iterator[pd.DataFrame]:
        """Chunks of exactly ``rows`` rows read by pyarrow (C++, multi-threaded), all text."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        try:
            reader = pacsv.open_csv(
                str(self.path),
                read_options=pacsv.ReadOptions(block_size=_ARROW_BLOCK),
                parse_options=pacsv.ParseOptions(delimiter=self.sep, newlines_in_values=True, ignore_empty_lines=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(self.header, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    null_values=[],
                ),
            )
            if reader.schema.names != self.header:
                raise _ArrowGaveUp
            buffered: list[Any] = []
            count = 0
            for batch in reader:
                buffered.append(batch)
                count += batch.num_rows
                while count >= self.rows:
                    table = pa.Table.from_batches(buffered)
                    yield table.slice(0, self.rows).to_pandas()
                    rest = table.slice(self.rows)
                    buffered, count = rest.to_batches(), rest.num_rows
            if count:
                yield pa.Table.from_batches(buffered).to_pandas()
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise _ArrowGaveUp from exc
        except OSError as exc:
            raise file_error(self.name, exc, "read") from None

    def pandas(self, stream: _Replay | None) -> Iterator[pd.DataFrame]:
        """Chunks read by pandas' C parser from the file, or from ``stream`` (stdin)."""
        import pandas as pd

        if stream is None:
            _check_lone_cr(self.path, self.name, self.sep)  # type: ignore[arg-type]
        else:
            stream.hazard, stream.name, stream.sep = _lone_cr_hazard(self.sep), self.name, self.sep
        try:
            reader = pd.read_csv(
                io.BufferedReader(stream, 1 << 20) if stream is not None else self.path,
                sep=self.sep,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding="utf-8-sig",
                chunksize=self.rows,
                skip_blank_lines=True,
                index_col=False,
            )
        except DataError:
            raise
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise self._unreadable(exc, 0, stream) from None
        except OSError as exc:
            raise file_error(self.name, exc, "read") from None
        done = 0
        warned = False
        while True:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", pd.errors.ParserWarning)
                    chunk = next(reader)
            except StopIteration:
                return
            except DataError:
                raise
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                raise self._unreadable(exc, done, stream) from None
            except OSError as exc:
                raise file_error(self.name, exc, "read") from None
            if not warned and any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
                warnings.warn(
                    f"{self.name}: some rows after row {done} have more fields than the header (often a trailing "
                    "delimiter); the fields beyond the header were not read",
                    DistancingBNWarning,
                    stacklevel=2,
                )
                warned = True
            if chunk.shape[1] != len(self.header):  # pragma: no cover - both parse the header alike
                raise DataError(f"{self.name}: the header could not be read consistently", file=self.name, line=1)
            chunk.columns = self.header  # by position: pandas renames blank and repeated names
            done += len(chunk)
            yield chunk

    def _unreadable(self, exc: Exception, done: int, stream: _Replay | None) -> DataError:
        """A :class:`DataError` for the row pandas could not read: which row and line, and why."""
        name = self.name
        text = str(exc)
        if isinstance(exc, UnicodeDecodeError):
            offset = stream.bad_utf8_at if stream is not None else _first_bad_utf8(self.path)  # type: ignore[arg-type]
            if stream is not None or offset is None:
                at = f"byte {offset}" if offset is not None else "a byte"
                return DataError(
                    f"{name}: {at} (after row {done}) is not valid UTF-8; save the file as UTF-8", file=name
                )
            row, line = _locate(self.path, self.sep, offset=offset)  # type: ignore[arg-type]
            where = f"row {row} (line {line})" if row is not None else f"line {line}"
            return DataError(
                f"{name}: {where} is not valid UTF-8 (byte {offset}); save the file as UTF-8",
                file=name,
                row=row,
                line=line or None,
            )
        fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
        eof = "EOF inside string" in text
        if (fields or eof) and stream is None:
            if fields:
                row, line = _locate(self.path, self.sep, line=int(fields.group(2)))  # type: ignore[arg-type]
            else:  # pandas names the line where the file ends: find where the quote opened
                row, line = _locate(self.path, self.sep)  # type: ignore[arg-type]
            where = f"row {row} (line {line})" if row is not None else f"line {line}"
            if fields:
                why = (
                    f"has {fields.group(3)} fields, the header has {fields.group(1)}; a cell that holds "
                    f"the delimiter {self.sep!r} must be in double quotes"
                )
            else:
                why = "opens a double quote that is never closed"
            return DataError(f"{name}: {where} {why}", file=name, row=row, line=line or None)
        if fields:  # stdin: pandas' count of records is all there is
            return DataError(
                f"{name}: record {fields.group(2)} (the header and blank lines counted) has {fields.group(3)} "
                f"fields, the header has {fields.group(1)}; a cell that holds the delimiter {self.sep!r} must "
                "be in double quotes",
                file=name,
            )
        return DataError(f"{name}: cannot read CSV after row {done}: {text[:200]}", file=name, row=done + 1)


# ---------------------------------------------------------------------------- writing
def round_significant(x: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to ``digits`` significant digits; NaN, infinities and zeros are kept."""
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    ok = np.isfinite(x) & (ax > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(ok, digits - 1 - np.floor(np.log10(np.where(ok, ax, 1.0))), 0.0)
    d = np.clip(d, -300, 300)
    scale = 10.0 ** np.abs(d)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.where(d >= 0, np.round(x * scale) / scale, np.round(x / scale) * scale)
    return np.where(ok, out, x)


def _cells(frame: pd.DataFrame, raw: bool) -> list[Any]:
    """Each column of ``frame`` as CSV cells (pyarrow large strings): numbers rounded, text
    defused unless ``raw`` and quoted where needed, missing values empty.

    The text columns are processed as one array (their cells end to end), so a file of many
    columns costs a few kernel calls per chunk, not a few per column.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(frame)
    out: list[Any] = []
    texts: list[Any] = []  # (position in out, array) of the columns that are not floats
    for _, values in frame.items():
        arr = pa.array(values, from_pandas=True)
        if pa.types.is_floating(arr.type):  # digits, '.', 'e', '-', 'inf': never quoted or defused
            rounded = pa.array(round_significant(arr.to_numpy(zero_copy_only=False)), from_pandas=True)
            out.append(pc.fill_null(pc.cast(rounded, pa.large_string()), ""))
        else:
            text = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
            texts.append(
                (len(out), text, arr if pa.types.is_large_string(arr.type) else pc.cast(arr, pa.large_string()))
            )
            out.append(None)
    if not texts:
        return out
    pieces = [c for _, _, a in texts for c in (a.chunks if isinstance(a, pa.ChunkedArray) else (a,))]
    joined = pc.fill_null(pa.concat_arrays(pieces) if pieces else pa.array([], pa.large_string()), "")
    empty = pa.scalar("", pa.large_string())
    if not raw:
        risky = pc.match_substring_regex(joined, _FORMULA_START)
        if pc.any(risky).as_py():
            is_text = np.repeat([t for _, t, _ in texts], n)  # numbers and booleans are never changed
            risky = pc.and_(
                pc.and_(risky, pa.array(is_text)), pc.invert(pc.match_substring_regex(joined, _PLAIN_NUMBER))
            )
            tick = pa.scalar("'", pa.large_string())
            joined = pc.if_else(risky, pc.binary_join_element_wise(tick, joined, empty), joined)
    needs = pc.match_substring_regex(joined, _NEEDS_QUOTES)
    if pc.any(needs).as_py():
        quote = pa.scalar('"', pa.large_string())
        quoted = pc.binary_join_element_wise(quote, pc.replace_substring(joined, '"', '""'), quote, empty)
        joined = pc.if_else(needs, quoted, joined)
    for k, (position, _, _) in enumerate(texts):
        out[position] = joined.slice(k * n, n)
    return out


def defuse_cell(text: str) -> str:
    """``text`` with a ``'`` in front if a spreadsheet would run it as a formula (see the module)."""
    if re.match(_FORMULA_START, text) and not re.match(_PLAIN_NUMBER, text):
        return "'" + text
    return text


def _quote_name(name: str, raw: bool) -> str:
    name = name if raw else defuse_cell(name)
    return '"' + name.replace('"', '""') + '"' if re.search(_NEEDS_QUOTES, name) else name


def write_csv_chunk(frame: pd.DataFrame, fh: Any, *, header: bool, raw_cells: bool = False) -> None:
    """Append ``frame`` to the binary file ``fh`` as UTF-8 CSV lines ending in ``\\n``.

    Text cells (and header names) that a spreadsheet would run as formulas get a ``'`` in
    front unless ``raw_cells``; numbers are never changed.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: list[str] = []
    if header:
        parts.append(",".join(_quote_name(str(c), raw_cells) for c in frame.columns) + "\n")
    if len(frame):
        cells = _cells(frame, raw_cells)
        lines = cells[0] if len(cells) == 1 else pc.binary_join_element_wise(*cells, pa.scalar(",", pa.large_string()))
        if isinstance(lines, pa.ChunkedArray):
            lines = lines.combine_chunks()
        parts.append("\n".join(lines.to_pylist()) + "\n")
    fh.write("".join(parts).encode("utf-8"))
