"""Read churn files as people have them: CSV/TSV in any usual dialect, Excel, Parquet.

`read_table` returns a typed frame (numbers as float64/int64, text as `category` with blanks as
"" and whitespace stripped, dates left as text in their original spelling) and a `ReadInfo`
saying what was read. CSV goes through pyarrow's multithreaded reader; the format is decided by
the file's first bytes, not its name. Every failure is a `DataError` naming the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analytics.errors import DataError

SNIFF_BYTES = 256 * 1024
BLOCK_SIZE = 4 << 20  # pyarrow CSV block: types are inferred from the first one
DELIMITERS = (",", ";", "\t", "|")
NULL_TOKENS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
               "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null")
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "cp1252": "Windows-1252",
                  "latin-1": "Latin-1", "utf-16": "UTF-16"}
MAGIC = {b"\x1f\x8b": "a gzip-compressed file; decompress it first",
         b"BZh": "a bzip2-compressed file; decompress it first",
         b"7z\xbc\xaf": "a 7-Zip archive; extract the data file first",
         b"Rar!": "a RAR archive; extract the data file first",
         b"%PDF": "a PDF document, not a data table",
         b"\x89PNG": "a PNG image, not a data table",
         b"\xff\xd8\xff": "a JPEG image, not a data table",
         b"SQLite format 3": "an SQLite database; export the table as CSV first"}
_RAGGED = re.compile(r"Expected (\d+) columns, got (\d+)")
_BAD_COLUMN = re.compile(r"In CSV column #(\d+): CSV conversion error")
# Number shapes that vote for the decimal mark ("1,234" alone is ambiguous: half a vote).
_NUMBER_SHAPES = re.compile(r"(?P<eu>[+-]?\d{1,3}(\.\d{3})+,\d+)|(?P<us>[+-]?\d{1,3}(,\d{3})+\.\d+)"
                            r"|(?P<comma3>[+-]?\d{1,3},\d{3})|(?P<dot3>[+-]?\d{1,3}\.\d{3})"
                            r"|(?P<comma>[+-]?\d*,\d+)|(?P<dot>[+-]?\d*\.\d+)")
_SHAPE_VOTES = {"eu": (",", 1.0), "us": (".", 1.0), "comma3": (",", 0.5), "dot3": (".", 0.5),
                "comma": (",", 1.0), "dot": (".", 1.0)}


@dataclass
class ReadInfo:
    """What `read_table` read and how (shown to the user next to the data preview)."""

    file: str
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    rows: int = 0
    columns: int = 0

    def describe(self) -> str:
        """One line, e.g. "CSV, ';'-separated, decimal comma, Latin-1, 10,000 rows x 14 columns"."""
        parts = [{"csv": "CSV", "excel": "Excel", "parquet": "Parquet"}.get(self.format,
                                                                             self.format)]
        if self.delimiter is not None:
            parts.append("tab-separated" if self.delimiter == "\t"
                         else f"{self.delimiter!r}-separated")
        if self.decimal == ",":
            parts.append("decimal comma")
        if self.encoding:
            parts.append(ENCODING_NAMES.get(self.encoding, self.encoding))
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet!r} ({self.sheets.index(self.sheet) + 1} of "
                         f"{len(self.sheets)})" if self.sheet in self.sheets
                         else f"sheet {self.sheet!r}")
        rows = f"{self.rows:,} row" + ("" if self.rows == 1 else "s")
        cols = f"{self.columns:,} column" + ("" if self.columns == 1 else "s")
        return ", ".join(parts) + f", {rows} x {cols}"

    def as_dict(self) -> dict:
        """JSON-safe fields (for stores and the CLI)."""
        return asdict(self)


def read_table(path, *, sheet: str | None = None, delimiter: str | None = None,
               encoding: str | None = None, decimal: str | None = None,
               nrows: int | None = None) -> tuple[pd.DataFrame, ReadInfo]:
    """Read a CSV/TSV/text, Excel (.xlsx/.xlsm/.ods) or Parquet file into a typed frame.

    Given `delimiter`, `encoding`, `decimal` and `sheet` beat sniffing; `nrows` reads only the
    first rows (previews). The format is decided from the first bytes.
    """
    name = str(path)
    head = _head(Path(path), name)
    try:
        if head.startswith(b"PAR1"):
            frame, info = _read_parquet(Path(path), name, nrows)
        elif head.startswith(b"PK\x03\x04"):
            frame, info = _read_excel(Path(path), name, sheet, nrows)
        else:
            frame, info = _read_csv(Path(path), name, head, delimiter, encoding, decimal, nrows)
    except DataError:
        raise
    except MemoryError:
        raise DataError("not enough memory to read this file", file=name) from None
    except Exception as exc:  # never a pandas/pyarrow traceback: say what failed, shortly
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(f"could not read this file ({first})", file=name) from None
    info.rows, info.columns = frame.shape
    return frame, info


def sniff_csv(path) -> dict:
    """Guess {"encoding", "delimiter", "decimal"} from the first ~256 KB of a text file."""
    name = str(path)
    head = _head(Path(path), name)
    complete = len(head) < SNIFF_BYTES
    encoding, text = _sniff_encoding(head, name, complete)
    text = _whole_lines(text, complete)
    delimiter = _sniff_delimiter(text)
    return {"encoding": encoding, "delimiter": delimiter,
            "decimal": _sniff_decimal(text, delimiter)}


# -- format and dialect --------------------------------------------------------------------

def _head(path: Path, name: str) -> bytes:
    if not path.exists():
        raise DataError("file not found", file=name)
    if path.is_dir():
        raise DataError("this is a folder, not a file", file=name)
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise DataError(f"cannot open the file ({exc.strerror or exc})", file=name) from None
    if not head.lstrip(codecs.BOM_UTF8).strip():
        raise DataError("the file is empty", file=name)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError("old Excel .xls format; save it as .xlsx or CSV", file=name)
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            raise DataError(f"this is {what}", file=name)
    return head


def _sniff_encoding(head: bytes, name: str, complete: bool) -> tuple[str, str]:
    """The encoding of `head` and its text; binary data is refused."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", _decode(head, "utf-16", name, complete)
    if b"\x00" in head:
        raise DataError("binary data, not a text table (it contains NUL bytes)", file=name)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", _decode(head, "utf-8-sig", name, complete)
    try:
        return "utf-8", codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        pass
    # Latin-1 and Windows-1252 agree outside 0x80-0x9F; there 1252 has letters, Latin-1 controls.
    high = any(0x80 <= b <= 0x9F for b in head)
    encoding = "cp1252" if high else "latin-1"
    try:
        text = head.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "latin-1", head.decode("latin-1")
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\r\n\f") + sum(
        1 for ch in text if "\x80" <= ch <= "\x9f")
    if controls > max(2, len(text) // 200):
        raise DataError("binary data, not a text table (tried UTF-8 and "
                        f"{ENCODING_NAMES[encoding]})", file=name)
    return encoding, text


def _decode(head: bytes, encoding: str, name: str, complete: bool) -> str:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}", file=name) from None
    except UnicodeDecodeError as exc:
        line = head[:exc.start].count(b"\n") + 1
        raise DataError(f"cannot be decoded as {encoding} (byte 0x{head[exc.start]:02x} on line "
                        f"{line}); pass the right encoding, e.g. encoding='cp1252'",
                        file=name) from None


def _records(text: str, delimiter: str, limit: int = 60) -> list[list[str]]:
    try:
        rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
        return [r for r in islice(rows, limit) if r]
    except csv.Error:
        return []


def _whole_lines(text: str, complete: bool) -> str:
    """The sample without its partial last line (unless it is the whole file)."""
    return text if complete or "\n" not in text else text[:text.rindex("\n")]


def _sniff_delimiter(text: str) -> str:
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        records = _records(text, delimiter)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        body = records[1:] or records
        score = (sum(len(r) == width for r in body) / len(body), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _sniff_decimal(text: str, delimiter: str) -> str:
    votes = {",": 0.0, ".": 0.0}
    for record in _records(text, delimiter, limit=500)[1:]:
        for cell in record:
            match = _NUMBER_SHAPES.fullmatch(cell.strip())
            if match and not (delimiter == "," and match.lastgroup == "comma3"):
                sign, weight = _SHAPE_VOTES[match.lastgroup]  # quoted "1,234": thousands
                votes[sign] += weight
    return "," if votes[","] > votes["."] else "."


def _clean_names(raw, name: str) -> list[str]:
    """Header names stripped, BOM-free, empty ones `column_<n>`; duplicates refused."""
    names = [str(c).replace("\ufeff", "").strip() if c is not None else "" for c in raw]
    names = [n or f"column_{i}" for i, n in enumerate(names, start=1)]
    seen: dict[str, int] = {}
    for i, n in enumerate(names, start=1):
        if n in seen:
            raise DataError(f"duplicate column name {n!r} (columns {seen[n]} and {i})", file=name)
        seen[n] = i
    return names


# -- CSV -----------------------------------------------------------------------------------

def _read_csv(path, name, head, delimiter, encoding, decimal, nrows):
    complete = len(head) < SNIFF_BYTES
    if encoding is None:
        encoding, text = _sniff_encoding(head, name, complete)
        sniffed = True
    else:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise DataError(f"unknown encoding {encoding!r}", file=name) from None
        encoding = {"iso8859-1": "latin-1"}.get(encoding, encoding)
        text, sniffed = _decode(head, encoding, name, complete), False
    text = _whole_lines(text, complete)
    delimiter = delimiter or _sniff_delimiter(text)
    decimal = decimal or _sniff_decimal(text, delimiter)
    multiline = '"' in text and any("\n" in cell or "\r" in cell
                                    for row in _records(text, delimiter, limit=5000)
                                    for cell in row)
    while True:
        try:
            table = _arrow_csv(path, name, encoding, delimiter, decimal, nrows, multiline)
            break
        except (UnicodeDecodeError, _NotText):
            if not sniffed or encoding not in ("utf-8", "utf-8-sig"):
                raise DataError(_undecodable(path, encoding), file=name) from None
            encoding = "cp1252"  # bytes past the sample that are not UTF-8
        except _Retry:
            encoding = "latin-1"
    frame = _frame(table, _clean_names(table.column_names, name), decimal)
    return frame, ReadInfo(file=name, format="csv", encoding=encoding, delimiter=delimiter,
                           decimal=decimal)


class _NotText(Exception):
    """A column was not valid text in the encoding tried."""


class _Retry(Exception):
    """Windows-1252 met a byte it does not define: read as Latin-1."""


def _arrow_csv(path, name, encoding, delimiter, decimal, nrows, multiline):
    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    state = {"multiline": multiline}

    def options(types, threads=True, block=BLOCK_SIZE, handler=None):
        # The whole-file reader dictionary-encodes text as it converts (low-cardinality
        # columns never exist as strings); the streaming one cannot widen, so it does not.
        return dict(read_options=pacsv.ReadOptions(encoding=arrow_encoding, block_size=block,
                                                   use_threads=threads),
                    parse_options=pacsv.ParseOptions(delimiter=delimiter,
                                                     newlines_in_values=state["multiline"],
                                                     invalid_row_handler=handler),
                    convert_options=pacsv.ConvertOptions(
                        decimal_point=decimal, strings_can_be_null=False,
                        null_values=list(NULL_TOKENS), column_types=types,
                        auto_dict_encode=threads, auto_dict_max_cardinality=256))

    types: dict[str, pa.DataType] = {}
    names: list[str] = []
    for _ in range(2000):  # each pass fixes one column or the quoting mode
        try:
            with pacsv.open_csv(path, **options(types, threads=False, block=1 << 20)) as reader:
                names = reader.schema.names
                _clean_names(names, name)  # duplicates refused before the long read
                # Dates, times and all-blank columns are read as text (kept as spelled).
                for f in reader.schema:
                    if f.name not in types and (pa.types.is_temporal(f.type)
                                                or pa.types.is_null(f.type)):
                        types[f.name] = pa.string()
                if nrows is not None:
                    table = _first_rows(reader, nrows)
            if nrows is None:
                table = pacsv.read_csv(path, **options(types))
        except pa.ArrowInvalid as exc:
            message = str(exc)
            bad = _BAD_COLUMN.search(message)
            if bad and names:  # streaming (nrows): types come from the first block only
                types[names[int(bad.group(1))]] = pa.string()
                continue
            ragged = _RAGGED.search(message)
            if ragged and not state["multiline"] and '"' in message:
                state["multiline"] = True
                continue
            if ragged:
                raise _ragged_error(path, name, options, types, ragged) from None
            if "UTF8" in message or "UTF-8" in message:
                raise _NotText() from None
            raise
        except UnicodeDecodeError:
            if encoding == "cp1252":
                raise _Retry() from None
            raise
        values = [t.value_type if pa.types.is_dictionary(t) else t for t in table.schema.types]
        if any(pa.types.is_binary(t) or pa.types.is_large_binary(t) for t in values):
            raise _NotText()  # Arrow keeps bytes that are not UTF-8 as binary
        return table
    raise DataError("could not settle the column types", file=name)  # pragma: no cover


def _first_rows(reader, nrows: int) -> pa.Table:
    batches, count = [], 0
    while count < nrows:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        batches.append(batch)
        count += batch.num_rows
    return pa.Table.from_batches(batches, schema=reader.schema).slice(0, nrows)


def _ragged_error(path, name, options, types, match) -> DataError:
    """'row N has F fields, the header has H' with N the file line (header = line 1)."""
    found = []

    def handler(row):
        found.append(row)
        return "error"

    try:
        pacsv.read_csv(path, **options(types, threads=False, handler=handler))
    except pa.ArrowInvalid:
        pass
    expected, actual = match.group(1), match.group(2)
    if found:
        row = found[0]
        expected, actual = row.expected_columns, row.actual_columns
        where = f"row {row.number}" if row.number is not None else "a row"
        return DataError(f"{where} has {actual} fields, the header has {expected}", file=name,
                         examples=[repr(row.text[:120])])
    return DataError(f"a row has {actual} fields, the header has {expected}", file=name)


def _undecodable(path: Path, encoding: str) -> str:
    """Where the file stops being text in `encoding` (scans it; error path only)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, lines = 0, 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line = lines + block[:max(exc.start, 0)].count(b"\n") + 1
                other = "latin-1" if encoding == "cp1252" else "cp1252"
                return (f"cannot be decoded as {encoding} (byte 0x{block[exc.start]:02x} at "
                        f"offset {offset + exc.start:,}, line {line:,}); pass the right "
                        f"encoding, e.g. encoding={other!r}")
            offset, lines = offset + len(block), lines + block.count(b"\n")
    return f"cannot be decoded as {encoding}"


# -- Excel and Parquet ---------------------------------------------------------------------

def _read_excel(path, name, sheet, nrows):
    try:
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
    except zipfile.BadZipFile:
        raise DataError("a damaged zip/Excel file", file=name) from None
    if not members & {"xl/workbook.xml", "xl/workbook.bin", "content.xml"}:
        raise DataError("a zip archive, not an Excel workbook; extract the data file first",
                        file=name)
    try:
        book = pd.ExcelFile(path, engine="calamine")
    except Exception as exc:
        raise DataError(f"not a readable Excel workbook ({exc})", file=name) from None
    with book:
        return _read_sheet(book, name, sheet, nrows)


def _read_sheet(book: pd.ExcelFile, name: str, sheet: str | None, nrows: int | None):
    sheets = [str(s) for s in book.sheet_names]
    if not sheets:
        raise DataError("the workbook has no sheets", file=name)
    chosen = sheets[0]
    if sheet is not None:
        matches = [s for s in sheets if s == sheet] or [
            s for s in sheets if s.casefold() == str(sheet).strip().casefold()]
        if not matches:
            raise DataError(f"no sheet named {sheet!r}; the sheets are "
                            + ", ".join(repr(s) for s in sheets), file=name)
        chosen = matches[0]
    raw = book.parse(chosen, header=None, dtype=object, keep_default_na=False,
                     na_values=[""], nrows=None if nrows is None else nrows + 1)
    info = ReadInfo(file=name, format="excel", sheet=chosen, sheets=sheets)
    if raw.empty:
        raise DataError(f"sheet {chosen!r} is empty", file=name)
    names = _clean_names([_cell_text(v) for v in raw.iloc[0]], name)
    data = raw.iloc[1:].reset_index(drop=True)
    columns = {n: _excel_column(data.iloc[:, i]) for i, n in enumerate(names)}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(data))), info


def _excel_column(values: pd.Series):
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        numbers = pd.to_numeric(values).astype("float64").to_numpy()
        whole = not np.isnan(numbers).any() and np.all(np.mod(numbers, 1) == 0) \
            and np.all(np.abs(numbers) < 2**53)
        return numbers.astype("int64") if whole else numbers
    if kind in ("datetime", "datetime64", "date"):
        stamps = pd.to_datetime(values, errors="coerce")
        fmt = "%Y-%m-%d" if (stamps.dropna() == stamps.dropna().dt.normalize()).all() \
            else "%Y-%m-%d %H:%M:%S"
        text = stamps.dt.strftime(fmt).where(stamps.notna(), values.map(_cell_text))
        return _category(pa.chunked_array([pa.array(text.tolist(), pa.string())]))
    text = [_cell_text(v) for v in values] if kind != "string" else values.where(
        values.notna(), "").tolist()
    return _category(pa.chunked_array([pa.array(text, pa.string())]))


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if hasattr(value, "isoformat"):
        text = value.isoformat(sep=" ") if hasattr(value, "hour") and hasattr(value, "day") \
            else value.isoformat()
        return text[:10] if text.endswith(" 00:00:00") else text
    return str(value)


def _read_parquet(path, name, nrows):
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
        if nrows is None:
            table = handle.read()
        else:  # batches stop at row-group ends: gather until there are enough rows
            batches, count = [], 0
            for batch in handle.iter_batches(batch_size=max(nrows, 1)):
                if count >= nrows:
                    break
                batches.append(batch)
                count += batch.num_rows
            table = pa.Table.from_batches(batches, schema=handle.schema_arrow).slice(0, nrows)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})", file=name) from None
    frame = _frame(table, _clean_names(table.column_names, name), None)
    return frame, ReadInfo(file=name, format="parquet")


# -- Arrow columns to pandas ---------------------------------------------------------------

def _frame(table: pa.Table, names: list[str], decimal: str | None) -> pd.DataFrame:
    """Numbers as float64/int64, everything else as stripped text categories."""
    def convert(i: int):
        return _column(table.column(i), decimal)

    if table.num_rows < 100_000:
        values = [convert(i) for i in range(len(names))]
    else:  # Arrow kernels release the GIL: convert columns on every core
        with ThreadPoolExecutor(max_workers=max(1, min(4, pa.cpu_count()))) as pool:
            values = list(pool.map(convert, range(len(names))))
    return pd.DataFrame(dict(zip(names, values)), index=pd.RangeIndex(table.num_rows))


def _column(col: pa.ChunkedArray, decimal: str | None):
    kind = col.type
    if pa.types.is_dictionary(kind):
        if pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type):
            return _category(col, decimal)
        return _column(col.cast(kind.value_type), decimal)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        if pa.types.is_float16(kind):
            col = col.cast(pa.float64())
        return col.to_pandas().to_numpy()
    if pa.types.is_decimal(kind):
        return col.cast(pa.float64()).to_pandas().to_numpy()
    if pa.types.is_boolean(kind):
        return _category(pc.if_else(col, "True", "False"))
    if pa.types.is_null(kind):
        return _category(pa.chunked_array([pa.nulls(len(col), pa.string())]))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _category(col, decimal)
    if pa.types.is_temporal(kind) and not pa.types.is_duration(kind) \
            and not pa.types.is_interval(kind):
        return _category(_temporal_text(col))
    try:
        return _category(col.cast(pa.string()))
    except pa.ArrowException:
        return _category(pa.chunked_array([pa.array(
            ["" if v is None else str(v) for v in col.to_pylist()], pa.string())]))


def _temporal_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dates 'YYYY-MM-DD', timestamps 'YYYY-MM-DD HH:MM:SS' (date only if all at midnight)."""
    kind = col.type
    if pa.types.is_time(kind):
        return col.cast(pa.time32("s"), safe=False).cast(pa.string())
    if pa.types.is_date(kind):
        return pc.strftime(col.cast(pa.timestamp("s")), format="%Y-%m-%d")
    if kind.tz is not None:
        col = pc.local_timestamp(col)
    seconds = col.cast(pa.timestamp("s"), safe=False)
    midnight = pc.all(pc.equal(seconds.cast(pa.date32(), safe=False).cast(pa.timestamp("s")),
                               seconds)).as_py()
    fmt = "%Y-%m-%d" if midnight in (True, None) else "%Y-%m-%d %H:%M:%S"
    return pc.strftime(seconds, format=fmt)


def _category(col: pa.ChunkedArray, decimal: str | None = None):
    """Text as a pandas Categorical built from Arrow's dictionary (no per-cell Python str).

    Surrounding whitespace is stripped and missing cells are "". With `decimal` (CSV), a column
    Arrow kept as text whose every cell is blank or a number (thousands separators, a type
    widened late in a preview) becomes numbers; whitespace-only cells keep it text.
    """
    if pa.types.is_dictionary(col.type) and col.num_chunks > 1 and sum(
            len(c.dictionary) for c in col.chunks) > 100_000:
        col = col.cast(col.type.value_type)  # unifying big dictionaries is slow: re-encode
    if pa.types.is_dictionary(col.type):
        col = col.unify_dictionaries()
    else:  # one memo table across chunks: the last chunk's dictionary holds every value
        col = pc.dictionary_encode(col)
    if col.num_chunks == 0:
        col = pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array([], pa.int32()),
                                                               pa.array([], pa.string()))])
    dictionary = col.chunk(col.num_chunks - 1).dictionary.cast(pa.string())
    indices = pa.chunked_array([c.indices for c in col.chunks],
                               type=col.type.index_type).combine_chunks()
    if indices.null_count:
        indices = indices.fill_null(-1)
    codes = indices.to_numpy(zero_copy_only=False)
    if decimal is not None:
        numbers = _text_numbers(dictionary, decimal)
        if numbers is not None:
            if codes.size and codes.min() < 0:
                numbers = np.append(numbers.astype("float64"), np.nan)
            return numbers[codes]
    stripped = pc.utf8_trim_whitespace(dictionary)
    if len(stripped) and not pc.all(pc.equal(stripped, dictionary)).as_py():
        merged = pc.dictionary_encode(stripped)
        if len(merged.dictionary) < len(stripped):  # " a" and "a" are one category
            codes = merged.indices.to_numpy()[codes] if codes.size else codes
            stripped = merged.dictionary
    categories = stripped.to_numpy(zero_copy_only=False).astype(object)
    if codes.size and codes.min() < 0:
        blank = np.flatnonzero(categories == "")
        if blank.size == 0:
            categories, blank = np.append(categories, ""), np.array([len(categories)])
        codes = np.where(codes < 0, blank[0], codes)
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object),
                                     validate=False)


def _text_numbers(dictionary: pa.Array, decimal: str) -> np.ndarray | None:
    """The numbers of a text dictionary when every entry is blank or a number, else None."""
    if len(dictionary) == 0:
        return None
    thousands = "." if decimal == "," else ","
    d, t = re.escape(decimal), re.escape(thousands)
    pattern = (rf"^[+-]?(\d+|\d{{1,3}}({t}\d{{3}})+)({d}\d*)?([eE][+-]?\d+)?$"
               rf"|^[+-]?{d}\d+([eE][+-]?\d+)?$")
    first = [v.strip() for v in dictionary.slice(0, 50).to_pylist() if v not in NULL_TOKENS]
    if not all(re.match(pattern, v) for v in first):
        return None  # quick refusal of ordinary text
    stripped = pc.utf8_trim_whitespace(dictionary)
    blank = pc.is_in(dictionary, value_set=pa.array(NULL_TOKENS))  # " " is not blank: text
    number = pc.match_substring_regex(stripped, pattern)
    if not pc.all(pc.or_(blank, number)).as_py() or not pc.any(number).as_py():
        return None
    plain = pc.replace_substring(stripped, thousands, "")
    if decimal != ".":
        plain = pc.replace_substring(plain, decimal, ".")
    plain = pc.if_else(blank, pa.scalar(None, pa.string()), plain)
    whole = not pc.any(pc.match_substring_regex(plain, r"[.eE]")).as_py() \
        and not pc.any(blank).as_py()
    try:
        return plain.cast(pa.int64() if whole else pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return plain.cast(pa.float64()).to_numpy(zero_copy_only=False)
