"""Plain-language text for people: wrapping to the terminal, strength of evidence, odds in words.

Nothing here knows about models; every function takes plain values and returns text.
"""

from __future__ import annotations

import math
import os
import shutil
import textwrap
from collections.abc import Iterable

__all__ = [
    "DEFAULT_WIDTH",
    "MIN_WIDTH",
    "odds_phrase",
    "percent",
    "points",
    "strength_word",
    "terminal_width",
    "wrap",
]

DEFAULT_WIDTH = 80  # when the width of the terminal cannot be found (a pipe, a file)
MIN_WIDTH = 30  # narrower than this and wrapping does more harm than good
MAX_WIDTH = 100  # lines longer than this are hard to read, however wide the terminal

# odds factor (>= 1, or its inverse) at which evidence is called moderate / strong
MODERATE_FACTOR = 2.0
STRONG_FACTOR = 5.0
NEGLIGIBLE_FACTOR = 1.05  # a change in the odds under 5% is not worth a sentence


def terminal_width(fallback: int = DEFAULT_WIDTH) -> int:
    """Return the width to wrap to: ``$COLUMNS``, else the terminal's, else ``fallback``.

    The result is kept between 30 and 100 columns (a very wide line is hard to read).
    """
    try:
        columns = shutil.get_terminal_size((fallback, 24)).columns
    except (OSError, ValueError):  # no terminal and a bad $COLUMNS
        columns = fallback
    if columns <= 0:
        columns = fallback
    if os.environ.get("COLUMNS", "").strip().isdecimal():  # an explicit width is obeyed, down to MIN_WIDTH
        return max(MIN_WIDTH, columns)
    return max(MIN_WIDTH, min(MAX_WIDTH, columns))


def wrap(text: str, width: int, *, indent: str = "", hang: str | None = None) -> str:
    """Wrap ``text`` to ``width`` columns without ever breaking a word or a hyphenated word.

    ``indent`` starts the first line, ``hang`` (default: ``indent``) the others. Runs of
    whitespace (line breaks in YAML text included) become one space. A single word longer than
    the line is kept whole on its own line.
    """
    hang = indent if hang is None else hang
    body = " ".join(text.split())
    if not body:
        return indent.rstrip()
    return textwrap.fill(
        body,
        width=max(width, len(indent) + 1, len(hang) + 1),
        initial_indent=indent,
        subsequent_indent=hang,
        break_long_words=False,
        break_on_hyphens=False,
    )


def wrap_lines(lines: Iterable[str], width: int, *, indent: str = "", hang: str | None = None) -> list[str]:
    """Wrap each text of ``lines`` (see :func:`wrap`); return the resulting lines."""
    out: list[str] = []
    for line in lines:
        out += wrap(line, width, indent=indent, hang=hang).split("\n")
    return out


def strength_word(factor: float) -> str:
    """Name how strongly an answer moved the odds of a cause: 'strong', 'moderate' or 'slight'.

    ``factor`` is how many times the odds were multiplied (below 1: divided). Strong means
    5 times or more either way, moderate 2 to 5 times, slight less than 2 times.
    """
    f = _spread(factor)
    if not math.isinf(f):  # judged on the number shown, so '5 times' is never called moderate
        f = round(f) if f >= 10 else round(f, 1)
    if f >= STRONG_FACTOR:
        return "strong"
    if f >= MODERATE_FACTOR:
        return "moderate"
    return "slight"


def _spread(factor: float) -> float:
    """How far the odds moved, as a factor >= 1 whichever way they moved (inf at certainty)."""
    if factor <= 0:
        return math.inf
    return factor if factor >= 1 else 1.0 / factor


def _times(f: float) -> str:
    if math.isinf(f):
        return "infinitely many times"
    if f >= 100:
        return "more than 100 times"
    if f >= 10:
        return f"about {round(f)} times"
    shown = f"{f:.1f}".removesuffix(".0")
    return f"about {shown} times"


def odds_phrase(factor: float) -> str:
    """Say an odds factor in words: 'about 3 times as likely' or 'about 2.5 times less likely'.

    An answer that made a cause certain (``inf``) or ruled it out (``0``) is said in words
    without a number.
    """
    if math.isinf(factor):
        return "certain"
    if factor <= 0:
        return "ruled out"
    if factor >= 1:
        return f"{_times(factor)} as likely"
    return f"{_times(1.0 / factor)} less likely"


def percent(p: float) -> str:
    """A probability as a whole percentage a person reads at a glance ('<1%' and '>99%' at the edges)."""
    if p <= 0:
        return "0%"
    if p >= 1:
        return "100%"
    if p < 0.005:
        return "<1%"
    if p > 0.995:
        return ">99%"
    return f"{p:.0%}"


def points(difference: float) -> str:
    """A difference of two probabilities in percentage points ('51 percentage points')."""
    n = round(abs(difference) * 100)
    return f"{n} percentage point{'s' if n != 1 else ''}"
