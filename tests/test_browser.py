"""The questionnaire page in a real headless browser (Debian's chromium driven by playwright).

``distancing-bn serve`` runs as a separate process; the page answers three questions, volunteers
one from the list by theme, reaches a result, and shows the safety notice before anything else
when a safety answer is given. Screenshots at phone and desktop width go to /tmp/shots/. The
server's own output is checked for answers afterwards. Skips only where no browser exists.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import distancing_bn as dbn

pytest.importorskip("fastapi", reason="the 'serve' extra (FastAPI) is not installed")
pytest.importorskip("uvicorn", reason="the 'serve' extra (uvicorn) is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and os.path.exists(p)), None)
if CHROMIUM is None:
    pytest.skip(
        "no browser: /usr/bin/chromium is missing (.ci/run installs Debian's chromium; apt-get install chromium)",
        allow_module_level=True,
    )

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path("/tmp/shots")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SRC = Path(dbn.__file__).resolve().parents[1]
INTERVIEW = Path(__file__).parent / "data" / "interview.yaml"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``distancing-bn serve`` in a child process; ``output()`` is everything it printed."""

    def __init__(self, model: Path | None, tmp: Path) -> None:
        self.port = _free_port()
        self.log = tmp / f"server-{self.port}.log"
        env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        argv = [sys.executable, "-m", "distancing_bn", "serve", "--port", str(self.port)]
        if model is not None:
            argv.append(str(model))
        self.fh = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self.fh, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server stopped: {self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start within 60 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
        self.fh.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(None, tmp_path_factory.mktemp("serve"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    pg = context.new_page()
    outside: list[str] = []
    pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith("http://127.0.0.1:") else None)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
    assert outside == [], f"the page fetched from outside: {outside}"
    assert errors == [], f"errors in the page: {errors}"


def shoot(pg: Any, name: str) -> None:
    """Save the page at phone and desktop width (full page), then go back to phone width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for tag, size in (("phone", PHONE), ("desktop", DESKTOP)):
        pg.set_viewport_size(size)
        pg.screenshot(path=str(SHOTS / f"{name}-{tag}.png"), full_page=True)
    pg.set_viewport_size(PHONE)


def visible(pg: Any, section: str) -> bool:
    return bool(pg.locator(f"#{section}").is_visible())


def answer_current(pg: Any, index: int = 0) -> str:
    """Answer what is on screen (a question: the answer at ``index``; a checklist: 'none'; a grid:
    the answer at ``index`` on every line); return its text."""
    legend = pg.locator("#q-legend").inner_text()
    boxes = pg.locator("#choices input[name=item]")
    rows = pg.locator("#choices .grid-row")
    if boxes.count():
        pg.locator("label[for=c-none]").click()
    elif rows.count():
        for r in range(rows.count()):
            pg.locator(f"label[for=g-{r}-{index}]").click()
    else:
        radios = pg.locator("#choices input[type=radio]")
        pg.locator(f"label[for={radios.nth(min(index, radios.count() - 1)).get_attribute('id')}]").click()
    pg.locator("#q-next").click()
    return str(legend)


def wait_step(pg: Any) -> str:
    """Wait until the page is done with its requests; return what it shows: ask, notice or result."""
    pg.wait_for_selector("#main:not([aria-busy])", state="attached")
    pg.wait_for_selector("#ask:not([hidden]), #notice:not([hidden]), #result:not([hidden]), #failure:not([hidden])")
    for name in ("ask", "notice", "result", "failure"):
        if visible(pg, name):
            if name == "failure":
                pytest.fail("the page shows an error: " + pg.locator("#failure-text").inner_text())
            return name
    raise AssertionError("no section is shown")


def open_browse(pg: Any) -> None:
    """Open the list of other questions and every theme in it."""
    if not pg.locator("#browse").evaluate("d => d.open"):
        pg.locator("#browse > summary").click()
    for theme in pg.locator("#browse-list details").all():
        if not theme.evaluate("d => d.open"):
            theme.locator("summary").click()


def volunteer(pg: Any, question: str) -> None:
    open_browse(pg)
    pg.locator(f"#browse-list button[data-question-id={question}]").click()


def start(pg: Any, url: str) -> None:
    pg.goto(url)
    pg.wait_for_selector("#intro:not([hidden])")
    pg.wait_for_selector("#main:not([aria-busy])", state="attached")
    disclaimer = pg.locator("#disclaimer").inner_text()
    assert "not a clinical" in disclaimer
    pg.locator("#start").click()
    assert wait_step(pg) == "ask"


def api_model(server: Server) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(f"{server.url}v1/model", timeout=30).json())


def keyboard_answer(pg: Any) -> None:
    """Answer what is on screen by keyboard alone: the first answer (or "none of these"), Tab to Next, Enter."""
    assert pg.evaluate("document.activeElement.id") == "q-legend"  # focus moves to each new question
    pg.keyboard.press("Tab")
    if pg.evaluate("document.activeElement.type") == "checkbox":
        for _ in range(15):
            if pg.evaluate("document.activeElement.id") == "c-none":
                break
            pg.keyboard.press("Tab")
    pg.keyboard.press("Space")  # checks the radio (or box) with the focus
    assert pg.locator("#choices input:checked").count() == 1
    for _ in range(15):
        if pg.evaluate("document.activeElement.id") == "q-next":
            break
        pg.keyboard.press("Tab")
    assert pg.evaluate("document.activeElement.id") == "q-next"
    pg.keyboard.press("Enter")


def test_three_questions_a_volunteered_one_and_a_result(page: Any, server: Server) -> None:
    model = dbn.load_model()
    info = api_model(server)
    page.goto(server.url)
    page.wait_for_selector("#intro:not([hidden])")
    page.wait_for_selector("#main:not([aria-busy])", state="attached")
    assert page.title() == model.title
    shoot(page, "1-intro")
    explained: list[Any] = []
    page.on("response", lambda r: explained.append(r) if r.url.endswith("/v1/explain") else None)
    page.locator("#start").click()
    assert wait_step(page) == "ask"
    shoot(page, "2-question")

    keyboard_answer(page)  # the first by keyboard only
    for _ in range(2):
        step = wait_step(page)
        if step == "notice":
            page.locator("#notice-continue").click()
            step = wait_step(page)
        assert step == "ask"
        answer_current(page, 0)
    if wait_step(page) == "notice":
        page.locator("#notice-continue").click()
    assert wait_step(page) == "ask"
    assert "Question 4" in page.locator("#progress").inner_text()

    # volunteer: the list by theme, then one question from it
    page.locator("#browse > summary").click()
    themes = [re.sub(r" \(\d+\)$", "", t) for t in page.locator("#browse-list summary").all_inner_texts()]
    assert themes and all(themes) and themes == [t for t in info["themes"] if t in themes]
    open_browse(page)
    shoot(page, "3-browse")
    quiet = {q["id"] for q in info["questions"] if not q["notices"]}
    offered = page.locator("#browse-list button[data-question-id]")
    choice = next(b for b in offered.all() if b.get_attribute("data-question-id") in quiet)
    qid = choice.get_attribute("data-question-id")
    assert choice.inner_text() == model.question_label(qid)
    choice.click()
    assert page.locator("#q-legend").inner_text() == model.question_text(qid)
    assert "one you chose" in page.locator("#progress").inner_text()
    last = model.answers_of(qid)[-1]
    page.locator(f"#choices input[value={last}]").check()
    page.locator("#q-next").click()
    assert wait_step(page) in ("ask", "result", "notice")
    if visible(page, "notice"):
        page.locator("#notice-continue").click()
        assert wait_step(page) in ("ask", "result")
    # a volunteered question is no longer offered
    assert page.locator(f"#browse-list button[data-question-id={qid}]").count() == 0

    # back goes to the previous question, its answer kept
    if visible(page, "ask"):
        page.locator("#q-back").click()
        assert wait_step(page) == "ask"
        assert page.locator("#q-legend").inner_text() == model.question_text(qid)
        assert page.locator("#choices input:checked").get_attribute("value") == last
        page.locator("#q-next").click()
        if wait_step(page) == "notice":
            page.locator("#notice-continue").click()
        if wait_step(page) == "ask":
            page.locator("#q-finish").click()
    assert wait_step(page) == "result"
    causes = page.locator("#result-causes li")
    assert causes.count() == sum(model.cause_kind(c) == "relationship" for c in model.causes)
    first = causes.nth(0).inner_text()
    assert re.search(r"\d+% \(was \d+%\)", first)
    assert any(model.label(c) in first for c in model.causes)
    # four screens; every row of a checklist or grid counted: the first three steps as a session takes them
    steps = []
    s = model.session()
    for _ in range(3):
        steps.append(s.next_question())
        s.answer(steps[-1], "none")
    rows = sum(len(model.groups[q].items) if q in model.groups else 1 for q in steps) + 1
    said = "answered 4 questions." if rows == 4 else f"answered {rows} questions on 4 screens."
    assert said in page.locator("#result-stop").inner_text()
    why = explained[-1].json()  # what the page was told, and what it shows
    assert page.locator("#result-reasons li").count() == min(5, len(why["supports"])) + min(3, len(why["against"]))
    for r in why["supports"][:5]:
        assert r["label"] in page.locator("#result-reasons").inner_text()
    text = page.locator("body").inner_text()
    assert text.count(model.disclaimer.split(".")[0]) == 1  # the disclaimer once
    assert "_" not in page.locator("#result").inner_text()  # labels, never ids
    shoot(page, "4-result")


def safety_trigger(info: dict[str, Any]) -> tuple[str, str | None, str]:
    """A question or checklist to volunteer that raises an urgent notice: (id, answer or item, notice title)."""
    urgent = {n["id"]: n["title"] for n in info["notices"] if n["urgent"]}
    for q in info["questions"]:
        for nid, answers in q["notices"].items():
            if nid in urgent and q["group"] is None:
                return q["id"], answers[-1], urgent[nid]
    for q in info["questions"]:  # only inside checklists: tick the item
        for nid, answers in q["notices"].items():
            if nid in urgent and answers[-1] == next(a["id"] for a in q["answers"][1:]):
                return q["group"], q["id"], urgent[nid]
    raise AssertionError("the model has no question that raises an urgent notice")


def test_safety_answer_shows_the_notice_first(page: Any, server: Server) -> None:
    info = api_model(server)
    qid, answer, title = safety_trigger(info)
    start(page, server.url)
    text = next(q["text"] for q in (*info["questions"], *info["groups"]) if q["id"] == qid)
    if page.locator("#q-legend").inner_text() != text:  # a screen is on screen already: answer it there
        volunteer(page, qid)
    page.locator(f"#choices input[value={answer}]").check()
    page.locator("#q-next").click()
    assert wait_step(page) == "notice"
    assert not visible(page, "ask") and not visible(page, "result")
    assert page.locator("#notice-title").inner_text() == title
    assert page.evaluate("document.activeElement.id") == "notice-title"
    assert page.locator("#notice [role=alert]").count() == 1
    shoot(page, "5-safety-notice")

    page.locator("#notice-continue").click()  # the person may go on
    assert wait_step(page) == "ask"
    page.locator("#q-finish").click()
    assert wait_step(page) == "result"
    first = page.locator("#result-notices > *").first
    assert "urgent" in (first.get_attribute("class") or "") and title in first.inner_text()
    assert "left out" in page.locator("#result-notices").inner_text()
    assert page.locator("#result-guidance h3").count() == 0  # no relationship tips
    shoot(page, "6-safety-result")


def test_checklist_as_checkboxes(browser: Any, tmp_path: Path) -> None:
    model = dbn.load_model(INTERVIEW)
    try:
        dbn.Session(model).answer("life_events", ["money"])
    except dbn.DistancingBNError:
        pytest.skip("the library's Session does not take checklist answers yet (contract: Session group answers)")
    server = Server(INTERVIEW, tmp_path)
    try:
        context = browser.new_context(viewport=PHONE)
        pg = context.new_page()
        start(pg, server.url)
        volunteer(pg, "life_events")
        assert pg.locator("#choices input[type=checkbox]").count() == 4  # three items and "none of these"
        pg.locator("#choices label", has_text="Money worries").click()
        pg.locator("#choices label", has_text="A recent loss").click()
        shoot(pg, "7-checklist")
        pg.locator("label[for=c-none]").click()
        assert pg.locator("#choices input[name=item]:checked").count() == 0  # "none" clears the items
        pg.locator("#choices label", has_text="Money worries").click()
        assert not pg.locator("#c-none").is_checked()
        pg.locator("#q-next").click()
        assert wait_step(pg) in ("ask", "result", "notice")
        assert pg.locator("#browse-list button[data-question-id=life_events]").count() == 0
        context.close()
    finally:
        server.stop()


def test_a_grid_is_one_screen_with_an_answer_per_line(page: Any, server: Server) -> None:
    model = dbn.load_model()
    gid = next(g for g, group in model.groups.items() if group.is_grid)
    group = model.groups[gid]
    start(page, server.url)
    volunteer(page, gid)
    assert page.locator("#q-legend").inner_text() == group.text
    rows = page.locator("#choices .grid-row")
    assert rows.count() == len(group.items)
    assert rows.nth(0).locator(".grid-label").inner_text() == model.question_label(group.items[0])
    scale = [*group.scale, "Not sure"] if group.scale else None
    if scale:
        assert rows.nth(0).locator(".segment label").all_inner_texts() == scale
    assert page.locator("#q-unsure").inner_text() == "Not sure of any"
    # every line but the last: a line left out is named, nothing is sent
    for r in range(len(group.items) - 1):
        page.locator(f"label[for=g-{r}-{r % 3}]").click()
    page.locator("#q-next").click()
    assert model.question_label(group.items[-1]) in page.locator("#q-message").inner_text()
    assert visible(page, "ask") and page.locator("#q-legend").inner_text() == group.text
    last = len(group.items) - 1
    page.locator(f"label[for=g-{last}-{len(model.answers_of(group.items[-1]))}]").click()  # Not sure on one line
    page.set_viewport_size(PHONE)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "9-grid-phone.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the grid is wider than a phone"
    sent: list[Any] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/v1/next") else None)
    page.locator("#q-next").click()
    assert wait_step(page) in ("ask", "notice", "result")
    answer = sent[0]["answers"][gid]
    expected = {q: model.answers_of(q)[r % 3] for r, q in enumerate(group.items[:-1])}
    assert answer == {**expected, group.items[-1]: "unsure"}
    # back: the grid again, each line's answer kept
    if visible(page, "notice"):
        page.locator("#notice-continue").click()
        wait_step(page)
    if visible(page, "ask"):
        page.locator("#q-back").click()
        assert wait_step(page) == "ask" and page.locator("#q-legend").inner_text() == group.text
        assert page.locator("#choices input:checked").count() == len(group.items)
        assert page.locator(f"#g-{last}-{len(model.answers_of(group.items[-1]))}").is_checked()


def test_screens_first_and_a_safety_cause_is_not_listed_as_a_reason(browser: Any, tmp_path: Path) -> None:
    model = dbn.load_model(INTERVIEW)
    if dbn.Session(model).next_question() != model.screens[0]:
        pytest.skip("the library's next_question does not ask screens first yet (contract: screens)")
    server = Server(INTERVIEW, tmp_path)
    try:
        context = browser.new_context(viewport=PHONE)
        pg = context.new_page()
        start(pg, server.url)
        assert pg.locator("#q-legend").inner_text() == model.question_text("afraid")  # screen 1
        pg.locator("#choices label", has_text="no").click()
        pg.locator("#q-next").click()
        assert wait_step(pg) == "ask"
        assert pg.locator("#q-legend").inner_text() == model.groups["safety_check"].text  # screen 2, a checklist
        assert pg.locator("#choices input[name=item]").count() == 2
        pg.locator("label[for=c-none]").click()
        pg.locator("#q-next").click()
        assert wait_step(pg) in ("ask", "result")
        if visible(pg, "ask"):
            pg.locator("#q-finish").click()
            assert wait_step(pg) == "result"
        listed = pg.locator("#result-causes .cause-label").all_inner_texts()
        assert sorted(listed) == sorted(model.label(c) for c in model.causes if model.cause_kind(c) == "relationship")
        assert model.label("control") not in pg.locator("#result").inner_text()
        shoot(pg, "8-interview-result")
        context.close()
    finally:
        server.stop()


def test_the_server_printed_no_answers(server: Server) -> None:
    """The whole output of the server the browser tests used, after answers in bodies and query strings."""
    import httpx

    info = api_model(server)
    quiet = [q for q in info["questions"] if not q["notices"] and q["group"] is None][:2]
    answers: dict[str, Any] = {q["id"]: q["answers"][-1]["id"] for q in quiet}
    qid, answer, _ = safety_trigger(info)
    answers[qid] = [answer] if any(g["id"] == qid for g in info["groups"]) else answer
    first = quiet[0]["id"]
    for path in ("posterior", "next", "explain", "guidance"):
        r = httpx.post(f"{server.url}v1/{path}?{first}={answers[first]}", json={"answers": answers}, timeout=30)
        assert r.status_code == 200, r.text
    assert httpx.post(f"{server.url}v1/next", json={"answers": {first: "heaps"}}).status_code == 422
    time.sleep(0.3)  # let the server write its lines
    out = server.output()
    assert re.search(r"POST /v1/next 200", out), out[-2000:]
    secrets = {
        "heaps",
        "answers",
        "{",
        *answers,
        *(v for a in answers.values() for v in (a if isinstance(a, list) else [a])),
    }
    for secret in (x for x in secrets if len(x) >= 4 or x == "{"):  # 'no' and 'yes' are parts of ordinary words
        assert secret not in out, secret
    access = re.findall(r"(?:GET|POST) \S+ \d{3} ", out)
    assert access and not [line for line in access if "?" in line]  # no query strings
