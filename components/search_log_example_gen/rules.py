"""The rule table of the search log and the checks of one row (pure Python, no Beam).

Every rule has one decision: FAIL stops the run before training with an error naming the file, the line and
the column; QUARANTINE drops the row into the quarantine file with the rule's reason; TRUNCATE keeps the row
with a shortened value and counts it. Column names and the relevance scale come from models/features.py.
"""
import collections
import re
from typing import Dict, List, Optional, Sequence, Tuple

from models import features

FAIL, QUARANTINE, TRUNCATE = "fail", "quarantine", "truncate"

# Defaults of the two knobs (the component's parameters of the same names).
DEFAULT_MAX_QUARANTINE_FRACTION = 0.05  # more quarantined rows than this fraction of the rows read: fail
DEFAULT_MAX_TEXT_CHARS = 1000  # longer query or product_title values are cut to this many characters
DEFAULT_GRADE_SCALE = features.PIPELINE_SCALE  # judgements graded 0..3 (the bundled sample's scale)
# The longest field the CSV reader takes in (Python's csv stops at 131,072 characters by default): a longer
# text is read whole, then cut to max_text_chars and kept; only a field beyond this is a csv_syntax row.
MAX_FIELD_CHARS = 16 * 1024 * 1024

# What a file holds: judgements (the graded search log), impressions (the search traffic: the same without a
# grade) or the catalogue. Each kind has its required (non-empty) columns and the column whose rows are
# resolved together (one text per query id and one row per (query, product); one row per product id).
JUDGEMENTS, IMPRESSIONS, CATALOG = "judgements", "impressions", "catalog"
KINDS = (JUDGEMENTS, IMPRESSIONS, CATALOG)
REQUIRED_COLUMNS = features.RAW_COLUMNS
COLUMNS = {JUDGEMENTS: features.RAW_COLUMNS, IMPRESSIONS: features.IMPRESSION_COLUMNS,
           CATALOG: features.CATALOG_COLUMNS}
KEY_COLUMN = {JUDGEMENTS: features.QUERY_ID, IMPRESSIONS: features.QUERY_ID, CATALOG: features.PRODUCT_ID}
DESCRIPTION = {JUDGEMENTS: "search log", IMPRESSIONS: "search traffic (impressions)", CATALOG: "catalogue"}
# The free-text columns that are truncated when too long (those a kind has).
TEXT_COLUMNS = (features.QUERY, features.PRODUCT_TITLE)

# Id columns lose surrounding whitespace (a copy-paste artefact, not a different id).
ID_COLUMNS = (features.QUERY_ID, features.PRODUCT_ID)

# Reason codes (the `reason` of a quarantined row, and the keys of the ledger's counts).
FIELD_COUNT = "field_count"
CSV_SYNTAX = "csv_syntax"
EMPTY_VALUE = "empty_value"
RELEVANCE_NOT_A_NUMBER = "relevance_not_a_number"
RELEVANCE_OUT_OF_RANGE = "relevance_out_of_range"
QUERY_ID_CONFLICT = "query_id_conflict"
DUPLICATE = "duplicate"
TRUNCATED = "truncated"
# Rules that fail the run.
NO_INPUT = "no_input"
HEADER = "header"
ENCODING = "encoding"
UNTERMINATED_QUOTE = "unterminated_quote"
QUARANTINE_THRESHOLD = "quarantine_threshold"

Rule = collections.namedtuple("Rule", ["code", "scope", "decision", "description"])

# The one rule table, in the order the checks run (row rules: the first broken one is the row's reason).
RULES = (
    Rule(NO_INPUT, "input", FAIL, "the split pattern matches no file, or no row is kept"),
    Rule(HEADER, "file", FAIL, "the header names each column of models/features.py RAW_COLUMNS (impressions: "
         "IMPRESSION_COLUMNS; catalogue: CATALOG_COLUMNS) exactly once (any order); the error lists the missing, "
         "unexpected and repeated names"),
    Rule(ENCODING, "file", FAIL, "the file is strict UTF-8 (a leading BOM is allowed); the error gives the line, "
         "the byte offset (0-based, from the start of the file) and the column of the first bad byte"),
    Rule(UNTERMINATED_QUOTE, "file", FAIL, "a quoted field is closed before the end of the file (otherwise the "
         "rest of the file would be one row); the error gives the line where the field opens"),
    Rule(CSV_SYNTAX, "row", QUARANTINE, "the row is well-formed CSV (python csv, strict: no text after a "
         "closing quote, no NUL byte)"),
    Rule(FIELD_COUNT, "row", QUARANTINE, "the row has as many fields as the header"),
    Rule(EMPTY_VALUE, "row", QUARANTINE, "query_id, query, product_id, product_title and relevance (impressions: "
         "the first four; catalogue: product_id and product_title) are not empty or only whitespace"),
    Rule(RELEVANCE_NOT_A_NUMBER, "row", QUARANTINE, "relevance is a decimal number (not text, NaN or inf)"),
    Rule(RELEVANCE_OUT_OF_RANGE, "row", QUARANTINE, "relevance is within the judgements' grade scale "
         "(grade_scale, LOWEST:HIGHEST; default 0:3); a kept grade is mapped linearly onto the pipeline's scale, "
         "models/features.py RELEVANCE_MIN..RELEVANCE_MAX"),
    Rule(TRUNCATED, "row", TRUNCATE, "query and product_title longer than max_text_chars characters are cut "
         "to that length; the row is kept and counted per column"),
    Rule(QUERY_ID_CONFLICT, "query_id", QUARANTINE, "a query_id has one query text; if its valid rows carry "
         "two or more texts, every row of that query_id is quarantined (no way to tell which text is right)"),
    Rule(DUPLICATE, "query_id, product_id", QUARANTINE, "one row per (query_id, product_id) (catalogue: per "
         "product_id); the first by (file path, line) is kept, later ones are quarantined whether or not their "
         "values are equal"),
    Rule(QUARANTINE_THRESHOLD, "input", FAIL, "at most max_quarantine_fraction of the rows read are "
         "quarantined; the error summarises the reasons"),
)
ROW_REASONS = tuple(rule.code for rule in RULES if rule.scope != "input" and rule.decision == QUARANTINE)

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class InvalidSearchLogError(ValueError):
    """The search log breaks a FAIL rule; the message names the file, line, column and rule."""


def location(path: str, line: Optional[int] = None, column: Optional[str] = None) -> str:
    """'<path>, line 7, column 'relevance'' (the parts that are known)."""
    parts = [path]
    if line is not None:
        parts.append(f"line {line}")
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


def columns_of(kind: str) -> Tuple[str, ...]:
    """The required columns of a kind of input (KINDS)."""
    if kind not in COLUMNS:
        raise ValueError(f"unknown input kind {kind!r}; known: {', '.join(KINDS)}")
    return COLUMNS[kind]


def header_problems(header: Sequence[str], columns: Sequence[str] = REQUIRED_COLUMNS) -> List[str]:
    """What is wrong with a header (empty when it names each required column exactly once)."""
    counts = collections.Counter(header)
    missing = [name for name in columns if name not in counts]
    unexpected = [name for name in header if name not in columns]
    repeated = sorted(name for name, count in counts.items() if count > 1 and name in columns)
    problems = []
    if missing:
        problems.append(f"missing columns {missing}")
    if unexpected:
        problems.append(f"unexpected columns {unexpected}")
    if repeated:
        problems.append(f"repeated columns {repeated}")
    return problems


def check_header(path: str, header: Sequence[str], columns: Sequence[str] = REQUIRED_COLUMNS) -> None:
    """Raises InvalidSearchLogError naming the file and the missing, unexpected or repeated columns."""
    problems = header_problems(header, columns)
    if problems:
        raise InvalidSearchLogError(
            f"{location(path, 1)} (header): rule '{HEADER}': {'; '.join(problems)}; "
            f"expected the columns {','.join(columns)}")


def parse_relevance(text: str, scale: features.GradeScale = DEFAULT_GRADE_SCALE
                    ) -> Tuple[Optional[float], Optional[str]]:
    """(grade, None) for a grade on the scale (as written, not mapped), else (None, reason)."""
    if not _NUMBER.fullmatch(text.strip()):
        return None, RELEVANCE_NOT_A_NUMBER
    grade = float(text)
    if not scale.contains(grade):
        return None, RELEVANCE_OUT_OF_RANGE
    return grade, None


def check_row(header: Sequence[str], fields: Sequence[str], columns: Sequence[str] = REQUIRED_COLUMNS,
              scale: features.GradeScale = DEFAULT_GRADE_SCALE
              ) -> Tuple[Optional[Tuple[str, Optional[str], str]], Optional[Dict[str, str]]]:
    """Applies the row rules in table order (the relevance rules, on `scale`, only where `columns` has a grade).

    Returns (None, values by column) for a valid row, else ((reason, column or None, detail), None).
    """
    for index, field in enumerate(fields):
        if "\x00" in field:  # python csv lets NUL bytes through; they mean a corrupt or mis-encoded line
            column = header[index] if index < len(header) else None
            return (CSV_SYNTAX, column, "NUL byte in a field"), None
    if len(fields) != len(header):
        return (FIELD_COUNT, None, f"{len(header)} fields expected, found {len(fields)}"), None
    values = dict(zip(header, fields))
    for column in columns:
        if not values[column].strip():
            return (EMPTY_VALUE, column, f"{column} is empty"), None
    for column in ID_COLUMNS:  # "q0001 " is q0001: surrounding spaces must not make a second id
        if column in values:
            values[column] = values[column].strip()
    if features.RELEVANCE not in columns:
        return None, values
    _, reason = parse_relevance(values[features.RELEVANCE], scale)
    if reason == RELEVANCE_NOT_A_NUMBER:
        return (reason, features.RELEVANCE, f"{values[features.RELEVANCE]!r} is not a number"), None
    if reason == RELEVANCE_OUT_OF_RANGE:
        return (reason, features.RELEVANCE, f"{values[features.RELEVANCE]!r} is outside "
                f"[{scale.lowest}, {scale.highest}]"), None
    return None, values


def truncate(values: Dict[str, str], max_chars: int) -> Tuple[Dict[str, str], List[str]]:
    """Cuts each text column longer than max_chars characters; returns the values and the cut columns."""
    cut = [column for column in TEXT_COLUMNS if column in values and len(values[column]) > max_chars]
    if not cut:
        return values, []
    values = dict(values)
    for column in cut:
        values[column] = values[column][:max_chars]
    return values, cut


def resolve_product(rows: List[dict]) -> Tuple[List[dict], List[Tuple[dict, str, str, str]]]:
    """The catalogue's rule on the valid rows of one product_id: the first by (file path, line) is kept, later
    ones are quarantined (a product has one title)."""
    return _first_per_product(sorted(rows, key=lambda row: (row["file"], row["line"])), features.PRODUCT_ID)


def resolve(kind: str, rows: List[dict]) -> Tuple[List[dict], List[Tuple[dict, str, str, str]]]:
    """The dataset rules of one key (KEY_COLUMN[kind]) of a kind of input."""
    return resolve_product(rows) if kind == CATALOG else resolve_query(rows)


def resolve_query(rows: List[dict]) -> Tuple[List[dict], List[Tuple[dict, str, str, str]]]:
    """The dataset rules on the valid rows of one query_id, independent of the order of `rows`.

    Each row is a dict with `file`, `line` and `values`. Returns (kept rows, [(row, reason, column, detail)]).
    """
    rows = sorted(rows, key=lambda row: (row["file"], row["line"]))
    texts = sorted({row["values"][features.QUERY] for row in rows})
    if len(texts) > 1:
        detail = f"{len(texts)} query texts for one query_id: {texts}"
        return [], [(row, QUERY_ID_CONFLICT, features.QUERY, detail) for row in rows]
    return _first_per_product(rows, f"({features.QUERY_ID}, {features.PRODUCT_ID})")


def _first_per_product(rows: List[dict], key_name: str) -> Tuple[List[dict], List[Tuple[dict, str, str, str]]]:
    """The DUPLICATE rule on rows sorted by (file, line) that share everything else of their key: the first row
    of each product_id is kept, later ones are quarantined; key_name names the key in the detail."""
    kept, quarantined, first = [], [], {}
    for row in rows:
        product_id = row["values"][features.PRODUCT_ID]
        if product_id in first:
            original = first[product_id]
            same = "an exact copy" if original["values"] == row["values"] else "differing values"
            quarantined.append((row, DUPLICATE, features.PRODUCT_ID,
                                f"{key_name} already kept from {location(original['file'], original['line'])}; "
                                f"{same}"))
        else:
            first[product_id] = row
            kept.append(row)
    return kept, quarantined
