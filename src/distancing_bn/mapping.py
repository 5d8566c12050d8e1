"""Survey mapping files: a survey's own columns and codes -> questions and (soft) answers.

See ``docs/mapping-format.md``. Loaded with the model files' safe YAML reader (line numbers
kept); every problem is collected and raised as one :class:`~distancing_bn.errors.DataError`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .errors import DataError, ModelSyntaxError, Problem
from .spec import _Doc, _parse_yaml, _show, read_yaml_bytes

if TYPE_CHECKING:
    from .network import Network

__all__ = ["ColumnMap", "SurveyMapping", "load_mapping", "parse_mapping"]

FORMAT = "distancing-bn-mapping/1"
_TOP = ("format", "id", "model", "description", "missing", "ignore", "columns")
_COL = ("question", "scale", "reverse", "answers", "missing", "rationale")


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """How one survey column informs one question."""

    column: str
    question: str
    answers: Mapping[str, tuple[float, ...]]  # normalised code text -> likelihood per answer
    missing: frozenset[str]
    scale: tuple[float, float] | None = None
    reverse: bool = False
    rationale: str = ""
    line: int | None = None

    def code_key(self, value: Any) -> str:
        """Return the lookup key of a cell (reverse scoring applied)."""
        text = _code_text(value)
        if self.reverse and self.scale is not None and text not in self.missing:
            try:
                x = float(text)
            except ValueError:
                return text
            return _code_text(self.scale[0] + self.scale[1] - x)
        return text


@dataclass(frozen=True, slots=True)
class SurveyMapping:
    """A validated mapping file."""

    id: str
    model: str
    description: str
    columns: tuple[ColumnMap, ...]
    ignore: frozenset[str] = frozenset()
    source: str | None = field(default=None, compare=False)

    def for_column(self, column: str) -> ColumnMap | None:
        """Return the mapping of ``column`` (None if unmapped)."""
        return next((c for c in self.columns if c.column == column), None)


def _code_text(value: Any) -> str:
    """Normalise a cell or code to text: 3, 3.0 and '3' are the same code."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    try:
        f = float(text)
    except ValueError:
        return text
    return str(int(f)) if f.is_integer() and math.isfinite(f) else text


def load_mapping(path: str | Path, network: Network, *, model_id: str | None = None) -> SurveyMapping:
    """Read and validate a mapping file against a network's questions.

    Raises
    ------
    DataError
        Every problem, each with file, line and key path.
    """
    p = Path(path)
    try:
        data = read_yaml_bytes(p, what="mapping file")  # a regular file within MAX_YAML_FILE_BYTES
    except ModelSyntaxError as exc:
        raise DataError(str(exc), file=str(p), line=exc.line) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"{p}:{line}: the mapping file is not UTF-8 text (byte {exc.start}); save it as UTF-8",
            file=str(p),
            line=line,
        ) from None
    return parse_mapping(text, network, file=str(p), model_id=model_id)


def parse_mapping(
    text: str, network: Network, *, file: str | None = None, model_id: str | None = None
) -> SurveyMapping:
    """Validate the text of a mapping file; see :func:`load_mapping`."""
    try:
        data, doc = _parse_yaml(text, file)
    except ModelSyntaxError as exc:
        raise DataError(str(exc), file=file, line=exc.line) from None
    top = data if isinstance(data, dict) else {}
    if not isinstance(data, dict):
        doc.problem("", "expected a mapping at the top of the file")
    for key in top:
        if key not in _TOP:
            doc.problem(key, f"unknown key '{key}'; valid keys: {', '.join(_TOP)}")
    if top.get("format") != FORMAT:
        doc.problem("format", f"format must be '{FORMAT}', got {_show(top.get('format'))}")
    for key in ("id", "model", "columns"):
        if key not in top and isinstance(data, dict):
            doc.problem("", f"missing required key '{key}'")
    if model_id is not None and "model" in top and top["model"] != model_id:
        doc.problem("model", f"this mapping was written for model '{top['model']}', not '{model_id}'")
    global_missing = _codes(top.get("missing", []), "missing", doc)
    ignore = top.get("ignore", [])
    if not isinstance(ignore, list):
        doc.problem("ignore", "expected a list of column names")
        ignore = []
    columns = []
    cols = top.get("columns", {})
    if not isinstance(cols, dict):
        doc.problem("columns", "expected a mapping from column names to their descriptions")
        cols = {}
    questions = list(network.observables)
    for name in cols:
        if str(name) in {str(c) for c in ignore}:
            doc.problem(f"columns.{name}", f"column '{name}' is both mapped and listed under 'ignore'")
    for name, spec in cols.items():
        path = f"columns.{name}"
        cm = _column(str(name), spec, path, doc, network, questions, global_missing)
        if cm is not None:
            columns.append(cm)
    if doc.problems:
        raise _data_error(doc.problems)
    return SurveyMapping(
        str(top["id"]),
        str(top["model"]),
        str(top.get("description", "")).strip(),
        tuple(columns),
        frozenset(str(c) for c in ignore),
        file,
    )


def _data_error(problems: Sequence[Problem]) -> DataError:
    first = problems[0]
    text = f"{len(problems)} problem(s) in the mapping:\n" + "\n".join(f"  {p}" for p in problems)
    err = DataError(text, file=first.file, line=first.line)
    err.problems = tuple(problems)  # type: ignore[attr-defined]
    return err


def _codes(value: Any, path: str, doc: _Doc) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        value = [value]
    bad = [v for v in value if isinstance(v, (dict, list))]
    if bad:
        doc.problem(path, f"expected a list of codes (numbers or text), got {_show(bad[0])}")
        return frozenset()
    return frozenset(_code_text(v) for v in value)


def _column(
    name: str,
    spec: Any,
    path: str,
    doc: _Doc,
    network: Network,
    questions: Sequence[str],
    global_missing: frozenset[str],
) -> ColumnMap | None:
    if not isinstance(spec, dict):
        doc.problem(path, "expected a mapping with 'question' and 'answers'")
        return None
    for key in spec:
        if key not in _COL:
            doc.problem(f"{path}.{key}", f"unknown key '{key}'; valid keys: {', '.join(_COL)}")
    q = spec.get("question")
    if q not in questions:
        close = difflib.get_close_matches(str(q), questions, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        doc.problem(f"{path}.question", f"unknown question {_show(q)}{hint}")
        return None
    states = network.states[q]
    scale = spec.get("scale")
    reverse = spec.get("reverse", False)
    if not isinstance(reverse, bool):
        doc.problem(f"{path}.reverse", f"expected true or false, got {_show(reverse)}")
        reverse = False
    lo_hi: tuple[float, float] | None = None
    if scale is not None:
        if (
            not isinstance(scale, list)
            or len(scale) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in scale)
            or scale[0] >= scale[1]
        ):
            doc.problem(f"{path}.scale", f"expected [min, max] with min < max, got {_show(scale)}")
        else:
            lo_hi = (float(scale[0]), float(scale[1]))
    if reverse and lo_hi is None:
        doc.problem(f"{path}.reverse", "reverse scoring needs 'scale: [min, max]'")
    answers = spec.get("answers")
    table: dict[str, tuple[float, ...]] = {}
    if not isinstance(answers, dict) or not answers:
        doc.problem(f"{path}.answers", "expected a mapping from codes to answers")
        return None
    column_missing = _codes(spec.get("missing", []), f"{path}.missing", doc)
    for code, value in answers.items():
        ap = f"{path}.answers.{code}"
        key = _code_text(code)
        if key in table:
            doc.problem(ap, f"code {_show(code)} is the same code as one given before (codes are compared as numbers)")
            continue
        if key in column_missing or key in global_missing:
            doc.problem(ap, f"code {_show(code)} is also listed as missing; a code is either an answer or missing")
        if lo_hi is not None:
            try:
                x = float(key)
                if not lo_hi[0] <= x <= lo_hi[1]:
                    doc.problem(ap, f"code {_show(code)} is outside the scale {list(scale)}")
            except ValueError:
                pass
        if isinstance(value, str):
            if value not in states:
                close = difflib.get_close_matches(value, list(states), n=1, cutoff=0.5)
                hint = f". Did you mean '{close[0]}'?" if close else ""
                doc.problem(ap, f"'{value}' is not an answer of question '{q}'; valid: {', '.join(states)}{hint}")
                continue
            table[key] = tuple(float(s == value) for s in states)
        elif isinstance(value, dict):
            bad = [k for k in value if k not in states]
            if bad:
                doc.problem(ap, f"soft answer labels {bad} are not answers of '{q}'; valid: {', '.join(states)}")
                continue
            lik = []
            ok = True
            for s in states:
                x = value.get(s, 0.0)
                if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
                    doc.problem(ap, f"likelihood of '{s}' must be a number >= 0, got {_show(x)}")
                    ok = False
                    break
                lik.append(float(x))
            if ok and sum(lik) <= 0:
                doc.problem(ap, "a soft answer needs at least one positive likelihood")
                ok = False
            if ok:
                table[key] = tuple(lik)
        else:
            doc.problem(ap, f"expected an answer label or a soft answer mapping, got {_show(value)}")
    rationale = spec.get("rationale", "")
    if not isinstance(rationale, str):
        doc.problem(f"{path}.rationale", f"expected text, got {_show(rationale)}")
        rationale = ""
    return ColumnMap(name, q, table, global_missing | column_missing, lo_hi, reverse, rationale.strip(), doc.line(path))


def likelihood_table(cm: ColumnMap, uniques: Sequence[Any], card: int) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Return per unique cell value its likelihood row (ones if missing) and an invalid mask."""
    lik = np.ones((len(uniques), card))
    bad = np.zeros(len(uniques), dtype=bool)
    for j, u in enumerate(uniques):
        raw = _code_text(u)
        if raw == "" or raw.lower() == "unsure" or raw in cm.missing:
            continue
        key = cm.code_key(u)
        if key in cm.answers:
            lik[j] = cm.answers[key]
        else:
            bad[j] = True
    return lik, bad
