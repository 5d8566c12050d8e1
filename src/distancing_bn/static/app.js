// The browser questionnaire of distancing-bn: plain JavaScript, no build step, no outside requests.
// Every step sends the answers given so far to the JSON API (/v1/...); the server keeps nothing.
"use strict";

(function () {
  const API = "/v1";
  const state = {
    model: null,       // GET /v1/model
    byId: new Map(),   // question and checklist id -> description
    history: [],       // [{id, value}] value: answer id, [item ids], "none", {row: answer | "unsure"} or "unsure"
    current: null,     // the question or checklist on screen
    volunteered: false,
    seenUrgent: new Set(),
    lastNext: null,
  };

  const $ = (id) => document.getElementById(id);
  const SECTIONS = ["loading", "intro", "ask", "notice", "result", "failure"];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function show(id, focusId) {
    for (const s of SECTIONS) $(s).hidden = s !== id;
    const target = $(focusId || id);
    if (target) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: false });
    }
    window.scrollTo(0, 0);
  }

  function failure(err) {
    $("failure-text").textContent = err && err.message ? err.message : String(err);
    show("failure", "failure-title");
  }

  // Run one user action: the page is marked busy (aria-busy) until its requests are done and drawn.
  async function run(action) {
    const main = $("main");
    if (main.getAttribute("aria-busy") === "true") return;  // no double submits
    main.setAttribute("aria-busy", "true");
    try {
      await action();
    } catch (err) {
      failure(err);
    } finally {
      main.removeAttribute("aria-busy");
    }
  }

  async function call(path, body) {
    const init = body === undefined
      ? { method: "GET", headers: { Accept: "application/json" } }
      : {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      };
    const res = await fetch(API + path, init);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const msg = data && data.error ? data.error.message : `the server answered ${res.status}`;
      throw new Error(msg);
    }
    return data;
  }

  function evidence() {
    const answers = {};
    const unsure = [];
    for (const step of state.history) {
      if (step.value === "unsure") unsure.push(step.id);
      else answers[step.id] = step.value;
    }
    return { answers, unsure, model_sha256: state.model.model_sha256 };
  }

  function answered(id) {
    return state.history.some((s) => s.id === id);
  }

  function percent(p) {
    if (p > 0 && p < 0.005) return "<1%";
    if (p < 1 && p > 0.995) return ">99%";
    return `${Math.round(p * 100)}%`;
  }

  // ------------------------------------------------------------------ the flow
  async function step() {
    const next = await call("/next", evidence());
    state.lastNext = next;
    const fresh = next.notices.filter((n) => n.urgent && !state.seenUrgent.has(n.id));
    if (fresh.length) {
      fresh.forEach((n) => state.seenUrgent.add(n.id));
      showNotices(fresh);
      return;
    }
    if (next.done) {
      await showResult(next);
      return;
    }
    showQuestion(next.next, false);
  }

  function showNotices(notices) {  // urgent notices just raised, before anything else
    const list = $("notice-list");
    list.replaceChildren(...notices.map((n, i) => el("div", { className: "notice urgent", role: "alert" },
      el(i === 0 ? "h1" : "h2", { id: i === 0 ? "notice-title" : null, tabindex: i === 0 ? "-1" : null, text: n.title }),
      el("p", { text: n.text }))));
    show("notice", "notice-title");
  }

  // "You answered 4 questions.", or with checklists and grids "You answered 31 questions on 4 screens."
  function answeredText() {
    const screens = state.history.length;
    const rows = state.history.reduce((n, step) => {
      const item = state.byId.get(step.id);
      if (!item || item.kind !== "group") return n + 1;
      if (step.value && typeof step.value === "object" && !Array.isArray(step.value)) {
        return n + Object.keys(step.value).length;
      }
      return n + openRowsAt(item, step).length;
    }, 0);
    const plural = (k, word) => `${k} ${word}${k === 1 ? "" : "s"}`;
    return rows === screens
      ? `You answered ${plural(screens, "question")}.`
      : `You answered ${plural(rows, "question")} on ${plural(screens, "screen")}.`;
  }

  function openRowsAt(item, step) {  // a group's rows not answered before that step
    const before = new Set(state.history.slice(0, state.history.indexOf(step)).map((s) => s.id));
    return item.items.filter((it) => !before.has(it.id));
  }

  function askedCount() {
    return state.history.length;
  }

  // A checklist or grid offers only the rows not answered yet (a row can be answered on its own first).
  function openRows(item) {
    if (item.kind !== "group") return item;
    const done = new Set(state.history.filter((s) => s.id !== item.id).map((s) => s.id));
    return { ...item, items: item.items.filter((it) => !done.has(it.id)) };
  }

  function showQuestion(item, volunteered, previous) {
    item = openRows(item);
    state.current = item;
    state.volunteered = volunteered;
    const n = askedCount() + 1;
    $("progress").textContent = volunteered
      ? `Question ${n} (one you chose)`
      : `Question ${n}`;
    $("q-legend").textContent = item.text;
    $("q-message").textContent = "";
    const box = $("choices");
    box.replaceChildren();
    box.onchange = () => { $("q-message").textContent = ""; };
    box.classList.toggle("grid", item.kind === "group" && item.grid);
    if (item.kind === "group" && item.grid) {
      $("q-hint").textContent = "One answer for each line; choose Not sure on a line you cannot answer.";
      item.items.forEach((it, r) => box.append(gridRow(item, it, r, previous)));
    } else if (item.kind === "group") {
      $("q-hint").textContent = /pick/i.test(item.text) ? "" : "Pick any that apply.";
      item.items.forEach((it, i) => {
        const id = `c-${i}`;
        const picked = Array.isArray(previous) && previous.includes(it.id);
        const input = el("input", { type: "checkbox", id, name: "item", value: it.id, checked: picked });
        input.addEventListener("change", () => { if (input.checked) $("c-none").checked = false; });
        box.append(el("div", { className: "choice" }, input, el("label", { for: id, text: it.label })));
      });
      const none = el("input", {
        type: "checkbox", id: "c-none", name: "none", value: "none", checked: previous === "none",
      });
      none.addEventListener("change", () => {
        if (none.checked) box.querySelectorAll("input[name=item]").forEach((x) => { x.checked = false; });
      });
      box.append(el("div", { className: "choice none" }, none, el("label", { for: "c-none", text: item.none_label })));
    } else {
      $("q-hint").textContent = "";
      item.answers.forEach((a, i) => {
        const id = `c-${i}`;
        const input = el("input", {
          type: "radio", id, name: "answer", value: a.id, required: true, checked: previous === a.id,
        });
        box.append(el("div", { className: "choice" }, input, el("label", { for: id, text: a.label })));
      });
    }
    $("q-unsure").hidden = item.kind === "question" && item.unsure === false;
    $("q-unsure").textContent = item.kind === "group" && item.grid ? "Not sure of any" : "Not sure";
    $("q-back").disabled = state.history.length === 0 && !volunteered;
    $("q-finish").hidden = state.history.length === 0;
    $("browse").open = false;
    renderBrowse();
    show("ask", "q-legend");
  }

  // One line of a rating grid: its label, then one radio per column of the scale and Not sure.
  function gridRow(item, it, r, previous) {
    const head = `g-${r}-label`;
    const before = previous && typeof previous === "object" && !Array.isArray(previous) ? previous[it.id] : undefined;
    const options = el("div", { className: "segments" });
    const columns = item.scale.map((label, k) => ({ value: it.answers[k].id, label }));
    columns.push({ value: "unsure", label: "Not sure", unsure: true });
    columns.forEach((c, k) => {
      const id = `g-${r}-${k}`;
      const input = el("input", {
        type: "radio", id, name: `row-${r}`, value: c.value, checked: before === c.value, dataset: { row: it.id },
      });
      options.append(el("span", { className: c.unsure ? "segment unsure" : "segment" }, input,
        el("label", { for: id, text: c.label })));
    });
    return el("div", { className: "grid-row", role: "radiogroup", "aria-labelledby": head },
      el("p", { className: "grid-label", id: head, text: it.label }), options);
  }

  function submitCurrent(ev) {
    ev.preventDefault();
    const item = state.current;
    let value;
    if (item.kind === "group" && item.grid) {
      value = {};
      const missing = [];
      item.items.forEach((it, r) => {
        const chosen = $("choices").querySelector(`input[name="row-${r}"]:checked`);
        if (chosen) value[it.id] = chosen.value;
        else missing.push(it.label);
      });
      if (missing.length) {
        $("q-message").textContent = missing.length === item.items.length
          ? "Choose an answer on each line (or Not sure), or Not sure for all of them."
          : `Choose an answer (or Not sure) for: ${missing.join("; ")}.`;
        return;
      }
    } else if (item.kind === "group") {
      const picked = [...$("choices").querySelectorAll("input[name=item]:checked")].map((x) => x.value);
      if (picked.length) value = picked;
      else if ($("c-none").checked) value = "none";
      else {
        $("q-message").textContent = `Pick the ones that apply, or "${item.none_label}", or Not sure.`;
        return;
      }
    } else {
      const chosen = $("choices").querySelector("input[name=answer]:checked");
      if (!chosen) {
        $("q-message").textContent = "Pick an answer, or choose Not sure.";
        return;
      }
      value = chosen.value;
    }
    record(item.id, value);
  }

  function record(id, value) {
    state.history.push({ id, value });
    run(async () => {
      try {
        await step();
      } catch (err) {
        state.history.pop();  // the server refused it: the answer is not kept
        throw err;
      }
    });
  }

  function back() {
    if (state.volunteered) {  // leave the chosen question unanswered: back to where the person was
      run(step);
      return;
    }
    const last = state.history.pop();
    if (!last) return;
    showQuestion(state.byId.get(last.id), false, last.value);  // the previous answer, ready to change
  }

  // ------------------------------------------------------------------ volunteering
  function remaining() {
    const m = state.model;
    const inGroup = new Set(m.groups.flatMap((g) => g.items.map((it) => it.id)));
    const items = [
      ...m.groups,
      ...m.questions.filter((q) => !inGroup.has(q.id)),
    ].filter((q) => !answered(q.id) && (!state.current || q.id !== state.current.id));
    const byTheme = new Map();
    for (const theme of m.themes) byTheme.set(theme, []);
    for (const q of items) {
      if (!byTheme.has(q.theme)) byTheme.set(q.theme, []);
      byTheme.get(q.theme).push(q);
    }
    return byTheme;
  }

  function renderBrowse() {
    const list = $("browse-list");
    list.replaceChildren();
    const themes = [...remaining()].filter(([, qs]) => qs.length);
    for (const [theme, qs] of themes) {
      const heading = el("summary", { text: `${theme} (${qs.length})` });
      const ul = el("ul", { className: "browse" });
      for (const q of qs) {
        const button = el("button", {
          type: "button", className: "link", text: q.label, dataset: { questionId: q.id },
        });
        button.addEventListener("click", () => showQuestion(state.byId.get(q.id), true));
        ul.append(el("li", {}, button));
      }
      list.append(el("details", { className: "theme", open: themes.length === 1 }, heading, ul));
    }
    if (!list.children.length) list.append(el("p", { className: "muted", text: "Every question has been answered." }));
  }

  // ------------------------------------------------------------------ the result
  async function showResult(next) {
    const body = evidence();
    const [post, guide] = await Promise.all([call("/posterior", body), call("/guidance", body)]);
    const hasAnswers = Object.keys(body.answers).length > 0;
    const why = hasAnswers ? await call("/explain", body) : null;

    const notices = $("result-notices");
    notices.replaceChildren();
    for (const n of guide.notices) {
      notices.append(el("div", { className: n.urgent ? "notice urgent" : "notice", role: n.urgent ? "alert" : null },
        el("h2", { text: n.title }), el("p", { text: n.text })));
    }
    if (guide.tips_withheld) {
      notices.append(el("p", { className: "muted",
        text: "Tips for working on the relationship are left out here: your safety comes first." }));
    }
    const reason = next && next.stop_text ? next.stop_text : "";
    $("result-stop").textContent = reason ? `${reason} ${answeredText()}` : answeredText();

    const ul = $("result-causes");
    ul.replaceChildren();
    for (const c of post.causes.filter((x) => x.kind !== "safety")) {
      const bar = el("span", { className: "bar" });
      const fill = el("span", { className: "fill" });
      fill.style.width = `${Math.round(c.probability * 100)}%`;
      const mark = el("span", { className: "prior", title: "before any answer" });
      mark.style.left = `${Math.round(c.prior * 100)}%`;
      bar.append(fill, mark);
      ul.append(el("li", {},
        el("span", { className: "cause-label", text: c.label }),
        el("span", { className: "cause-p", text: `${percent(c.probability)} (was ${percent(c.prior)})` }),
        bar));
    }

    const reasons = $("result-reasons");
    reasons.replaceChildren();
    if (why && (why.supports.length || why.against.length)) {
      reasons.append(el("h2", { text: `Why "${why.label}" comes out on top` }));
      const item = (r) => el("li", {}, el("strong", { text: r.label }), el("br"),
        document.createTextNode(`You said "${r.answer_label}": ${r.strength} evidence`));
      if (why.supports.length) {
        reasons.append(el("p", { text: "Answers that point towards it:" }),
          el("ul", { className: "reasons" }, ...why.supports.slice(0, 5).map(item)));
      }
      if (why.against.length) {
        reasons.append(el("p", { text: "Answers that point away from it:" }),
          el("ul", { className: "reasons" }, ...why.against.slice(0, 3).map(item)));
      }
    }

    const tips = $("result-guidance");
    tips.replaceChildren();
    if (guide.causes.length) {
      tips.append(el("h2", { text: "Things you could try" }));
      for (const c of [...guide.causes].sort((a, b) => b.probability - a.probability)) {
        tips.append(el("h3", { text: `${c.label} (${percent(c.probability)})` }),
          el("ul", { className: "tips" }, ...c.tips.map((t) => el("li", { text: t }))));
      }
    } else if (guide.general.length) {
      tips.append(el("h2", { text: "Things you could try" }),
        el("ul", { className: "tips" }, ...guide.general.map((t) => el("li", { text: t }))));
    } else if (!guide.tips_withheld) {
      tips.append(el("p", {
        text: next && next.done
          ? "No single reason stands out from these answers."
          : "No reason stands out yet; answering more questions would sharpen the picture.",
      }));
    }
    $("result-disclaimer").textContent = guide.disclaimer;
    $("result-back").disabled = state.history.length === 0;
    show("result", "result-title");
  }

  // ------------------------------------------------------------------ start
  async function init() {
    const model = await call("/model");
    state.model = model;
    for (const q of model.questions) state.byId.set(q.id, q);
    for (const g of model.groups) state.byId.set(g.id, g);
    document.title = model.title;
    $("brand").textContent = model.title;
    $("disclaimer").textContent = model.disclaimer;
    show("intro", "intro-title");
  }

  function restart() {
    state.history = [];
    state.seenUrgent = new Set();
    show("intro", "intro-title");
  }

  document.addEventListener("DOMContentLoaded", () => {
    const results = () => run(() => showResult(state.lastNext));
    $("start").addEventListener("click", () => run(step));
    $("qform").addEventListener("submit", submitCurrent);
    $("q-unsure").addEventListener("click", () => record(state.current.id, "unsure"));
    $("q-back").addEventListener("click", back);
    $("q-finish").addEventListener("click", results);
    $("notice-results").addEventListener("click", results);
    $("notice-continue").addEventListener("click", () => {
      const next = state.lastNext;
      if (next && !next.done) showQuestion(next.next, false);
      else results();
    });
    $("result-back").addEventListener("click", () => {
      state.volunteered = false;
      back();
    });
    $("result-restart").addEventListener("click", restart);
    $("failure-retry").addEventListener("click", () => run(state.model ? step : init));
    run(init);
  });
})();
