"""CSV input and output of batch scoring: every cell read as text, every row kept, in order.

Reading: the delimiter is detected from the header line (or given), a UTF-8 BOM is dropped,
blank lines are skipped, quoted fields and CRLF line ends are read as usual, and the file comes
in chunks of rows (pandas' C parser). Problems become :class:`DataError` naming the file and
the row.

Writing: each chunk is rendered cell by cell with pyarrow's compute kernels, so the bytes of a
row never depend on the other rows of its chunk: text is written as is and quoted only when it
holds a comma, quote or line break (quotes doubled); missing values are empty; floats are
rounded to 6 significant digits (like ``%.6g``) and written in their shortest form.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, DistancingBNWarning

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["detect_separator", "read_csv_chunks", "round_significant", "write_csv_chunk"]

_NEEDS_QUOTES = r'[,"\r\n]'
_ARROW_BLOCK = 1 << 20  # bytes pyarrow parses at a time (more costs memory, not speed)


def detect_separator(header: str) -> str:
    """Return the most plausible delimiter of a CSV header line: ',', ';' or tab."""
    counts = {sep: 0 for sep in (",", ";", "\t")}
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def read_csv_chunks(src: str | Path, sep: str | None, chunk_size: int) -> tuple[Iterator[pd.DataFrame], str, list[str]]:
    """Open a CSV file (``'-'``: stdin) for reading in chunks of rows, every cell as text.

    Returns the chunks (pandas DataFrames, in file order), the delimiter (``sep`` or detected)
    and the header's names as written. Raises :class:`DataError` for a missing or empty file,
    and, while iterating, for a file neither reader can parse (row number included).
    """
    import pandas as pd

    source: bytes | str  # stdin's bytes, or the file's path: each reader opens its own view
    if str(src) == "-":
        data = sys.stdin.buffer.read()
        source = data
        first = next((ln for ln in data.decode("utf-8-sig", errors="replace").splitlines() if ln.strip()), "")
        name = "<stdin>"
    else:
        p = Path(src)
        if not p.is_file():
            raise DataError(f"{p}: no such file", file=str(p))
        first = ""
        with open(p, "rb") as fh:
            for raw in fh:  # the header is the first non-blank line
                first = raw.decode("utf-8-sig", errors="replace")
                if first.strip():
                    break
        source = str(p)
        name = str(p)
    if not first.strip():
        raise DataError(f"{name}: the file is empty (no header line)", file=name, line=1)
    separator = sep or detect_separator(first)
    header = next(csv.reader([first], delimiter=separator))

    def pandas_chunks() -> Iterator[pd.DataFrame]:
        try:
            reader = pd.read_csv(
                io.BytesIO(source) if isinstance(source, bytes) else source,
                sep=separator,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding="utf-8-sig",
                chunksize=chunk_size,
                skip_blank_lines=True,
                index_col=False,
            )
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"{name}: cannot read CSV: {exc}", file=name) from None
        yield from _guard(reader, name, chunk_size)

    if len(set(header)) != len(header):  # pandas renames repeated names (a, a.1): keep its reader
        return pandas_chunks(), separator, header
    fast = _arrow_chunks(source, separator, header, chunk_size)
    return _with_fallback(fast, pandas_chunks), separator, header


class _ArrowGaveUp(Exception):
    """pyarrow could not read the rest of the file; pandas' reader takes over."""


def _arrow_chunks(source: Any, sep: str, header: list[str], chunk_size: int) -> Iterator[pd.DataFrame]:
    """Chunks of exactly ``chunk_size`` rows read by pyarrow (C++, multi-threaded), all text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(
            io.BytesIO(source) if isinstance(source, bytes) else source,
            read_options=pacsv.ReadOptions(block_size=_ARROW_BLOCK),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
        if reader.schema.names != header:
            raise _ArrowGaveUp
        buffered: list[Any] = []
        count = 0
        for batch in reader:
            buffered.append(batch)
            count += batch.num_rows
            while count >= chunk_size:
                table = pa.Table.from_batches(buffered)
                yield table.slice(0, chunk_size).to_pandas()
                rest = table.slice(chunk_size)
                buffered, count = rest.to_batches(), rest.num_rows
        if count:
            yield pa.Table.from_batches(buffered).to_pandas()
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _ArrowGaveUp from exc


def _with_fallback(fast: Iterator[pd.DataFrame], slow: Any) -> Iterator[pd.DataFrame]:
    """Yield ``fast``'s chunks; if it gives up, continue from the same row with ``slow()``'s.

    pyarrow refuses what pandas reads with a warning (rows with extra fields) or reports in its
    own words (bad UTF-8, unbalanced quotes); the rows already read are the same for both.
    """
    done = 0
    try:
        for chunk in fast:
            done += len(chunk)
            yield chunk
        return
    except _ArrowGaveUp:
        pass
    skip = done
    for chunk in slow():
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        yield chunk.iloc[skip:].reset_index(drop=True) if skip else chunk
        skip = 0


def _guard(reader: Any, name: str, chunk_size: int) -> Iterator[pd.DataFrame]:
    import pandas as pd

    done = 0
    warned = False
    while True:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                chunk = next(reader)
        except StopIteration:
            return
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"{name}: cannot read CSV after row {done}: {exc}", file=name, row=done + 1) from None
        if not warned and any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            warnings.warn(
                f"{name}: some rows after row {done} have more fields than the header (often a trailing "
                "delimiter); the fields beyond the header were not read",
                DistancingBNWarning,
                stacklevel=2,
            )
            warned = True
        done += len(chunk)
        yield chunk


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


def _text_cells(values: Any) -> Any:
    """Text cells of one column: quoted only where needed, missing values empty (pyarrow array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, from_pandas=True)
    if pa.types.is_floating(arr.type):
        arr = pa.array(round_significant(arr.to_numpy(zero_copy_only=False)), from_pandas=True)
    if not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.large_string())  # one text type for every column, any chunk size
    arr = pc.fill_null(arr, "")
    if pc.any(pc.match_substring_regex(arr, _NEEDS_QUOTES)).as_py():
        quote, empty = pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string())
        quoted = pc.binary_join_element_wise(quote, pc.replace_substring(arr, '"', '""'), quote, empty)
        arr = pc.if_else(pc.match_substring_regex(arr, _NEEDS_QUOTES), quoted, arr)
    return arr


def _quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"' if re.search(_NEEDS_QUOTES, name) else name


def write_csv_chunk(frame: pd.DataFrame, fh: Any, *, header: bool) -> None:
    """Append ``frame`` to the binary file ``fh`` as UTF-8 CSV lines ending in ``\\n``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: list[str] = []
    if header:
        parts.append(",".join(_quote_name(str(c)) for c in frame.columns) + "\n")
    if len(frame):
        cells = [_text_cells(frame.iloc[:, j]) for j in range(frame.shape[1])]
        lines = cells[0] if len(cells) == 1 else pc.binary_join_element_wise(*cells, pa.scalar(",", pa.large_string()))
        if isinstance(lines, pa.ChunkedArray):
            lines = lines.combine_chunks()
        parts.append("\n".join(lines.to_pylist()) + "\n")
    fh.write("".join(parts).encode("utf-8"))
