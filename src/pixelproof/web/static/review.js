// pixelproof review: the queue, the page with a box per value, the values with their statuses,
// and corrections sent to the JSON API. Plain JS, no build step, nothing fetched from outside.
"use strict";

const $ = (selector) => document.querySelector(selector);
const run = decodeURIComponent(location.pathname.split("/")[2] || "");
const api = `/api/runs/${encodeURIComponent(run)}/items`;
const state = { queue: null, filter: "all", index: null, item: null, selected: null,
                scale: 1, x: 0, y: 0 };

async function call(url, body) {
  const options = body === undefined ? {} : { method: "POST", body: JSON.stringify(body),
                                              headers: { "Content-Type": "application/json" } };
  const response = await fetch(url, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.detail || response.statusText);
  return data;
}

function say(text, error = false) {
  $("#message").textContent = text;
  $("#message").className = error ? "error" : "";
}

function element(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k.startsWith("data-")) el.setAttribute(k, v); else el[k] = v;
  }
  el.append(...children);
  return el;
}

// --- the queue ---------------------------------------------------------------------------

function worst(s) {
  if (s.status !== "done") return "failed";
  if (s.counts.contradicted || s.failed_sums) return "contradicted";
  if (s.counts.unverified || s.split_votes) return "unverified";
  return "verified";
}

function shown() {
  const keep = { all: () => true, flagged: (s) => worst(s) !== "verified",
                 contradicted: (s) => worst(s) === "contradicted", unreviewed: (s) => !s.reviewed };
  return state.queue.items.filter(keep[state.filter]);
}

async function loadQueue() {
  state.queue = await call(api);
  const q = state.queue;
  $("#run").textContent = q.run;
  $("#bar").max = Math.max(1, q.total);
  $("#bar").value = q.reviewed;
  $("#progress").textContent = `${q.reviewed} of ${q.total} reviewed, ${q.flagged} flagged`;
  $("#queue").replaceChildren(...shown().map((s) => {
    const c = s.counts;
    const detail = s.status !== "done" ? s.error || s.status :
      `${c.contradicted} contradicted, ${c.unverified} unverified` +
      (s.failed_sums ? `, ${s.failed_sums} sums failed` : "");
    const li = element("li", { "data-index": s.index, title: s.label },
                       element("span", { className: "name" }, s.label.split("/").pop()),
                       element("small", {}, detail));
    li.className = `${worst(s)}${s.reviewed ? " reviewed" : ""}` +
      `${s.index === state.index ? " current" : ""}`;
    li.addEventListener("click", () => openItem(s.index));
    return li;
  }));
}

// --- one item ------------------------------------------------------------------------------

async function openItem(index) {
  state.index = index;
  state.selected = null;
  history.replaceState(null, "", `#${index}`);
  state.item = await call(`${api}/${index}`);
  const image = $("#image");
  image.onload = fit;
  image.src = `${api}/${index}/image`;
  say("");
  renderItem();
  await loadQueue();
}

function renderItem() {
  const item = state.item;
  $("#title").textContent = item.label;
  $("#summary").textContent = item.error ? `failed: ${item.error}` : item.summary;
  $("#sums").replaceChildren(...item.arithmetic.map((a) => element("li", {},
    `sum failed: ${a.name}: expected ${a.expected}, found ${a.found} (`,
    ...a.paths.flatMap((p, n) => [n ? ", " : "", link(p)]), ")")));
  $("#values tbody").replaceChildren(...item.values.map(valueRow));
  $("#canvas").querySelectorAll(".box").forEach((box) => box.remove());
  for (const v of item.values) {
    if (!v.box || v.review === "deleted") continue;
    const [x0, y0, x1, y1] = v.box;
    const box = element("div", { className: "box", "data-path": v.path,
                                 "data-status": v.status, title: `${v.path}: ${v.status}` });
    Object.assign(box.style, { left: `${x0 - 4}px`, top: `${y0 - 4}px`,
                               width: `${x1 - x0 + 8}px`, height: `${y1 - y0 + 8}px` });
    box.addEventListener("mouseenter", () => highlight(v.path, true));
    box.addEventListener("mouseleave", () => highlight(v.path, false));
    box.addEventListener("click", (e) => { e.stopPropagation(); select(v.path); });
    $("#canvas").append(box);
  }
  $("#rowlists").replaceChildren(...item.row_lists.map((path) => {
    const button = element("button", {}, `add a row to ${path || "the rows"}`);
    button.addEventListener("click", () => addRow(path));
    return button;
  }));
  if (state.selected) select(state.selected, false);
}

function link(path) {
  const a = element("a", { "data-path": path }, path);
  a.addEventListener("click", () => select(path));
  return a;
}

function valueRow(v) {
  const tr = element("tr", { "data-path": v.path, "data-status": v.status || "" },
    element("td", { className: "path" }, v.path),
    element("td", { className: "value" }, v.value === null ? "" : String(v.value)),
    element("td", { className: "status" }, v.status || "new"),
    element("td", { className: "review" }, v.review ? reviewText(v) : ""),
    element("td", { className: "ocr", title: v.note }, v.ocr_text || ""),
    element("td", {}, button("✓", "accept", () => accept(v.path)),
            button("✎", "edit", () => edit(v.path)),
            button("✕", "delete the row", () => deleteRow(v.path))));
  if (v.review === "deleted") tr.classList.add("deleted");
  tr.addEventListener("mouseenter", () => highlight(v.path, true));
  tr.addEventListener("mouseleave", () => highlight(v.path, false));
  tr.addEventListener("click", () => select(v.path, false));
  tr.addEventListener("dblclick", () => edit(v.path));
  return tr;
}

function reviewText(v) {
  return v.review === "edited" ? `edited (was ${JSON.stringify(v.original)})` : v.review;
}

function button(text, title, action) {
  const b = element("button", { title }, text);
  b.addEventListener("click", (e) => { e.stopPropagation(); action(); });
  return b;
}

function byPath(selector, path) {
  return [...document.querySelectorAll(selector)].filter((el) => el.dataset.path === path);
}

function highlight(path, on) {
  for (const el of [...byPath(".box", path), ...byPath("#values tr", path)]) {
    el.classList.toggle("hl", on);
  }
}

function select(path, scroll = true) {
  state.selected = path;
  document.querySelectorAll(".selected").forEach((el) => el.classList.remove("selected"));
  const els = [...byPath(".box", path), ...byPath("#values tr", path)];
  els.forEach((el) => el.classList.add("selected"));
  const row = byPath("#values tr", path)[0];
  if (row && scroll) row.scrollIntoView({ block: "nearest" });
}

// --- corrections -----------------------------------------------------------------------------

async function send(body, then) {
  try {
    state.item = await call(`${api}/${state.index}/corrections`, body);
    say("saved");
    renderItem();
    if (then) then();
    await loadQueue();
  } catch (error) {
    say(error.message, true);
  }
}

const accept = (path) => send({ path, action: "accept" }, () => move(1));

function deleteRow(path) {
  const row = path.match(/^(.*\[\d+\])\.[^.[\]]+$/);
  send({ path: row ? row[1] : path, action: "delete" });
}

function addRow(path) {
  const rows = state.item.values.filter((v) => v.path.startsWith(`${path}[`));
  const keys = [...new Set(rows.map((v) => v.path.slice(path.length).replace(/^\[\d+\]\./, "")))];
  send({ path, action: "add", value: Object.fromEntries(keys.map((k) => [k, null])) });
}

function edit(path) {
  const row = byPath("#values tr", path)[0];
  if (!row) return;
  select(path);
  const cell = row.querySelector("td.value");
  const input = element("input", { value: cell.textContent, "data-path": path });
  input.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.key === "Enter") send({ path, value: input.value }, () => move(1));
    if (e.key === "Escape") renderItem();
  });
  cell.replaceChildren(input);
  input.focus();
  input.select();
}

// --- moving --------------------------------------------------------------------------------

function move(step) {  // to the next (previous) flagged value not decided on
  const flagged = state.item.values.filter((v) => v.status && v.status !== "verified" &&
                                                  !v.review);
  const all = state.item.values.map((v) => v.path);
  const here = all.indexOf(state.selected);
  const order = step > 0 ? flagged : [...flagged].reverse();
  const next = order.find((v) => (all.indexOf(v.path) - here) * step > 0) || order[0];
  if (next) select(next.path);
}

function moveItem(step) {
  const items = shown();
  const here = items.findIndex((s) => s.index === state.index);
  const next = items[here + step];
  if (next) openItem(next.index);
}

// --- zoom and pan --------------------------------------------------------------------------

function place() {
  $("#canvas").style.transform = `translate(${state.x}px, ${state.y}px) scale(${state.scale})`;
}

function fit() {
  const image = $("#image");
  const view = $("#viewport").getBoundingClientRect();
  state.scale = Math.min(view.width / image.naturalWidth, view.height / image.naturalHeight) || 1;
  state.x = (view.width - image.naturalWidth * state.scale) / 2;
  state.y = 0;
  place();
}

function zoom(factor, cx, cy) {
  const view = $("#viewport").getBoundingClientRect();
  const x = cx ?? view.width / 2;
  const y = cy ?? view.height / 2;
  state.x = x - (x - state.x) * factor;
  state.y = y - (y - state.y) * factor;
  state.scale *= factor;
  place();
}

function panAndZoom() {
  const view = $("#viewport");
  view.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = view.getBoundingClientRect();
    zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  let drag = null;
  view.addEventListener("mousedown", (e) => {
    drag = { x: e.clientX - state.x, y: e.clientY - state.y };
    view.classList.add("dragging");
  });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    state.x = e.clientX - drag.x;
    state.y = e.clientY - drag.y;
    place();
  });
  window.addEventListener("mouseup", () => { drag = null; view.classList.remove("dragging"); });
  for (const b of document.querySelectorAll("#zoom button")) {
    b.addEventListener("click", () => ({ in: () => zoom(1.25), out: () => zoom(0.8),
                                         fit }[b.dataset.zoom])());
  }
}

// --- keys and start ------------------------------------------------------------------------

function help() {
  const dialog = $("#help");
  if (dialog.open) dialog.close(); else dialog.showModal();
}

const keys = {
  j: () => move(1), k: () => move(-1), n: () => moveItem(1), p: () => moveItem(-1),
  a: () => (state.selected ? accept(state.selected) : send({ path: "", action: "accept" })),
  e: () => state.selected && edit(state.selected),
  Enter: () => state.selected && edit(state.selected),
  x: () => state.selected && deleteRow(state.selected),
  u: () => send({ action: "undo" }),
  "?": help, "+": () => zoom(1.25), "-": () => zoom(0.8), 0: fit,
};

document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
  const action = keys[e.key];
  if (action && state.item) {
    e.preventDefault();
    action();
  }
});

async function start() {
  panAndZoom();
  $("#help-button").addEventListener("click", help);
  $("#help-close").addEventListener("click", help);
  $("#undo").addEventListener("click", () => send({ action: "undo" }));
  $("#accept-item").addEventListener("click", () => send({ path: "", action: "accept" }));
  for (const b of document.querySelectorAll("#filters button")) {
    b.addEventListener("click", () => {
      state.filter = b.dataset.filter;
      document.querySelectorAll("#filters button").forEach((o) => o.classList.remove("on"));
      b.classList.add("on");
      loadQueue();
    });
  }
  try {
    await loadQueue();
    const first = location.hash ? Number(location.hash.slice(1)) : state.queue.items[0]?.index;
    if (first !== undefined) await openItem(first);
  } catch (error) {
    say(error.message, true);
  }
}

start();
