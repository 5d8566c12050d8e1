"""``distancing-bn ask``: driven through a real pseudo-terminal (pexpect), and its answers files.

The interactive tests run ``python -m distancing_bn ask`` as a subprocess on a pty, read what a
person would see, and answer by number, by text, by prefix, with the keys, through the list of
questions (volunteering), checklists and the safety notice. What was recorded is read back from
the ``--save`` file, never from the screen alone.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distancing_bn._text import odds_phrase, percent, points, strength_word, terminal_width, wrap
from distancing_bn.formats import load_model
from distancing_bn.model import Model

pexpect = pytest.importorskip("pexpect", reason="the pty tests need pexpect (the dev extra)")

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
DISCLAIMER_PART = "not a clinical"

ASK_MODEL = """\
format: distancing-bn/1
id: ask_example
title: A small questionnaire for the ask tests
description: Causes, a safety screen, two checklists and answers that share their first words.
disclaimer: A reflective aid for thinking things through, not a clinical assessment of anyone.

notices:
  - id: safety_first
    kind: safety
    title: Your safety comes first
    text: >
      Being afraid of a partner is not a communication problem to solve; a helpline can help
      you think it through.
  - id: crisis_line
    kind: crisis
    title: If they may harm themselves
    text: Talk of self-harm should always be taken seriously; a crisis line can advise you today.
  - id: mood_help
    kind: professional_help
    title: Someone to talk to
    text: Low mood that lasts for weeks may be worth talking over with a doctor or counsellor.

general_guidance:
  - Nothing stands out yet; a calm talk at a good moment is a fine first step.

causes:
  - id: outside_stress
    label: Outside stress
    description: Work or money pressure.
    prior: 0.35
    rationale: Test number.
    guidance: ["Ask what weighs on them at the moment, and listen."]
  - id: drifting_apart
    label: Drifting apart
    description: Less connection.
    prior: 0.3
    rationale: Test number.
    guidance: [Plan some time together that is only about the two of you.]
  - id: low_mood_cause
    label: Low mood
    description: Depression or grief.
    prior: 0.25
    rationale: Test number.
    guidance: [Gently encourage them to talk to someone.]
  - id: coercive_control
    label: Controlling behaviour
    kind: safety
    description: Coercive control.
    prior: 0.05
    rationale: Test number.
    guidance: [Your safety first.]
    notices: {safety_first: 0.5}

questions:
  - id: partner_afraid
    label: Afraid of them
    theme: Safety
    text: Do you ever feel afraid of your partner?
    answers: [no, yes]
    screen: 1
    leak: 0.02
    leak_rationale: Test number.
    links:
      - {cause: coercive_control, strength: 0.7, rationale: Test number.}
    notices: {safety_first: [yes]}
  - id: talks_of_harm
    label: Talks of self-harm
    theme: Safety
    text: Has your partner talked about harming themselves?
    answers: [no, yes]
    leak: 0.02
    leak_rationale: Test number.
    links:
      - {cause: low_mood_cause, strength: 0.3, rationale: Test number.}
    notices: {crisis_line: [yes]}
  - id: checks_phone
    label: Checks your phone
    theme: Safety
    text: Does your partner check your phone or track where you are?
    answers: [no, yes]
    leak: 0.03
    leak_rationale: Test number.
    links:
      - {cause: coercive_control, strength: 0.6, rationale: Test number.}
  - id: cuts_off
    label: Cuts you off from people
    theme: Safety
    text: Does your partner try to keep you from friends or family?
    answers: [no, yes]
    leak: 0.03
    leak_rationale: Test number.
    links:
      - {cause: coercive_control, strength: 0.5, rationale: Test number.}
  - id: long_hours
    label: Longer working hours
    theme: Life changes
    text: Is your partner working longer hours than they used to?
    answers: [no, yes]
    leak: 0.15
    leak_rationale: Test number.
    links:
      - {cause: outside_stress, strength: 0.6, rationale: Test number.}
  - id: money_worries
    label: Money worries
    theme: Life changes
    text: Are there money worries at home just now?
    answers: [no, yes]
    leak: 0.15
    leak_rationale: Test number.
    links:
      - {cause: outside_stress, strength: 0.5, rationale: Test number.}
  - id: recent_loss
    label: A recent loss
    theme: Life changes
    text: Has your partner lost someone close to them recently?
    answers: [no, yes]
    leak: 0.05
    leak_rationale: Test number.
    links:
      - {cause: low_mood_cause, strength: 0.4, rationale: Test number.}
  - id: less_talk
    label: Less personal talk
    theme: Talking
    text: Do the two of you talk about personal things less than before?
    answers: [no, a_little, a_lot]
    answer_labels: {no: "No", a_little: "Yes, a little less", a_lot: "Yes, a lot less"}
    leak: {a_little: 0.15, a_lot: 0.05}
    leak_rationale: Test number.
    links:
      - {cause: outside_stress, strength: {a_little: 0.4, a_lot: 0.1}, rationale: Test number.}
      - {cause: drifting_apart, strength: {a_little: 0.3, a_lot: 0.5}, rationale: Test number.}
  - id: seems_low
    label: Seems low
    theme: Mood
    text: Does your partner seem low or flat on most days?
    answers: [no, yes]
    leak: 0.08
    leak_rationale: Test number.
    links:
      - {cause: low_mood_cause, strength: 0.7, rationale: Test number.}
    notices: {mood_help: [yes]}
  - id: fewer_dates
    label: Fewer evenings together
    theme: Closeness
    text: Do you spend fewer evenings together than a year ago?
    answers: [no, somewhat, much_fewer]
    leak: {somewhat: 0.2, much_fewer: 0.05}
    leak_rationale: Test number.
    links:
      - {cause: drifting_apart, strength: {somewhat: 0.3, much_fewer: 0.4}, rationale: Test number.}
      - {cause: outside_stress, strength: {somewhat: 0.3, much_fewer: 0.2}, rationale: Test number.}

groups:
  - id: life_events
    label: Recent life events
    theme: Life changes
    text: Which of these has happened in the last six months? Pick any.
    items: [long_hours, money_worries, recent_loss]
    cost: 1.5
  - id: safety_check
    label: Safety check
    theme: Safety
    text: Has your partner done any of these? Pick any.
    items: [checks_phone, cuts_off]
    screen: 2
"""


# ----------------------------------------------------------------------------- helpers
def _env(columns: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONIOENCODING"] = "utf-8"
    env["COLUMNS"] = str(columns)
    env["LINES"] = "40"
    env.pop("CI", None)
    return env


def run_cli(*args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m distancing_bn ARGS`` with piped stdin (for the non-interactive paths)."""
    return subprocess.run(
        [sys.executable, "-m", "distancing_bn", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        env=_env(80),
        timeout=timeout,
        check=False,
    )


def _norm(text: str) -> str:
    return " ".join(text.split())


PROMPTS = {
    "answer": r"\n> ",
    "number": r"\nnumber> ",
    "notice": r"\nc or q> ",
    "kind": r"\nkind> ",
    "row": r"\n[a-z]> ",  # a grid asked one line at a time
}
QUESTION_HEAD = r"^Question \d+(?: \((?:a checklist|one answer per line)\))?\n"


class Ask:
    """``distancing-bn ask`` on a pseudo-terminal: wait for a prompt, read the screen, type."""

    def __init__(self, model: Model, *args: str, columns: int = 80) -> None:
        self.model = model
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "distancing_bn", "ask", *args],
            cwd=str(REPO),
            env=_env(columns),
            encoding="utf-8",
            dimensions=(40, columns),
            timeout=90,
        )
        self.log = io.StringIO()
        self.child.logfile_read = self.log
        self.by_text = {_norm(model.question_text(q)): q for q in model.questions}
        self.by_text.update({_norm(g.text): gid for gid, g in model.groups.items()})
        self.block = ""
        self.kind = ""

    def wait(self) -> str:
        """Wait for the next prompt; return its kind (answer, number, notice) or 'end'."""
        kinds = list(PROMPTS)
        i = self.child.expect([*PROMPTS.values(), pexpect.EOF])
        self.block = self.child.before.replace("\r\n", "\n").replace("\r", "")
        self.kind = kinds[i] if i < len(kinds) else "end"
        return self.kind

    def type(self, text: str) -> str:
        """Type one line and wait for the next prompt."""
        self.child.sendline(text)
        return self.wait()

    @property
    def current(self) -> str | None:
        """The id of the question (or checklist) on screen now, from its text."""
        blocks = re.split(QUESTION_HEAD, self.block, flags=re.MULTILINE)
        if len(blocks) < 2:
            return None
        lines = []
        for line in blocks[-1].split("\n"):
            if re.match(r"^ {3}(?:\d+|[a-z])\) ", line):
                break
            lines.append(line)
        return self.by_text.get(_norm(" ".join(lines)))

    def options(self) -> list[str]:
        """The numbered choices on screen, in order (joined across wrapped lines)."""
        out: list[str] = []
        for line in self.block.split("\n"):
            m = re.match(r"^ {2,3}\s*(\d+)\) (.*)$", line)
            if m:
                out.append(m.group(2))
            elif out and line.startswith("      ") and not line.strip().startswith(("-", "*")):
                out[-1] += " " + line.strip()
        return out

    def volunteer(self, item: str) -> str:
        """Type 'l' (and 'a' for all when the list starts with its themes), pick ``item`` by its number."""
        if self.type("l") == "kind":
            self.type("a")
        assert self.kind == "number", self.block
        listing = self.listing()
        label = self.model.question_label(item) + _suffix(self.model, item)
        number = next(n for n, (_, text) in enumerate(listing, start=1) if text == label)
        kind = self.type(str(number))
        assert self.current == item, self.block
        return kind

    def listing(self, *, full: bool = True) -> list[tuple[str, str]]:
        """The volunteer list on screen: (theme, label) per number, in order (numbered 1, 2, ... if ``full``)."""
        rows: list[tuple[str, str]] = []
        theme = ""
        body = self.block.split("Questions not answered yet, by theme:", 1)[1]
        for line in body.split("\n"):
            m = re.match(r"^ +(\d+)\) (.*)$", line)
            if m:
                assert not full or int(m.group(1)) == len(rows) + 1
                rows.append((theme, m.group(2)))
            elif re.match(r"^  \S", line):
                theme = line.strip()
            elif rows and line.startswith("       "):
                rows[-1] = (rows[-1][0], rows[-1][1] + " " + line.strip())
        return rows

    def go_to(self, item: str) -> str:
        """Make ``item`` the question on screen: it is either next anyway, or volunteered."""
        if self.current == item:
            return self.kind
        return self.volunteer(item)

    def finish(self) -> tuple[int, str]:
        """Wait for the end; return the exit status and everything shown."""
        if self.kind != "end":
            self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus, self.transcript

    @property
    def transcript(self) -> str:
        return self.log.getvalue().replace("\r\n", "\n")


def _suffix(model: Model, item: str) -> str:
    """What the volunteer list adds to a group's label."""
    group = model.groups.get(item)
    if group is None:
        return ""
    return " (grid)" if getattr(group, "is_grid", False) else " (checklist)"


def grid_rows(block: str) -> list[str]:
    """The lettered lines of the grid on screen (joined across wrapped lines)."""
    body = re.split(QUESTION_HEAD, block, flags=re.MULTILINE)[-1]
    out: list[str] = []
    for line in body.split("\n"):
        m = re.match(r"^ {3}([a-z])\) (.*)$", line)
        if m:
            out.append(m.group(2))
        elif out and line.startswith("      ") and not line.strip().startswith("Answers"):
            out[-1] += " " + line.strip()
        elif out:
            break
    return out


def first_choice(ask: Ask, item: str) -> str:
    """The first answer of whatever is on screen: 1, 0 (none of a checklist) or 1 on every line of a grid."""
    if item in ask.model.groups:
        if getattr(ask.model.groups[item], "is_grid", False):
            return " ".join("1" for _ in grid_rows(ask.block))
        return "0"
    return "1"


def assert_no_ids(model: Model, out: str) -> None:
    """No question, cause, checklist or notice id reaches the person (ids with an underscore only)."""
    ids = [*model.questions, *model.causes, *model.groups, *(n.id for n in model.spec.notices)]
    for q in model.questions:
        ids += [a for a in model.answers_of(q) if "_" in a]
    found = sorted({i for i in ids if "_" in i and re.search(rf"\b{re.escape(i)}\b", out)})
    assert found == []


def saved(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model()


@pytest.fixture(scope="module")
def ask_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ask") / "ask_example.yaml"
    path.write_text(ASK_MODEL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ask_model(ask_model_path: Path) -> Model:
    return load_model(ask_model_path)


@pytest.fixture
def session_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "session.json"


# ----------------------------------------------------------------------------- typed answers
def test_answers_by_text_prefix_and_number_with_ambiguity(
    ask_model: Model, ask_model_path: Path, session_file: Path
) -> None:
    ask = Ask(ask_model, str(ask_model_path), "--save", str(session_file))
    ask.wait()
    # the shown text, in other capitals
    ask.go_to("less_talk")
    assert ask.options() == ["No", "Yes, a little less", "Yes, a lot less"]
    assert ask.type("yes") == "answer"  # fits two answers: asked again, both named
    assert "fits more than one answer (Yes, a little less, Yes, a lot less)" in _norm(ask.block)
    assert "Please type a number from 1 to 3 or the answer's words (or u, b, l, q; ? for help)." in _norm(ask.block)
    assert ask.current is None  # the same question, not a new one
    ask.type("YES, A LOT LESS")
    # a unique prefix
    ask.go_to("fewer_dates")
    assert ask.options() == ["No", "Somewhat", "Much fewer"]
    ask.type("mu")
    # a number, and a number out of range first
    ask.go_to("seems_low")
    assert ask.type("7") == "answer"
    assert "There is no answer 7; the answers are numbered 1 to 2." in _norm(ask.block)
    assert ask.type("xyz") == "answer" and "That is not one of the answers." in ask.block
    ask.type("1")
    history = dict(saved(session_file)["history"])
    assert history == {"less_talk": "a_lot", "fewer_dates": "much_fewer", "seems_low": "no"}
    ask.type("q")
    status, out = ask.finish()
    assert status == 0
    assert "Traceback" not in out
    assert_no_ids(ask_model, out)


def test_unsure_and_back(ask_model: Model, ask_model_path: Path, session_file: Path) -> None:
    ask = Ask(ask_model, str(ask_model_path), "--save", str(session_file))
    ask.wait()
    assert ask.type("b") == "answer"
    assert "There is nothing to go back to yet." in ask.block
    first = ask.current
    assert first is not None
    ask.type("u")  # not sure: recorded as unsure, the next question comes
    second = ask.current
    assert second is not None and second != first
    assert saved(session_file)["history"] == [[first, "unsure"]]
    ask.type("b")  # takes the 'unsure' back: the first question again
    assert "Took back the last answer." in ask.block
    assert ask.current == first
    assert saved(session_file)["history"] == []
    ask.type("?")
    assert "u  not sure" in ask.block and "l  list the questions" in ask.block
    ask.type("q")
    status, out = ask.finish()
    assert status == 0
    assert "You stopped the questions." in out


# ----------------------------------------------------------------------------- volunteering and checklists
def test_volunteer_through_the_list(ask_model: Model, ask_model_path: Path, session_file: Path) -> None:
    ask = Ask(ask_model, str(ask_model_path), "--save", str(session_file))
    ask.wait()
    assert ask.type("l") == "number"
    listing = ask.listing()
    shown = {text.removesuffix(" (checklist)") for _, text in listing}
    expected = {ask_model.question_label(q) for q in (*ask_model.questions, *ask_model.groups)}
    assert shown == expected  # every question and checklist, by label
    themes = list(dict.fromkeys(theme for theme, _ in listing))
    assert themes[0] == "Safety"  # the themes of the screens first
    assert set(themes) == {"Safety", "Life changes", "Talking", "Mood", "Closeness"}
    for theme, text in listing:
        item = next(
            i for i in (*ask_model.questions, *ask_model.groups) if text.startswith(ask_model.question_label(i))
        )
        assert ask_model.question_theme(item) == theme
    assert ask.type("99") == "number" and f"There is no question 99; they are numbered 1 to {len(listing)}." in _norm(
        ask.block
    )
    assert ask.type("") == "answer"  # Enter goes back to the question
    # answer one by its label's first letters
    assert ask.type("l") == "number"
    assert ask.type("money") == "answer"
    assert ask.current == "money_worries"
    ask.type("yes")
    assert saved(session_file)["history"] == [["money_worries", "yes"]]
    assert "Most likely so far:" in ask.block
    ask.type("l")
    full = ask.listing()
    assert "Money worries" not in {t for _, t in full}
    ask.type("")
    # 'l WORDS' lists only the questions with those words, under the numbers of the full list
    assert ask.type("l partner") == "number"
    found = ask.listing(full=False)
    assert found and len(found) < len(full)
    for _, label in found:
        item = next(
            i for i in (*ask_model.questions, *ask_model.groups) if label.startswith(ask_model.question_label(i))
        )
        text = ask_model.groups[item].text if item in ask_model.groups else ask_model.question_text(item)
        assert "partner" in f"{label} {text}".lower()
    numbers = re.findall(r"^ +(\d+)\) ", ask.block, re.MULTILINE)
    assert [full[int(n) - 1] for n in numbers] == found
    ask.type("q")
    status, _ = ask.finish()
    assert status == 0


EXTRA_QUESTION = """\
  - id: extra_{k}
    label: Extra sign {k}
    theme: More signs
    text: Is extra sign number {k} there?
    answers: [no, yes]
    leak: 0.1
    leak_rationale: Test number.
    links:
      - {{cause: drifting_apart, strength: 0.2, rationale: Test number.}}
"""


def test_a_long_list_starts_with_its_themes(tmp_path: Path, session_file: Path) -> None:
    extra = "".join(EXTRA_QUESTION.format(k=k) for k in range(1, 16))
    path = tmp_path / "long.yaml"
    path.write_text(ASK_MODEL.replace("\ngroups:\n", "\n" + extra + "\ngroups:\n"), encoding="utf-8")
    model = load_model(path)
    assert len(model.questions) + len(model.groups) > 20
    ask = Ask(model, str(path), "--save", str(session_file))
    ask.wait()
    assert ask.type("l") == "kind"
    kinds = re.findall(r"^ +(\d+|a)\) (.*)$", ask.block, re.MULTILINE)
    themes = list(dict.fromkeys(model.question_theme(i) for i in (*model.questions, *model.groups)))
    shown = [t for _, t in kinds][:-1]
    assert sorted(shown) == sorted(f"{t} ({n})" for t, n in _theme_counts(model, themes).items())
    assert shown[0] == "Safety (5)"  # the screens' theme first
    assert kinds[-1] == ("a", "all of them")
    assert ask.type("x9") == "kind" and "Please type a number from 1 to" in _norm(ask.block)
    number = next(k for k, t in kinds if t.startswith("More signs"))
    assert ask.type(number) == "number"
    listing = ask.listing(full=False)
    assert {theme for theme, _ in listing} == {"More signs"} and len(listing) == 15
    numbers = re.findall(r"^ +(\d+)\) Extra sign 7$", ask.block, re.MULTILINE)
    assert len(numbers) == 1
    ask.type(numbers[0])
    assert ask.current == "extra_7"
    ask.type("yes")
    assert saved(session_file)["history"] == [["extra_7", "yes"]]
    # 'a' lists everything, numbered from 1
    assert ask.type("l") == "kind"
    assert ask.type("a") == "number"
    assert len(ask.listing()) == len(model.questions) + len(model.groups) - 1
    ask.type("")
    ask.type("q")
    assert ask.finish()[0] == 0


def _theme_counts(model: Model, themes: list[str]) -> dict[str, int]:
    items = [*model.groups, *model.questions]
    return {t: sum(model.question_theme(i) == t for i in items) for t in themes}


def _session_takes_groups(model: Model) -> bool:
    try:
        model.session().answer("life_events", "none")
    except Exception:
        return False
    return True


def test_checklist_multi_select(ask_model: Model, ask_model_path: Path, session_file: Path) -> None:
    if not _session_takes_groups(ask_model):
        pytest.skip("Session.answer does not take checklist answers yet (contract: lead's part on main)")
    ask = Ask(ask_model, str(ask_model_path), "--save", str(session_file))
    ask.wait()
    ask.go_to("life_events")
    labels = [ask_model.question_label(q) for q in ask_model.groups["life_events"].items]
    assert ask.options() == [*labels, "None of these"]
    assert ask.type("0 2") == "answer" and "0 means none of these" in _norm(ask.block)
    assert ask.type("4") == "answer" and "There is no item 4" in _norm(ask.block)
    ask.type("2 1")
    answers = saved(session_file)
    assert answers["history"] == [["life_events", {"long_hours": "yes", "money_worries": "yes", "recent_loss": "no"}]]
    from distancing_bn.session import Session

    session = Session.from_dict(answers, ask_model)
    assert session.answers == {"long_hours": "yes", "money_worries": "yes", "recent_loss": "no"}
    assert session.steps == 1
    ask.type("q")
    status, out = ask.finish()
    assert status == 0
    # the report says what was picked, by the items' labels, as the person saw them
    report = _norm(out.split("Why Outside stress stands out", 1)[1])
    factor = ask_model.explain(session.answers, "outside_stress").to_frame().set_index("question")["factor"]
    said = f"{strength_word(factor['long_hours'])} evidence for it ({odds_phrase(factor['long_hours'])})"
    assert f'You picked "Longer working hours" (Recent life events): {said}' in report
    assert 'You picked "Money worries" (Recent life events)' in report
    assert ask_model.question_text("long_hours") not in report


def test_a_grid_is_one_screen_answered_by_line(model: Model, session_file: Path) -> None:
    """The default model's grids: lettered lines, the answers once, "1 3 2 ..." or line by line, unsure per line."""
    gid = next(g for g, group in model.groups.items() if group.is_grid and len(group.items) == 6)
    group = model.groups[gid]
    items = list(group.items)
    scale = list(group.scale) or [
        model.spec.question(items[0]).display(a).capitalize() for a in model.answers_of(items[0])
    ]
    ask = Ask(model, "--save", str(session_file), columns=80)
    ask.wait()
    ask.go_to(gid)
    assert f"Question 1 (one answer per line)\n{group.text}" in ask.block.replace("\r", "")
    assert grid_rows(ask.block) == [model.question_label(q) for q in items]
    answers_line = " · ".join(f"{i} {h}" for i, h in enumerate(scale, start=1)) + " · u Not sure"
    assert f"Answers: {answers_line}" in _norm(ask.block)
    assert max(len(line) for line in ask.block.split("\n")) <= 80
    assert "Press Enter alone to answer one line at a time." in _norm(ask.block)  # the first grid: in full
    # a wrong count, and a word that is no answer, are named; nothing is recorded
    assert ask.type("1 2") == "answer" and "That is 2 answers; please type 6, one for each line." in _norm(ask.block)
    assert ask.type("1 2 3 1 2 lots") == "answer" and "Line f: That is not one of the answers." in _norm(ask.block)
    assert saved(session_file)["history"] == []
    # numbers, a word, and u for one line
    words = scale[2].lower()
    ask.type(f"1 3 2 u 1 {words}")
    history = saved(session_file)["history"]
    expected = [model.answers_of(items[0])[0], model.answers_of(items[1])[2], model.answers_of(items[2])[1], "unsure"]
    expected += [model.answers_of(items[4])[0], model.answers_of(items[5])[2]]
    assert history == [[gid, dict(zip(items, expected, strict=True))]]
    echo = _norm(ask.block)
    assert f"Your answers: a) {scale[0]} · b) {scale[2]} · c) {scale[1]} · d) not sure" in echo
    from distancing_bn.session import Session

    session = Session.from_dict(saved(session_file), model)
    assert session.steps == 1 and session.items_asked == 6 and items[3] not in session.answers
    # back, then the same grid line by line (Enter), with b to start the grid again
    if ask.kind == "notice":
        ask.type("c")
    assert ask.type("b") == "answer" and saved(session_file)["history"] == []
    ask.go_to(gid)
    assert ask.type("") == "row" and _norm(model.question_label(items[0])) in _norm(ask.block)
    assert ask.type("2") == "row"
    assert ask.type("b") == "answer"  # the whole grid again
    ask.type("")
    for typed in ("2", "u", scale[0].lower()[:3], "3", "1", "1"):
        kind = ask.type(typed)
    assert kind in ("answer", "notice", "end")
    history = saved(session_file)["history"]
    answers = [model.answers_of(items[0])[1], "unsure", model.answers_of(items[2])[0]]
    answers += [model.answers_of(items[3])[2], model.answers_of(items[4])[0], model.answers_of(items[5])[0]]
    assert history == [[gid, dict(zip(items, answers, strict=True))]]
    # digits without spaces, on the next grid
    if ask.kind == "notice":
        ask.type("c")
    other = next(g for g, grp in model.groups.items() if grp.is_grid and g != gid and len(grp.items) == 6)
    ask.go_to(other)
    shown = _norm(ask.block.split("Question", 1)[-1])
    assert "One answer for each line, in order (u: not sure; Enter alone: line by line)." in shown
    assert "Press Enter alone" not in shown  # later grids: one short line
    ask.type("123123")
    assert saved(session_file)["history"][-1][1] == {
        q: model.answers_of(q)[k] for q, k in zip(model.groups[other].items, (0, 1, 2, 0, 1, 2), strict=True)
    }
    if ask.kind == "notice":
        ask.type("c")
    ask.type("q")
    status, out = ask.finish()
    assert status == 0 and "Traceback" not in out
    assert_no_ids(model, out)


def test_an_unsure_checklist_is_set_aside_with_its_items(
    ask_model: Model, ask_model_path: Path, session_file: Path
) -> None:
    ask = Ask(ask_model, str(ask_model_path), "--save", str(session_file))
    ask.wait()
    ask.go_to("life_events")
    ask.type("u")
    items = ask_model.groups["life_events"].items
    assert saved(session_file)["history"] == [["life_events", dict.fromkeys(items, "unsure")]]
    assert ask.type("l") == "number"
    labels = {t for _, t in ask.listing()}
    assert "Recent life events (checklist)" not in labels  # the Session counts its items as asked
    assert not labels & {ask_model.question_label(q) for q in items}
    ask.type("")
    assert ask.type("b") == "answer" and "Took back the last answer." in ask.block
    assert saved(session_file)["history"] == []
    ask.type("q")
    assert ask.finish()[0] == 0


# ----------------------------------------------------------------------------- the safety notice
def test_safety_notice_at_once_then_go_on(ask_model: Model, ask_model_path: Path) -> None:
    ask = Ask(ask_model, str(ask_model_path))
    ask.wait()
    ask.go_to("partner_afraid")
    assert ask.type("yes") == "notice"  # the notice's own prompt, before any other question
    notice = ask.block
    assert "Your safety comes first" in notice
    assert "Question" not in notice.split("Your safety comes first", 1)[1]
    assert _norm("Being afraid of a partner is not a communication problem to solve;") in _norm(notice)
    assert ask.type("maybe") == "notice" and "Please type c to go on" in ask.block
    assert ask.type("c") == "answer"
    assert ask.current is not None  # the questions go on
    ask.type("q")
    status, out = ask.finish()
    assert status == 0
    report = out.split("Your summary", 1)[1]
    # in the report: the notice above everything, the line that the list is not the point, no tips
    assert report.index("Your safety comes first") < report.index("How likely each possible reason")
    assert "is not the point right now" in _norm(report)
    assert "Ideas that may help" not in report
    assert "Controlling behaviour" not in out  # a safety cause speaks through its notice
    assert_no_ids(ask_model, out)


def test_crisis_notice_at_once_and_both_urgent_notices_first(ask_model: Model, ask_model_path: Path) -> None:
    ask = Ask(ask_model, str(ask_model_path))
    ask.wait()
    ask.go_to("talks_of_harm")
    assert ask.type("yes") == "notice"
    assert "If they may harm themselves" in ask.block and "Your safety comes first" not in ask.block
    ask.type("c")
    ask.go_to("partner_afraid")
    assert ask.type("yes") == "notice"
    assert "Your safety comes first" in ask.block
    assert "If they may harm themselves" not in ask.block  # each notice is shown at once only once
    assert ask.type("q") == "end"
    status, out = ask.finish()
    assert status == 0
    report = _norm(out.split("Your summary", 1)[1])
    first_table = report.index("How likely each possible reason")
    assert report.index("If they may harm themselves") < first_table
    assert report.index("Your safety comes first") < first_table
    assert report.index("not the point right now: safety comes first") < first_table
    assert "Ideas that may help" not in report


def test_safety_notice_then_stop(ask_model: Model, ask_model_path: Path) -> None:
    ask = Ask(ask_model, str(ask_model_path))
    ask.wait()
    ask.go_to("partner_afraid")
    assert ask.type("2") == "notice"
    assert ask.type("q") == "end"
    status, out = ask.finish()
    assert status == 0
    after = out.split("c or q> ", 1)[1]
    assert "Question" not in after
    assert after.index("You stopped the questions.") < after.index("Your summary")


def test_at_a_notice_the_saved_file_can_be_deleted(ask_model: Model, ask_model_path: Path, session_file: Path) -> None:
    ask = Ask(ask_model, str(ask_model_path), "--save", str(session_file))
    ask.wait()
    ask.go_to("partner_afraid")
    assert ask.type("yes") == "notice"
    assert f"Your answers are being saved in {session_file}." in _norm(ask.block)
    assert session_file.exists()
    assert ask.type("d") == "notice"
    assert f"Deleted {session_file}; nothing more will be saved." in _norm(ask.block)
    assert not session_file.exists()
    assert ask.type("c") == "answer"
    ask.type("1")  # another answer: still nothing saved
    ask.type("q")
    status, out = ask.finish()
    assert status == 0
    assert not session_file.exists()
    assert "--resume" not in out.split("c or q> d", 1)[1]


# ----------------------------------------------------------------------------- save and resume
def test_save_and_resume(ask_model: Model, ask_model_path: Path, session_file: Path) -> None:
    ask = Ask(ask_model, str(ask_model_path), "--save", str(session_file))
    ask.wait()
    first = ask.current
    ask.type("1")
    second = ask.current
    ask.type("1")
    ask.type("q")
    assert ask.finish()[0] == 0
    data = saved(session_file)
    assert data["model_sha256"] == ask_model.spec.sha256
    assert [s[0] for s in data["history"]] == [first, second]
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600  # it holds answers: owner only
    assert sorted(p.name for p in session_file.parent.iterdir()) == ["session.json"]  # no temporary left

    ask = Ask(ask_model, str(ask_model_path), "--resume", str(session_file))
    ask.wait()
    assert f"Going on with the session saved in {session_file}: 2 questions so far." in _norm(ask.block)
    assert re.search(r"^Question 3$", ask.block, re.MULTILINE)
    third = ask.current
    assert third not in (first, second)
    ask.type("1")
    ask.type("q")
    assert ask.finish()[0] == 0
    assert [s[0] for s in saved(session_file)["history"]] == [first, second, third]  # saved to the same file


def test_a_resumed_session_shows_its_notice_first(ask_model: Model, ask_model_path: Path, session_file: Path) -> None:
    session = ask_model.session().answer("partner_afraid", "yes")
    session_file.write_text(json.dumps(session.to_dict()), encoding="utf-8")
    ask = Ask(ask_model, str(ask_model_path), "--resume", str(session_file))
    assert ask.wait() == "notice"
    assert "Your safety comes first" in ask.block and not re.search(r"^Question", ask.block, re.MULTILINE)
    assert ask.type("c") == "answer" and re.search(r"^Question 2", ask.block, re.MULTILINE)
    ask.type("q")
    assert ask.finish()[0] == 0


def test_ctrl_c_keeps_what_was_saved(ask_model: Model, ask_model_path: Path, session_file: Path) -> None:
    ask = Ask(ask_model, str(ask_model_path), "--save", str(session_file))
    ask.wait()
    first = ask.current
    ask.type("1")
    ask.child.sendintr()
    ask.child.expect(pexpect.EOF)
    ask.child.close()
    assert ask.child.exitstatus == 130
    assert f"interrupted; the answers so far are saved in {session_file}" in ask.transcript
    assert "Traceback" not in ask.transcript
    assert [s[0] for s in saved(session_file)["history"]] == [first]


def test_resume_refuses_a_changed_model(ask_model_path: Path, session_file: Path, tmp_path: Path) -> None:
    res = run_cli("ask", str(ask_model_path), "--save", str(session_file), stdin="1\nq\n")
    assert res.returncode == 0, res.stderr
    changed = tmp_path / "ask_example.yaml"
    changed.write_text(ASK_MODEL.replace("prior: 0.35", "prior: 0.36"), encoding="utf-8")
    res = run_cli("ask", str(changed), "--resume", str(session_file))
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: DataError: ")
    assert "saved with a different version of the model" in res.stderr
    # the unchanged model resumes
    res = run_cli("ask", str(ask_model_path), "--resume", str(session_file), stdin="q\n")
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: "{not json", "not valid JSON"),
        (lambda d: [1, 2], "not a saved session"),
        (lambda d: {**d, "model": "another"}, "saved for another questionnaire"),
        (lambda d: {k: v for k, v in d.items() if k != "model_sha256"}, "different version of the model"),
        (lambda d: {**d, "history": [["seems_low", "maybe_SECRET"]]}, "an answer this model does not accept"),
        (lambda d: {**d, "history": [["no_such_question_SECRET", "yes"]]}, "a question this model does not have"),
        (lambda d: {**d, "history": "SECRET"}, "not in the format that --save writes"),
    ],
    ids=["bad-json", "not-an-object", "other-model", "no-hash", "bad-answer", "bad-question", "bad-shape"],
)
def test_resume_refuses_a_bad_file(
    ask_model: Model, ask_model_path: Path, tmp_path: Path, edit: Any, message: str
) -> None:
    path = tmp_path / "session.json"
    good = ask_model.session().to_dict()
    content = edit(good)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    res = run_cli("ask", str(ask_model_path), "--resume", str(path))
    assert res.returncode == 2
    assert res.stderr.startswith("error: DataError: ") and res.stderr.count("\n") == 1
    assert message in res.stderr
    assert "SECRET" not in res.stderr and "maybe" not in res.stderr  # saved answers are never echoed


def test_save_to_a_folder_that_does_not_exist(ask_model_path: Path, tmp_path: Path) -> None:
    res = run_cli("ask", str(ask_model_path), "--save", str(tmp_path / "missing" / "s.json"), stdin="q\n")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("error: DataError: ") and "cannot save the session there" in res.stderr


def test_answers_cannot_go_with_save(ask_model_path: Path, tmp_path: Path) -> None:
    answers = tmp_path / "a.json"
    answers.write_text("{}", encoding="utf-8")
    res = run_cli("ask", str(ask_model_path), "--answers", str(answers), "--save", str(tmp_path / "s.json"))
    assert res.returncode == 2 and "cannot go with --save or --resume" in res.stderr


# ----------------------------------------------------------------------------- reading well
def _answer_anything(ask: Ask, steps: int) -> None:
    """Answer ``steps`` questions with their first choice (none for a checklist; go on at a notice)."""
    for _ in range(steps):
        if ask.kind == "notice":
            ask.type("c")
        if ask.kind != "answer":
            return
        item = ask.current
        assert item is not None, ask.block
        ask.type(first_choice(ask, item))


def test_narrow_terminal_wraps_whole_words_and_shows_no_ids(model: Model) -> None:
    ask = Ask(model, columns=50)
    ask.wait()
    if ask.type("l") == "kind":  # a long list with several themes starts with them
        assert "all of them" in ask.block
        ask.type("a")
    assert ask.kind == "number"  # the list of every question, at 50 columns
    assert len(ask.listing()) == len(model.questions) + len(model.groups)
    ask.type("")
    seen: list[str] = []
    for _ in range(6):
        if ask.kind == "notice":
            ask.type("c")
        if ask.kind == "end":  # the stop rule may end it early
            break
        item = ask.current
        assert item is not None, ask.block
        seen.append(item)
        # the question, as wrapped on screen, is exactly its text: no word was broken
        body = re.split(QUESTION_HEAD, ask.block, flags=re.MULTILINE)[-1]
        text_lines = re.split(r"\n   (?:1|a)\) ", body, maxsplit=1)[0].split("\n")
        assert " ".join(text_lines) == _norm(
            model.question_text(item) if item not in model.groups else model.groups[item].text
        )
        ask.type("0" if item in model.groups and not model.groups[item].is_grid else first_choice(ask, item))
    assert seen
    if ask.kind == "answer":
        ask.type("l")
        ask.type("")
        ask.type("q")
    status, out = ask.finish()
    assert status == 0
    long = [line for line in out.split("\n") if len(line) > 50]
    assert long == []
    # wrapped paragraphs put back together are the model's texts, word for word
    flat = _norm(out)
    assert _norm(model.disclaimer) in flat
    assert_no_ids(model, out)
    assert not re.search(r"\b\d+(?:\.\d+)? bits?\b|\bbits\b", out)  # no information units ("a bit" is English)
    assert "Traceback" not in out


def test_header_report_and_reasons_read_well(model: Model) -> None:
    ask = Ask(model, columns=70)
    ask.wait()
    header = ask.log.getvalue().replace("\r\n", "\n")
    assert header.startswith(model.title)
    assert "u  not sure" in header and "b  back" in header and "q  stop" in header and "?  show this help" in header
    _answer_anything(ask, 5)
    ask.type("q")
    status, out = ask.finish()
    assert status == 0
    assert out.count(_norm(model.disclaimer)[:60]) <= 1 and _norm(out).count(_norm(model.disclaimer)) == 1  # once
    report = out.split("Your summary", 1)[1]
    assert "How likely each possible reason looks now" in report
    assert "(probability now, before any answer)" not in out
    assert "%" in report and "percentage points" not in report.split("Why", 1)[0]


def test_reasons_support_first_then_against(ask_model: Model, ask_model_path: Path, tmp_path: Path) -> None:
    answers = {"long_hours": "yes", "money_worries": "yes", "fewer_dates": "no", "less_talk": "a_little"}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    res = run_cli("ask", str(ask_model_path), "--answers", str(path))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    frame = ask_model.explain(answers, "outside_stress").to_frame()
    assert ask_model.posterior(answers).top_causes(1).index[0] == "outside_stress"
    section = _norm(out.split("Why Outside stress stands out", 1)[1])
    support, against = section.split("What speaks against it:", 1)
    expected_support = [r.text for r in frame.itertuples() if r.factor > 1.05]
    expected_against = [r.text for r in frame.itertuples() if r.factor < 1 / 1.05]
    assert expected_support and expected_against
    positions = [support.index(f'to "{t}"') for t in expected_support]
    assert positions == sorted(positions)  # strongest first
    for t in expected_against:
        assert f'to "{t}"' in against and f'to "{t}"' not in support
    for r in frame.itertuples():
        if r.factor > 1.05:
            assert f"{strength_word(r.factor)} evidence for it ({odds_phrase(r.factor)})" in support


def test_help_lists_the_keys_and_saving() -> None:
    res = run_cli("ask", "--help")
    assert res.returncode == 0
    for key in ("u ", "b ", "l ", "q ", "? "):
        assert re.search(rf"^  {re.escape(key)}", res.stdout, re.MULTILINE), key
    assert "--save FILE" in res.stdout and "--resume FILE" in res.stdout
    assert "refused when the" in res.stdout


# ----------------------------------------------------------------------------- text helpers
def test_wrap_never_breaks_a_word() -> None:
    text = "a fairly long sentence with self-evident hyphenated-words and a https://example.org/very/long/address"
    for width in (10, 20, 35):
        lines = wrap(text, width, indent="  - ", hang="    ").split("\n")
        assert _norm(" ".join(lines).replace("  - ", "", 1)) == text
        assert all(len(line) <= width for line in lines if len(line.split()) > 2)  # a long word stands alone


def test_strength_words_and_odds_phrases() -> None:
    assert [strength_word(f) for f in (1.2, 1.94, 1.96, 4.9, 4.96, 5.0, 40.0)] == [
        "slight",
        "slight",
        "moderate",  # shown as "about 2 times": named by the number shown
        "moderate",
        "strong",  # shown as "about 5 times"
        "strong",
        "strong",
    ]
    assert strength_word(1 / 6) == "strong" and strength_word(0.6) == "slight"
    assert odds_phrase(3.0) == "about 3 times as likely"
    assert odds_phrase(1.44) == "about 1.4 times as likely"
    assert odds_phrase(0.25) == "about 4 times less likely"
    assert odds_phrase(37.4) == "about 37 times as likely"
    assert odds_phrase(250.0) == "more than 100 times as likely"
    assert points(0.514) == "51 percentage points" and points(0.01) == "1 percentage point"
    assert [percent(p) for p in (0.0, 0.001, 0.5, 0.999, 1.0)] == ["0%", "<1%", "50%", ">99%", "100%"]


def test_match_answer_and_picks() -> None:
    from distancing_bn._ask import match_answer, match_picks

    options = [("no", "No"), ("not_often", "Not often"), ("often", "Often")]
    assert match_answer("no", options) == (0, "")  # an exact text beats a longer one it starts
    assert match_answer("  NOT   often ", options) == (1, "")
    assert match_answer("not_often", options) == (1, "")  # the id works too
    assert match_answer("of", options) == (2, "")
    assert match_answer("n", options)[0] is None and "(No, Not often)" in match_answer("n", options)[1]
    assert match_answer("3", options) == (2, "") and match_answer("0", options)[0] is None
    assert match_answer("", options)[0] is None
    assert match_picks("3, 1 3", 3) == ([0, 2], "")
    assert match_picks("0", 3) == ("none", "") and match_picks("None", 3) == ("none", "")
    assert match_picks("1 x", 3)[0] is None and match_picks("0 1", 3)[0] is None and match_picks("4", 3)[0] is None


def test_terminal_width_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    # under pytest stdout is not a terminal: the fallback
    assert terminal_width() in (80, *range(30, 101))
    monkeypatch.setenv("COLUMNS", "50")
    assert terminal_width() == 50
    monkeypatch.setenv("COLUMNS", "10")
    assert terminal_width() == 30


# ----------------------------------------------------------------------------- answers files (not interactive)
def test_answers_file_runs_without_asking(tmp_path: Path, ask_model: Model, ask_model_path: Path) -> None:
    model = ask_model
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"partner_afraid": "yes", "seems_low": "yes"}), encoding="utf-8")
    res = run_cli("ask", str(ask_model_path), "--answers", str(path))  # stdin is empty: nothing may be asked
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Question" not in out and "> " not in out
    safety = model.spec.notice("safety_first")
    help_ = model.spec.notice("mood_help")
    flat = _norm(out)
    assert f"!! {safety.title}" in out and _norm(safety.text) in flat
    assert f"*  {help_.title}" in out and _norm(help_.text) in flat
    assert flat.index(safety.title) < flat.index(help_.title) < flat.index("How likely each possible reason")
    assert "is not the point right now" in flat and "Ideas that may help" not in out
    assert flat.count(_norm(model.disclaimer)) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"low_mood": \n', "bad.json:2: not valid JSON"),
        ('["low_mood", "most_days"]', "expected a JSON object"),
        (None, "bad.json: cannot read"),
    ],
    ids=["syntax", "not-an-object", "missing"],
)
def test_answers_file_bad_json(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    res = run_cli("ask", "--answers", str(path))
    assert res.returncode == 2
    assert "error: DataError" in res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_answers_file_unknown_question(tmp_path: Path, ask_model_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"partner_afriad": "yes"}), encoding="utf-8")
    res = run_cli("ask", str(ask_model_path), "--answers", str(path))
    assert res.returncode == 2
    assert "error: UnknownQuestionError" in res.stderr
    assert "did you mean 'partner_afraid'" in res.stderr
    assert "Traceback" not in res.stderr


def test_piped_input_unicode_digits_and_bad_bytes_are_invalid_choices(ask_model_path: Path) -> None:
    # the first question (a screen) has two answers: '²' and '١' are no answer numbers
    res = run_cli(
        "ask", str(ask_model_path), stdin="²\n١\n1\nq\n"
    )  # str.isdigit() is True for both; int() fails on '²'
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout.count("That is not one of the answers.") == 2
    assert "Question 2" in res.stdout
    env = _env(80)
    raw = subprocess.run(
        [sys.executable, "-m", "distancing_bn", "ask", str(ask_model_path)],
        input=b"\xff\xfe\n1\nq\n",
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert raw.returncode == 0, raw.stderr
    assert b"Traceback" not in raw.stderr and b"That is not one of the answers." in raw.stdout


def test_end_of_input_stops_and_reports() -> None:
    res = run_cli("ask", stdin="1\n")
    assert res.returncode == 0, res.stderr
    assert "(end of input)" in res.stdout
    assert "Your summary" in res.stdout


def test_max_questions(ask_model_path: Path) -> None:
    # the two screens (a question, then a checklist), then one question chosen by gain
    res = run_cli("ask", str(ask_model_path), "--max-questions", "3", stdin="1\n0\n1\n1\n1\n")
    assert res.returncode == 0, res.stderr
    assert re.findall(r"^Question (\d+)", res.stdout, re.MULTILINE) == ["1", "2", "3"]
    assert "That was the last question: you asked for at most 3." in res.stdout
    assert "Your summary" in res.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{}", "bad.json:1: not UTF-8 text (byte 1)"),
        (b'{"less_contact": "a_lot"}\n\x81', "bad.json:2: not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"less_contact": ' + b"9" * 5000 + b"}", "a number of 5000 digits"),
        (b'{"less_contact": {"no": NaN, "a_little": 1, "a_lot": 1}}', "NaN is not a JSON value"),
        (
            b'{"less_contact": "a_lot", "onset": "sudden", "less_contact": "no"}',
            "the key 'less_contact' is given twice",
        ),
        (b'{"onset": {"gradual": 1, "gradual": 2}}', "the key 'gradual' is given twice"),
        (b"x" * (16 << 20) + b"x", "larger than 16 MiB"),
    ],
    ids=["not-utf8", "not-utf8-line-2", "deep", "huge-number", "nan", "repeated-key", "repeated-soft-key", "huge-file"],
)
def test_answers_file_bad_bytes(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    res = run_cli("ask", "--answers", str(path))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("error: DataError: ") and message in res.stderr
    assert "a_lot" not in res.stderr  # answers are never echoed


@pytest.mark.parametrize(
    ("answers", "error"),
    [
        ('{"less_talk": {"no": 1e308, "a_little": 1, "a_lot": 1e999}}', "InvalidAnswerError"),  # inf
        ({"less_talk": {"no": -1, "a_little": 1, "a_lot": 1}}, "InvalidAnswerError"),
        ({"less_talk": {"no": 0, "a_little": 0, "a_lot": 0}}, "InvalidAnswerError"),
        ({"less_talk": [1, 2, 3]}, "InvalidAnswerError"),
        ({"less_talk": 10**300}, "InvalidAnswerError"),
        ({"x" * 100_000: "yes"}, "UnknownQuestionError"),
    ],
)
def test_answers_file_bad_answers(
    tmp_path: Path, ask_model_path: Path, answers: dict[str, Any] | str, error: str
) -> None:
    path = tmp_path / "answers.json"
    path.write_text(answers if isinstance(answers, str) else json.dumps(answers), encoding="utf-8")
    res = run_cli("ask", str(ask_model_path), "--answers", str(path))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"error: {error}: ") and len(res.stderr) < 400


def test_max_questions_must_be_a_whole_number() -> None:
    for bad in ("-1", "²", "x"):
        res = run_cli("ask", "--max-questions", bad)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert "argument --max-questions: expected a whole number >= 0" in res.stderr


DETERMINISTIC_MODEL = """\
format: distancing-bn/1
id: decided
title: A deterministic example
description: d
version: "1"
causes:
  - {id: a, label: Cause A, description: d, prior: 0.3, rationale: r, guidance: [tip a]}
  - {id: b, label: Cause B, description: d, prior: 0.8, rationale: r, guidance: [tip b]}
questions:
  - id: shows_a
    text: Does it show A?
    answers: [no, yes]
    table: {parents: [a], rows: {absent: [1.0, 0.0], present: [0.0, 1.0]}, rationale: r}
  - id: hides_a
    text: Does it hide A?
    answers: [no, yes]
    table: {parents: [a], rows: {absent: [0.0, 1.0], present: [1.0, 0.0]}, rationale: r}
  - id: about_b
    text: Anything about B?
    answers: [no, yes]
    leak: 0.1
    leak_rationale: r
    links: [{cause: b, strength: 0.6, rationale: r}]
"""


def test_report_of_a_certain_cause_says_so_in_words(tmp_path: Path) -> None:
    model_path = tmp_path / "decided.yaml"
    model_path.write_text(DETERMINISTIC_MODEL, encoding="utf-8")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"shows_a": "yes", "about_b": "no"}), encoding="utf-8")
    res = run_cli("ask", str(model_path), "--answers", str(answers))
    assert res.returncode == 0, res.stderr
    assert "under the model this answer makes it certain" in _norm(res.stdout)
    assert "inf" not in res.stdout
    # contradicting answers are refused before anything is printed, naming only the questions
    answers.write_text(json.dumps({"shows_a": "yes", "hides_a": "yes"}), encoding="utf-8")
    res = run_cli("ask", str(model_path), "--answers", str(answers))
    assert res.returncode == 2 and res.stdout == ""
    assert "error: ImpossibleEvidenceError: " in res.stderr
    assert "'shows_a' and 'hides_a' cannot both hold" in res.stderr and "yes" not in res.stderr


def test_an_answer_contradicting_an_earlier_one_is_asked_again(tmp_path: Path) -> None:
    from distancing_bn._ask import run_interview
    from distancing_bn.information import StopRule

    model_path = tmp_path / "decided.yaml"
    model_path.write_text(DETERMINISTIC_MODEL, encoding="utf-8")
    model = load_model(model_path)
    session = model.session(stop=StopRule(decided_low=0.0, decided_high=1.0, min_gain_bits=0.0, max_questions=3))
    session.answer("shows_a", "yes")  # A is certain: 'hides_a' can only be 'no'
    out = io.StringIO()
    run_interview(model, session, io.StringIO("l\n1\n2\n1\nq\n"), out, width=80)
    text = _norm(out.getvalue())
    assert "That answer cannot hold together with your answer to: Does it show A?" in text
    assert session.answers["hides_a"] == "no" and session.posterior.probabilities["a"] == 1.0


def test_the_report_says_a_grid_line_as_the_column_chosen(model: Model) -> None:
    """A grid row is said by its label and the heading the person chose, not the answer's own id or label."""
    from distancing_bn._ask import report

    answers = {
        "emotionally_closed": "often",
        "declines_help": "often",
        "says_im_fine": "often",
        "pulls_back_after_closeness": "often",
        "hot_and_cold": "never",
        "tenses_at_touch": "sometimes",
        "less_sex": "somewhat",  # its own label is "Somewhat"; the changes grid shows "A little"
        "less_contact": "a_little",
        "less_affection": "a_lot",
        "less_physically_drawn": "no",
        "less_connected": "very_much",  # its own label is "Very much"; the grid shows "A lot"
        "time_together_flat": "somewhat",
    }
    picked = {q: gid for gid in ("closeness_grid", "changes_grid") for q in model.groups[gid].items}
    out = io.StringIO()
    report(model, answers, out, width=200, picked_in=picked)
    text = out.getvalue()
    closeness = model.question_label("closeness_grid")
    changes = model.question_label("changes_grid")
    label = model.question_label("pulls_back_after_closeness")
    assert f'You answered "Often" to "{label}" ({closeness})' in text
    assert f'You answered "A little" to "{model.question_label("less_sex")}" ({changes})' in text
    assert f'You answered "A lot" to "{model.question_label("less_connected")}" ({changes})' in text
    assert '"Somewhat" to' not in text and '"Very much" to' not in text
    assert_no_ids(model, text)
