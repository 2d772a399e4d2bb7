"""The local control panel's single HTML page: inline CSS and vanilla JS, no external files."""
# ruff: noqa: E501  (an HTML/JS asset, kept readable rather than wrapped)

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>touchline control panel</title>
<style>
  :root { --bg: #111217; --panel: #181b1f; --line: #2c3235; --text: #d8d9da; --dim: #8e8e8e; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: center; gap: 16px; padding: 10px 16px;
           border-bottom: 1px solid var(--line); }
  header h1 { font-size: 16px; margin: 0; }
  nav button, #vars select { background: var(--panel); color: var(--text);
           border: 1px solid var(--line); border-radius: 3px; padding: 4px 10px; cursor: pointer; }
  nav button.active { border-color: #3d71d9; }
  #status { margin-left: auto; color: var(--dim); }
  #vars { display: flex; gap: 12px; padding: 8px 16px; }
  #vars label { color: var(--dim); }
  main { display: grid; grid-template-columns: repeat(24, 1fr); grid-auto-rows: 30px; gap: 8px;
         padding: 8px 16px 16px; }
  .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 3px;
           padding: 6px 10px; overflow: auto; display: flex; flex-direction: column;
           scrollbar-color: #2c3235 transparent; }
  .panel h2 { font-size: 13px; margin: 0 0 4px; font-weight: 500; }
  .panel .body { flex: 1; min-height: 0; }
  .panel[data-state=error] .body { color: #f2495c; }
  .stat-value { font-size: 32px; font-weight: 500; color: #73bf69; }
  .stat-unit { font-size: 16px; color: var(--dim); margin-left: 4px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid var(--line);
           white-space: nowrap; }
  th { color: var(--dim); font-weight: 500; }
  svg text { fill: var(--dim); font-size: 10px; }
  .legend { display: flex; flex-wrap: wrap; gap: 8px; color: var(--dim); }
  .legend i { display: inline-block; width: 10px; height: 3px; margin-right: 4px;
              vertical-align: middle; }
  .empty { color: var(--dim); }
</style>
</head>
<body>
<header><h1>touchline</h1><nav id="tabs"></nav><span id="status">loading…</span></header>
<div id="vars"></div>
<main id="grid"></main>
<script>
"use strict";
const COLORS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9",
                "#fade2a", "#96d98d", "#ffb357"];
const state = { all: [], dash: null, values: {}, refreshS: 5, timer: null };

async function getJSON(url) {
  const resp = await fetch(url);
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}
function query(values) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) (Array.isArray(v) ? v : [v]).forEach(x => p.append(k, x));
  return p.toString();
}
function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(tag, attrs = {}) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}
function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en") :
    v.toLocaleString("en", { maximumFractionDigits: 2 });
  return String(v);
}
function isTime(type) { return type.startsWith("DateTime") || type.startsWith("Nullable(DateTime"); }
function parseTime(s) { return Date.parse(String(s).replace(" ", "T") + "Z"); }

function renderStat(body, data, unit) {
  const v = data.rows.length ? data.rows[0][0] : null;
  const box = el("div");
  box.append(el("span", { class: "stat-value" }, fmt(v)));
  if (unit && unit !== "short") box.append(el("span", { class: "stat-unit" }, unit === "percent" ? "%" : unit));
  body.replaceChildren(box);
}
function renderTable(body, data) {
  if (!data.rows.length) { body.replaceChildren(el("div", { class: "empty" }, "no rows")); return; }
  const t = el("table"), head = el("tr");
  data.columns.forEach(c => head.append(el("th", {}, c)));
  t.append(head);
  data.rows.slice(0, 100).forEach(r => {
    const tr = el("tr");
    r.forEach(v => tr.append(el("td", {}, fmt(v))));
    t.append(tr);
  });
  body.replaceChildren(t);
}
function seriesOf(data) {
  // long format: time column, optional label column(s), one value column
  const ti = data.types.findIndex(isTime);
  const vi = data.types.findIndex((t, i) => i !== ti && /Int|Float|Decimal/.test(t));
  const li = data.types.map((t, i) => i).filter(i => i !== ti && i !== vi);
  const series = new Map();
  for (const r of data.rows) {
    const name = li.map(i => r[i]).join(" / ") || data.columns[vi];
    if (!series.has(name)) series.set(name, []);
    series.get(name).push([parseTime(r[ti]), Number(r[vi])]);
  }
  return series;
}
function renderTimeseries(body, data) {
  const series = seriesOf(data);
  if (!series.size) { body.replaceChildren(el("div", { class: "empty" }, "no data")); return; }
  const W = 600, H = 180, L = 40, B = 16;
  let xs = [], ys = [0];
  series.forEach(pts => pts.forEach(([x, y]) => { xs.push(x); ys.push(y); }));
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || x0 + 1, y1 = Math.max(...ys) || 1;
  const sx = x => L + (W - L - 4) * (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0));
  const sy = y => H - B - (H - B - 4) * (y / y1);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", height: "80%",
                         preserveAspectRatio: "none" });
  s.append(svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, stroke: "#2c3235" }));
  const top = svg("text", { x: 2, y: 12 }); top.textContent = fmt(y1); s.append(top);
  const zero = svg("text", { x: 2, y: H - B }); zero.textContent = "0"; s.append(zero);
  const hhmm = t => new Date(t).toISOString().slice(5, 16).replace("T", " ");
  const t0 = svg("text", { x: L, y: H - 3 }); t0.textContent = hhmm(x0); s.append(t0);
  const t1 = svg("text", { x: W - 4, y: H - 3, "text-anchor": "end" });
  t1.textContent = hhmm(x1) + " UTC"; s.append(t1);
  const legend = el("div", { class: "legend" });
  let k = 0;
  series.forEach((pts, name) => {
    const color = COLORS[k++ % COLORS.length];
    pts.sort((a, b) => a[0] - b[0]);
    s.append(svg("polyline", { fill: "none", stroke: color, "stroke-width": 1.5,
      points: pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ") }));
    const item = el("span"); const sw = el("i"); sw.style.background = color;
    item.append(sw, document.createTextNode(name)); legend.append(item);
  });
  body.replaceChildren(s, legend);
}
function renderBars(body, data) {
  if (!data.rows.length) { body.replaceChildren(el("div", { class: "empty" }, "no data")); return; }
  const W = 600, H = 200, B = 18, n = data.rows.length, bw = (W - 10) / n;
  const vi = data.types.findIndex(t => /Int|Float|Decimal/.test(t));
  const max = Math.max(1, ...data.rows.map(r => Number(r[vi])));
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", height: "100%" });
  data.rows.forEach((r, i) => {
    const h = (H - B - 14) * Number(r[vi]) / max, x = 5 + i * bw;
    s.append(svg("rect", { x: x + 2, y: H - B - h, width: bw - 4, height: h, fill: COLORS[0] }));
    const lab = svg("text", { x: x + bw / 2, y: H - 4, "text-anchor": "middle" });
    lab.textContent = String(r[0]); s.append(lab);
    const val = svg("text", { x: x + bw / 2, y: H - B - h - 3, "text-anchor": "middle" });
    val.textContent = fmt(Number(r[vi])); s.append(val);
  });
  body.replaceChildren(s);
}
const RENDER = { stat: renderStat, table: renderTable, timeseries: renderTimeseries, barchart: renderBars };

async function loadPanel(p) {
  const section = document.querySelector(`[data-panel="${p.index}"]`);
  const body = section.querySelector(".body");
  try {
    const data = await getJSON(`/api/panel/${state.dash.uid}/${p.index}?${query(state.values)}`);
    (RENDER[p.kind] || renderTable)(body, data, p.unit);
    section.dataset.state = "ok";
    section.dataset.rows = String(data.rows.length);
  } catch (err) {
    body.textContent = err.message;
    section.dataset.state = "error";
  }
}
async function refresh() {
  await Promise.all(state.dash.panels.map(loadPanel));
  document.getElementById("status").textContent =
    "updated " + new Date().toISOString().slice(11, 19) + " UTC · every " + state.refreshS + " s";
}
function layout() {
  const grid = document.getElementById("grid");
  grid.replaceChildren();
  for (const p of state.dash.panels) {
    const s = el("section", { class: "panel kind-" + p.kind, "data-panel": p.index,
                              "data-kind": p.kind, title: p.description });
    s.style.gridColumn = `span ${p.width}`;
    s.style.gridRow = `span ${p.height * 1.2 | 0}`;
    s.append(el("h2", {}, p.title), el("div", { class: "body" }, "…"));
    grid.append(s);
  }
}
async function loadVariables() {
  const v = await getJSON(`/api/variables/${state.dash.uid}?${query(state.values)}`);
  state.values = v.values;
  const box = document.getElementById("vars");
  box.replaceChildren();
  for (const d of v.variables) {
    const label = el("label", {}, d.label + " ");
    const sel = el("select", { name: d.name });
    if (d.include_all) sel.append(el("option", { value: "$__all" }, "All"));
    d.options.forEach(o => sel.append(el("option", { value: o }, o)));
    sel.value = Array.isArray(d.value) ? d.value[0] : d.value;
    sel.onchange = async () => { state.values[d.name] = sel.value; await loadVariables(); refresh(); };
    label.append(sel); box.append(label);
  }
}
async function select(uid) {
  state.dash = state.all.find(d => d.uid === uid) || state.all[0];
  state.values = {};
  document.querySelectorAll("nav button").forEach(b =>
    b.classList.toggle("active", b.dataset.uid === state.dash.uid));
  history.replaceState(null, "", "?d=" + state.dash.uid);
  layout();
  await loadVariables();
  await refresh();
}
async function init() {
  try {
    const meta = await getJSON("/api/dashboards");
    state.all = meta.dashboards; state.refreshS = meta.refresh_s;
    const tabs = document.getElementById("tabs");
    for (const d of state.all) {
      const b = el("button", { "data-uid": d.uid }, d.title.replace("touchline / ", ""));
      b.onclick = () => select(d.uid);
      tabs.append(b);
    }
    await select(new URLSearchParams(location.search).get("d"));
    state.timer = setInterval(() => refresh().catch(() => {}), state.refreshS * 1000);
  } catch (err) {
    document.getElementById("status").textContent = "error: " + err.message;
  }
}
init();
</script>
</body>
</html>
"""
