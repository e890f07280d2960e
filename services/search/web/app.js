// The order table page: columns come from the API, so a reindex that adds a column shows up
// without a deploy. State lives in the URL so a view can be shared and reloaded.
"use strict";

const $ = (sel) => document.querySelector(sel);

const state = {
  index: null,        // concrete index of the current page sequence
  columns: [],        // columns of that index
  sort: null,         // ["customer_name", "-placed_at"]; null = server default
  q: "",
  filters: {},        // column -> expression (API syntax)
  size: 50,
  cursors: [null],    // cursors[n] fetches page n
  page: 0,
  toggled: new Set(), // columns whose default visibility the user flipped
  fresh: null,
  facets: {},
  newColumns: new Set(), // columns the last table version added, highlighted
  seq: 0,             // drops answers of superseded requests
};

// ---- URL state -----------------------------------------------------------------------------

function readURL() {
  const u = new URLSearchParams(location.search);
  if (u.get("sort")) state.sort = u.get("sort").split(",").filter(Boolean);
  state.q = u.get("q") || "";
  const size = parseInt(u.get("size"), 10);
  if ([25, 50, 100, 200].includes(size)) state.size = size;
  for (const [k, v] of u) if (k.startsWith("filter.") && v) state.filters[k.slice(7)] = v;
}

function queryParams() {
  const u = new URLSearchParams();
  if (state.sort && state.sort.length) u.set("sort", state.sort.join(","));
  if (state.q) u.set("q", state.q);
  for (const [k, v] of Object.entries(state.filters)) if (v) u.set("filter." + k, v);
  return u;
}

function writeURL() {
  const u = queryParams();
  if (state.size !== 50) u.set("size", String(state.size));
  const s = u.toString();
  history.replaceState(null, "", s ? "?" + s : location.pathname);
}

// ---- fetching ------------------------------------------------------------------------------

async function api(path, params) {
  const url = params && params.toString() ? path + "?" + params : path;
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const e = (body && body.error) || { code: "http_" + res.status, message: res.statusText };
    const err = new Error(e.message);
    err.status = res.status;
    err.details = e.details || [];
    throw err;
  }
  return body;
}

async function load() {
  const seq = ++state.seq;
  const params = queryParams();
  params.set("size", String(state.size));
  const cursor = state.cursors[state.page];
  if (cursor) params.set("cursor", cursor);
  busy(true);
  try {
    const res = await api("/v1/orders", params);
    if (seq !== state.seq) return;
    hide("#error");
    const changed = res.index !== state.index;
    if (changed && state.columns.length) {
      const before = new Set(state.columns.map((c) => c.name));
      state.newColumns = new Set(res.columns.filter((c) => !before.has(c.name)).map((c) => c.name));
    }
    state.index = res.index;
    state.columns = res.columns;
    state.serverSort = res.sort;
    state.cursors[state.page + 1] = res.next_cursor || null;
    state.cursors.length = state.page + 2;
    state.fresh = res.fresh_as_of;
    if (changed) {
      renderColumnsMenu();
      loadFacets();
    }
    renderIndex(res);
    renderHeader();
    renderRows(res.items);
    renderPager(res);
    renderFresh();
    document.body.dataset.index = res.index;
    document.body.dataset.state = "ready";
  } catch (err) {
    if (seq !== state.seq) return;
    if (err.status === 410) {
      // The index this page sequence read was replaced and deleted: start over on the live one.
      note("The table was rebuilt while you were paging; showing the first page of the new version.");
      restart();
      return;
    }
    showError(err);
    document.body.dataset.state = "error";
  } finally {
    if (seq === state.seq) busy(false);
  }
}

function restart() {
  state.cursors = [null];
  state.page = 0;
  writeURL();
  load();
}

async function loadFacets() {
  try {
    const res = await api("/v1/orders/facets");
    state.facets = res.facets || {};
  } catch (err) {
    state.facets = {};
  }
  renderFilters();
}

// Poll the live index so people learn about a new table version without reloading.
async function pollLive() {
  try {
    const res = await api("/v1/orders/columns");
    if (state.index && res.index !== state.index) {
      if (state.page === 0) {
        note("A new version of the table (" + res.index + ") is live.");
        restart();
      } else {
        note("A new version of the table (" + res.index + ") is live. Press Refresh to see it; you are still paging " + state.index + ".");
      }
    }
  } catch (err) { /* the next request reports problems */ }
}

// ---- rendering -----------------------------------------------------------------------------

function visibleColumns() {
  return state.columns.filter((c) => c.visible !== state.toggled.has(c.name));
}

function sortKeys() {
  if (state.sort) return state.sort.map(parseSortToken);
  // The server's default, minus the tiebreaker it appends.
  return (state.serverSort || []).slice(0, -1).map((k) => ({ column: k.column, desc: k.desc }));
}

function parseSortToken(t) {
  return t.startsWith("-") ? { column: t.slice(1), desc: true } : { column: t, desc: false };
}

function renderHeader() {
  const tr = $("#orders thead tr");
  tr.replaceChildren();
  const keys = sortKeys();
  for (const c of visibleColumns()) {
    const th = document.createElement("th");
    th.dataset.column = c.name;
    th.className = "col-" + c.kind + (c.format ? " fmt-" + c.format : "");
    const pos = keys.findIndex((k) => k.column === c.name);
    if (c.sortable) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "sort";
      b.title = "Sort by " + c.label + " (shift-click: add as secondary sort)";
      b.append(c.label);
      const arrow = document.createElement("span");
      arrow.className = "arrow";
      if (pos >= 0) {
        arrow.textContent = keys[pos].desc ? "▼" : "▲";
        if (keys.length > 1) {
          const n = document.createElement("sup");
          n.textContent = String(pos + 1);
          arrow.append(n);
        }
        th.setAttribute("aria-sort", keys[pos].desc ? "descending" : "ascending");
        th.classList.add("sorted");
      } else {
        arrow.textContent = "↕";
        arrow.classList.add("idle");
      }
      b.append(arrow);
      b.addEventListener("click", (ev) => onSort(c.name, ev.shiftKey));
      th.append(b);
    } else {
      th.textContent = c.label;
    }
    if (state.newColumns.has(c.name)) {
      th.classList.add("new");
      th.title = "New in " + state.index;
    }
    tr.append(th);
  }
}

function onSort(col, add) {
  let keys = sortKeys();
  const i = keys.findIndex((k) => k.column === col);
  if (add) {
    if (i >= 0) keys[i].desc = !keys[i].desc;
    else keys.push({ column: col, desc: false });
  } else if (i === 0 && keys.length === 1) {
    keys = [{ column: col, desc: !keys[0].desc }];
  } else {
    keys = [{ column: col, desc: false }];
  }
  state.sort = keys.slice(0, 4).map((k) => (k.desc ? "-" : "") + k.column);
  restart();
}

function renderRows(items) {
  const tbody = $("#orders tbody");
  const cols = visibleColumns();
  const rows = items.map((it) => {
    const tr = document.createElement("tr");
    for (const c of cols) {
      const td = document.createElement("td");
      td.dataset.column = c.name;
      td.className = "col-" + c.kind + (c.format ? " fmt-" + c.format : "");
      renderCell(td, c, it);
      tr.append(td);
    }
    return tr;
  });
  tbody.replaceChildren(...rows);
  $("#empty").hidden = items.length > 0;
}

const moneyFormats = new Map();
function money(v, currency) {
  const key = currency || "";
  if (!moneyFormats.has(key)) {
    let f;
    try {
      f = new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "XXX" });
    } catch (e) {
      f = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    moneyFormats.set(key, f);
  }
  return moneyFormats.get(key).format(v);
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function renderCell(td, c, item) {
  const v = item[c.name];
  if (v === undefined || v === null || v === "") {
    td.textContent = "—";
    td.classList.add("missing");
    return;
  }
  if (c.format === "money") {
    td.textContent = money(Number(v), c.currency_field ? item[c.currency_field] : "");
    return;
  }
  if (c.format === "datetime" || c.kind === "date") {
    const d = new Date(v);
    td.textContent = isNaN(d) ? String(v) : dateFormat.format(d);
    td.title = String(v);
    return;
  }
  if (c.kind === "boolean") {
    td.textContent = v ? "Yes" : "No";
    return;
  }
  if (c.kind === "number") {
    td.textContent = Number(v).toLocaleString();
    return;
  }
  if (c.name === "status") {
    const chip = document.createElement("span");
    chip.className = "chip status-" + String(v).replace(/[^a-z0-9_-]/gi, "");
    chip.textContent = String(v);
    td.append(chip);
    return;
  }
  td.textContent = String(v);
  if (c.name === "customer_name" && item.customer_deleted) {
    td.classList.add("deleted");
    td.title = "customer deleted";
  }
}

function renderIndex(res) {
  const a = $("#index-link");
  a.textContent = res.index + (res.mapping_version ? " · v" + res.mapping_version : "");
  a.href = "/v1/orders/columns";
}

function renderFresh() {
  const el = $("#fresh");
  if (!state.fresh) {
    el.textContent = "no data yet";
    el.className = "fresh";
    return;
  }
  const t = new Date(state.fresh);
  const age = Math.max(0, (Date.now() - t.getTime()) / 1000);
  const sameDay = t.toDateString() === new Date().toDateString();
  el.textContent = "fresh as of " + (sameDay ? t.toLocaleTimeString() : dateFormat.format(t)) + " (" + ago(age) + ")";
  el.title = "Newest change indexed: " + state.fresh;
  el.className = "fresh " + (age < 60 ? "ok" : age < 600 ? "stale" : "old");
}

function ago(s) {
  if (s < 5) return "just now";
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

function renderPager(res) {
  const first = state.page * state.size + (res.items.length ? 1 : 0);
  const last = state.page * state.size + res.items.length;
  const tot = res.total || { value: 0, relation: "eq" };
  const of = (tot.relation === "gte" ? "more than " : "") + tot.value.toLocaleString();
  $("#summary").textContent = first + "–" + last + " of " + of + " orders";
  $("#page-no").textContent = "Page " + (state.page + 1);
  $("#prev").disabled = state.page === 0;
  $("#next").disabled = !res.next_cursor;
}

function renderColumnsMenu() {
  const box = $("#columns-list");
  box.replaceChildren();
  for (const c of state.columns) {
    const label = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.checked = c.visible !== state.toggled.has(c.name);
    cb.addEventListener("change", () => {
      if (cb.checked === c.visible) state.toggled.delete(c.name);
      else state.toggled.add(c.name);
      load();
    });
    label.append(cb, " " + c.label);
    box.append(label);
  }
}

// Filters: chips for facet columns, from/to inputs for dates and money.
function renderFilters() {
  const box = $("#filters");
  box.replaceChildren();
  for (const c of state.columns) {
    if (!c.filterable) continue;
    if (c.facet && state.facets[c.name] && state.facets[c.name].length) {
      const g = group(c);
      const selected = new Set(splitList(state.filters[c.name] || ""));
      for (const fv of state.facets[c.name]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "chip toggle" + (c.name === "status" ? " status-" + fv.value.replace(/[^a-z0-9_-]/gi, "") : "");
        b.setAttribute("aria-pressed", selected.has(fv.value) ? "true" : "false");
        b.dataset.value = fv.value;
        b.textContent = fv.value;
        if (fv.count != null) {
          const n = document.createElement("span");
          n.className = "count";
          n.textContent = fv.count.toLocaleString();
          b.append(n);
        }
        b.addEventListener("click", () => {
          if (selected.has(fv.value)) selected.delete(fv.value);
          else selected.add(fv.value);
          setFilter(c.name, [...selected].map(escapeValue).join(","));
          renderFilters();
        });
        g.append(b);
      }
      box.append(g);
    } else if (c.visible && (c.kind === "date" || c.format === "money")) {
      const g = group(c);
      const [lo, hi] = (state.filters[c.name] || "..").split("..");
      const type = c.kind === "date" ? "date" : "number";
      const from = rangeInput(type, "from", lo);
      const to = rangeInput(type, "to", hi);
      const apply = () => {
        const a = from.value.trim(), b = to.value.trim();
        setFilter(c.name, a || b ? a + ".." + b : "");
      };
      from.addEventListener("change", apply);
      to.addEventListener("change", apply);
      g.append(from, "–", to);
      box.append(g);
    }
  }
}

function group(c) {
  const g = document.createElement("div");
  g.className = "filter-group";
  g.dataset.column = c.name;
  const l = document.createElement("span");
  l.className = "filter-label";
  l.textContent = c.label;
  g.append(l);
  return g;
}

function rangeInput(type, placeholder, value) {
  const i = document.createElement("input");
  i.type = type;
  i.placeholder = placeholder;
  i.ariaLabel = placeholder;
  if (type === "number") i.step = "0.01";
  i.value = value || "";
  return i;
}

function setFilter(col, expr) {
  if (expr) state.filters[col] = expr;
  else delete state.filters[col];
  restart();
}

function escapeValue(v) { return v.replace(/\\/g, "\\\\").replace(/,/g, "\\,"); }

function splitList(s) {
  const out = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\" && i + 1 < s.length) cur += s[++i];
    else if (s[i] === ",") { out.push(cur); cur = ""; }
    else cur += s[i];
  }
  if (s) out.push(cur);
  return out;
}

// ---- feedback ------------------------------------------------------------------------------

function busy(on) { $("#progress").hidden = !on; }
function hide(sel) { $(sel).hidden = true; }

function note(msg) {
  const el = $("#notice");
  el.textContent = msg;
  el.hidden = false;
}

function showError(err) {
  const el = $("#error");
  el.replaceChildren();
  const strong = document.createElement("strong");
  strong.textContent = err.message;
  el.append(strong);
  for (const d of err.details || []) {
    const p = document.createElement("div");
    p.textContent = d.field + ": " + d.message;
    el.append(p);
  }
  el.hidden = false;
}

// ---- wiring --------------------------------------------------------------------------------

function init() {
  readURL();
  const q = $("#q");
  q.value = state.q;
  let timer;
  q.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.q = q.value.trim(); restart(); }, 250);
  });
  q.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { clearTimeout(timer); state.q = q.value.trim(); restart(); }
    if (ev.key === "Escape") { q.value = ""; state.q = ""; restart(); }
  });
  $("#size").value = String(state.size);
  $("#size").addEventListener("change", () => { state.size = parseInt($("#size").value, 10); restart(); });
  $("#next").addEventListener("click", () => {
    if (!state.cursors[state.page + 1]) return;
    state.page++;
    load();
  });
  $("#prev").addEventListener("click", () => {
    if (state.page === 0) return;
    state.page--;
    load();
  });
  $("#refresh").addEventListener("click", () => { hide("#notice"); loadFacets(); restart(); });
  setInterval(renderFresh, 1000);
  setInterval(pollLive, 15000);
  restart();
}

document.addEventListener("DOMContentLoaded", init);
