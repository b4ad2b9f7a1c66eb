// lakepipe dashboard: draws the charts the running pipeline declares and its live status
// with ECharts. Nothing here names a pipeline's tables: the charts come from the pipeline.
//
// Data (docs/http-api.md): /api/dashboard (the declared charts, docs/dashboard.md) and
// /api/dashboard/charts/{id} (each chart's rows), /api/pipeline (DAG, per-table state,
// rates, latency), /api/tables (versions and row counts),
// /api/expectations, /api/events. Live: the `pipeline` events of /api/stream (SSE); when the
// stream is unavailable the page polls /api/pipeline instead. A chart is re-read only when
// the Delta version of a table it reads changes.
"use strict";

(() => {
  // ---------------------------------------------------------------- settings & helpers
  const POLL_MS = 2000;           // fallback polling period
  const SAFETY_POLL_MS = 15000;   // a slow poll even while the stream is up
  const SAMPLE_MS = 2000;         // live charts get a point at least this often
  const HISTORY_MS = 10 * 60 * 1000;

  // ?access_token=... on the page URL is passed on to the API (docs/http-api.md).
  const token = new URLSearchParams(location.search).get("access_token");
  const withToken = (path) => token
    ? path + (path.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(token)
    : path;

  const css = getComputedStyle(document.documentElement);
  const cssVar = (name) => css.getPropertyValue(name).trim();
  const C = {
    text: cssVar("--text"), muted: cssVar("--muted"), border: cssVar("--border"),
    panel: cssVar("--panel"), accent: cssVar("--accent"), ok: cssVar("--ok"),
    warn: cssVar("--warn"), bad: cssVar("--bad"), idle: cssVar("--idle"),
  };
  const PALETTE = [C.accent, C.ok, C.warn, "#b07cf0", "#4cc3d9", C.bad, "#9aa5b8"];
  const LAYER_COLOR = { bronze: "#c98a4b", silver: "#a9b4c4", gold: "#e0b43b", other: "#7f8aa0" };
  const STATE_COLOR = {
    "running": C.accent, "waiting for trigger": C.ok, "idle": C.ok, "failed": C.bad,
    "stopped": C.idle, "not running": C.idle, "source": "#4cc3d9", "not written": C.idle,
  };

  const fmtMoney = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const fmtInt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const fmtCompact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
  const fmtPct = new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 2 });
  const num = (v) => (v === null || v === undefined || v === "") ? NaN : Number(v);
  const money = (v) => Number.isFinite(num(v)) ? fmtMoney.format(num(v)) : "–";
  const int = (v) => Number.isFinite(num(v)) && num(v) >= 0 ? fmtInt.format(num(v)) : "–";
  const compact = (v) => Number.isFinite(num(v)) ? fmtCompact.format(num(v)) : "–";
  const seconds = (s) => !Number.isFinite(s) ? "–"
    : s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${s.toFixed(s < 10 ? 2 : 1)} s` : `${(s / 60).toFixed(1)} min`;
  const clock = (ms) => new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
  const ago = (ms) => {
    if (!(ms > 0)) return "–";
    const s = Math.max(0, (Date.now() - ms) / 1000);
    return s < 60 ? `${Math.round(s)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : clock(ms);
  };
  const $ = (id) => document.getElementById(id);
  const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const layerOf = (name) => {
    const m = /^(bronze|silver|gold)(_|$)/i.exec(name || "");
    return m ? m[1].toLowerCase() : "other";
  };

  // Fetches JSON; a failure is shown in the banner (not thrown at the console).
  const failures = new Map();
  async function api(path) {
    try {
      const res = await fetch(withToken(path), { headers: { Accept: "application/json" } });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
      failures.delete(path);
      return body;
    } catch (err) {
      failures.set(path, `${path}: ${err.message}`);
      return null;
    } finally {
      renderBanner();
    }
  }
  function renderBanner() {
    const banner = $("banner");
    const first = failures.values().next();
    banner.hidden = first.done;
    banner.textContent = first.done ? "" : `Cannot load ${first.value}`;
  }

  // ---------------------------------------------------------------- charts
  const charts = {};
  function chart(id) {
    if (!charts[id]) {
      charts[id] = echarts.init($(id), null, { renderer: "canvas" });
    }
    return charts[id];
  }
  const axisCommon = {
    axisLine: { lineStyle: { color: C.border } },
    axisTick: { show: false },
    axisLabel: { color: C.muted, fontSize: 11 },
    splitLine: { lineStyle: { color: C.border, type: [3, 4] } },
  };
  const tooltipCommon = {
    backgroundColor: C.panel, borderColor: C.border, textStyle: { color: C.text, fontSize: 12 },
    extraCssText: "box-shadow: 0 6px 18px rgba(0,0,0,.25); border-radius: 8px;",
  };
  const legendCommon = { textStyle: { color: C.muted, fontSize: 11 }, icon: "roundRect", itemWidth: 10, itemHeight: 4, top: 0, right: 0 };
  function emptyGraphic(text) {
    return { id: "placeholder", type: "text", left: "center", top: "middle", silent: true,
             style: { text, fill: C.muted, fontSize: 13 } };
  }
  // Sets a chart's option; `empty` shows a placeholder text instead of an empty grid.
  // Updates with the same shape (same number of series, not coming from a placeholder)
  // are merged, so that bars and nodes move to their new values instead of being redrawn
  // from zero several times a second.
  const drawnShape = {};
  function draw(id, option, empty) {
    option.aria = { enabled: true };   // screen readers get a generated description
    if (empty) {
      option.graphic = { elements: [emptyGraphic(empty)] };
      // No bare axes around a placeholder.
      for (const key of ["xAxis", "yAxis"]) {
        if (option[key]) option[key] = [].concat(option[key]).map((a) => ({ ...a, show: false }));
      }
      if (option.legend) option.legend = { ...option.legend, show: false };
      if (option.series) option.series = [];
    }
    const shape = empty ? "empty" : `series:${(option.series || []).map((x) => x.name || x.type).join(",")}`;
    // A change of shape (also to or from the placeholder) replaces the whole option, which
    // also removes the placeholder.
    const notMerge = drawnShape[id] !== shape;
    drawnShape[id] = shape;
    chart(id).setOption(option, { notMerge, lazyUpdate: true });
  }
  // The palette comes from CSS; a colour-scheme switch redraws everything with the new one.
  if (window.matchMedia) {
    matchMedia("(prefers-color-scheme: light)").addEventListener("change", () => location.reload());
  }
  const resizeAll = () => Object.values(charts).forEach((c) => c.resize());
  window.addEventListener("resize", resizeAll);
  if (window.ResizeObserver) new ResizeObserver(resizeAll).observe(document.querySelector("main"));

  // ---------------------------------------------------------------- the declared charts
  // The running pipeline says what to draw: GET /api/dashboard lists its charts (the
  // `dashboard:` section of pipeline.yaml, or one table per Gold table by default;
  // docs/dashboard.md), each with the stored tables it reads. A chart is re-read when the
  // version of one of those tables changes (and every `refresh_seconds` if it has one).
  let dashboard = null;       // the /api/dashboard payload
  const chartKeys = {};       // chart id -> the table versions it was last drawn at
  const tableInfo = {};       // name -> /api/tables entry

  const fmtNumber = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  // A value in one of the formats of docs/dashboard.md; null is "–", text stays text.
  function formatAs(format, v) {
    if (v === null || v === undefined || v === "") return "–";
    if (typeof v === "object") return JSON.stringify(v);  // arrays, structs, maps
    if (format === "text") return String(v);
    const n = Number(v);
    if (typeof v === "boolean" || !Number.isFinite(n)) return String(v);
    switch (format) {
      case "integer": return fmtInt.format(n);
      case "money": return fmtMoney.format(n);
      case "percent": return fmtPct.format(n);
      case "compact": return fmtCompact.format(n);
      default: return fmtNumber.format(n);
    }
  }
  // "{Country} · {share|percent}" with the row's values.
  const fillNote = (template, row) => template.replace(/\{([^}|]+)(?:\|([a-z]+))?\}/g,
    (_, col, format) => formatAs(format || "text", row ? row[col] : null));
  const colorOf = (name) => ({ accent: C.accent, ok: C.ok, warn: C.warn, bad: C.bad, muted: C.muted }[name] || C.accent);
  const columnType = (chart, name) => ((chart.columns || []).find((c) => c.name === name) || {}).type || "";
  const isNumericType = (t) => /^(tinyint|smallint|int|bigint|float|double|decimal)/.test(t);
  const chartHint = (c, body) => {
    const base = c.subtitle || (c.tables || []).join(", ");
    const shown = body ? body.rows.length : 0;
    return body && body.total_rows > shown ? `${base} · top ${shown} of ${fmtInt.format(body.total_rows)}` : base;
  };
  const cardOf = (id) => document.querySelector(`[data-chart="${CSS.escape(id)}"]`);

  // Builds the tiles and cards once: KPI tiles before the quarantine tile, the other
  // charts in the grid before the pipeline's own cards, in declaration order.
  function buildDashboard(d) {
    // The title when it says more than the pipeline's name beside it.
    $("dashboard-title").textContent = d.title && d.title !== d.pipeline ? d.title : "";
    const kpis = $("kpis");
    const quarantine = kpis.querySelector('[data-testid="kpi-quarantine"]');
    const dagCard = document.querySelector('[data-testid="card-pipeline-dag"]');
    let tiles = 1;
    for (const c of d.charts) {
      if (c.type === "kpi") {
        const el = document.createElement("div");
        el.className = "kpi";
        el.dataset.chart = c.id;
        el.dataset.type = c.type;
        el.dataset.testid = `chart-${c.id}`;
        el.innerHTML = `<div class="kpi-label">${escapeHtml(c.title)}</div>
          <div class="kpi-value" data-role="value">–</div>
          <div class="kpi-note" data-role="note">${escapeHtml(c.note ? "–" : chartHint(c))}</div>`;
        kpis.insertBefore(el, quarantine);
        tiles++;
        continue;
      }
      const card = document.createElement("article");
      card.className = `card span-${c.width || 6}`;
      card.dataset.chart = c.id;
      card.dataset.type = c.type;
      card.dataset.testid = `chart-${c.id}`;
      const body = c.type === "table"
        ? `<div class="table-wrap chart-table"><table class="tables" data-role="table"><thead><tr>${
            c.shown_columns.map((col) => `<th class="${isNumericType(columnType(c, col)) ? "num" : ""}">${escapeHtml(col)}</th>`).join("")
          }</tr></thead><tbody><tr><td class="muted" colspan="${c.shown_columns.length}">Loading…</td></tr></tbody></table></div>`
        : `<div class="chart" id="chart-${escapeHtml(c.id)}" data-role="chart"></div>`;
      card.innerHTML = `<header><h2>${escapeHtml(c.title)}</h2><span class="hint" data-role="hint">${escapeHtml(chartHint(c))}</span></header>${body}`;
      dagCard.parentNode.insertBefore(card, dagCard);
      if (c.type !== "table") draw(`chart-${c.id}`, {}, "Loading…");
      if (c.refresh_seconds > 0) setInterval(() => { chartKeys[c.id] = null; refreshCharts(); }, c.refresh_seconds * 1000);
    }
    // Six tiles a row as before; fewer tiles keep at least a quarter of the width each.
    kpis.style.setProperty("--kpi-count", String(Math.max(4, Math.min(6, tiles))));
    kpis.dataset.tiles = String(tiles);
  }

  async function loadDashboard() {
    if (dashboard) return true;
    const d = await api("/api/dashboard");
    if (!d || !Array.isArray(d.charts) || dashboard) return !!dashboard;
    dashboard = d;
    buildDashboard(d);
    return true;
  }

  // Re-reads the charts whose tables have a new version (all written: a chart over a
  // table the pipeline has not written yet waits for it).
  async function refreshCharts() {
    if (!dashboard) return;
    const jobs = [];
    for (const c of dashboard.charts) {
      const tables = (c.tables || []).map((t) => tableInfo[t]);
      if (tables.some((t) => !t || !t.exists)) {
        const missing = (c.tables || []).filter((t) => !tableInfo[t] || !tableInfo[t].exists);
        showWaiting(c, `Waiting for ${missing.join(", ")}`);
        continue;
      }
      const key = tables.map((t) => t.version).join(",");
      if (chartKeys[c.id] === key) continue;
      jobs.push(api(`/api/dashboard/charts/${encodeURIComponent(c.id)}`).then((body) => {
        if (!body || !Array.isArray(body.rows)) return;
        renderChart(c, body);
        chartKeys[c.id] = key;
      }));
    }
    await Promise.all(jobs);
  }

  function showWaiting(c, text) {
    const card = cardOf(c.id);
    if (!card || card.dataset.drawn) return;
    if (c.type === "kpi") card.querySelector('[data-role="note"]').textContent = text;
    else if (c.type === "table") card.querySelector("tbody").innerHTML = `<tr><td class="muted" colspan="${c.shown_columns.length}">${escapeHtml(text)}</td></tr>`;
    else draw(`chart-${c.id}`, {}, text);
  }

  function renderChart(c, body) {
    const card = cardOf(c.id);
    if (!card) return;
    card.dataset.drawn = "true";
    card.dataset.rows = String(body.rows.length);
    card.dataset.totalRows = String(body.total_rows);
    const hint = card.querySelector('[data-role="hint"]');
    if (hint) hint.textContent = chartHint(c, body);
    if (c.type === "kpi") renderKpi(c, body, card);
    else if (c.type === "bar") renderBar(c, body);
    else if (c.type === "line") renderLine(c, body);
    else renderTable(c, body, card);
  }

  function renderKpi(c, body, card) {
    const row = body.rows[0] || null;
    const v = row ? row[c.value] : null;
    const el = card.querySelector('[data-role="value"]');
    el.textContent = formatAs(c.format, v);
    el.dataset.value = v === null || v === undefined ? "" : String(v);
    card.querySelector('[data-role="note"]').textContent = c.note ? (row ? fillNote(c.note, row) : "–") : chartHint(c);
  }

  // Tooltip lines: the x value, each series, then the extra tooltip columns.
  function tooltipHtml(c, row, total) {
    let html = `<b>${escapeHtml(formatAs("text", row[c.x]))}</b>`;
    for (const s of c.y) {
      const share = c.share && total > 0 ? ` (${fmtPct.format(num(row[s.column]) / total)})` : "";
      html += `<br>${escapeHtml(s.title)} ${escapeHtml(formatAs(s.format, row[s.column]))}${share}`;
    }
    for (const col of c.tooltip || []) {
      html += `<br>${escapeHtml(col)} ${escapeHtml(formatAs(isNumericType(columnType(c, col)) ? "number" : "text", row[col]))}`;
    }
    return html;
  }

  function renderBar(c, body) {
    const first = c.y[0].column;
    const rows = body.rows.filter((r) => r[c.x] !== null && r[c.x] !== undefined);
    // Shares are of the first series' total over every row of the query (not only the
    // `limit` drawn): the server sums it.
    const total = body.totals && Number.isFinite(num(body.totals[first])) ? num(body.totals[first])
      : rows.reduce((s, r) => s + (Number.isFinite(num(r[first])) ? num(r[first]) : 0), 0);
    // Horizontal bars list the first row on top: echarts draws category 0 at the bottom.
    const shown = c.horizontal ? [...rows].reverse() : rows;
    const color = colorOf(c.color);
    const categories = shown.map((r) => formatAs("text", r[c.x]));
    const label = (s) => ({ show: true, position: c.horizontal ? "right" : "top", color: C.muted, fontSize: 11,
      formatter: (p) => `${compact(p.value)}${c.share && s.column === first ? ` · ${fmtPct.format(total > 0 ? p.value / total : 0)}` : ""}` });
    const series = c.y.map((s, i) => ({
      name: s.title, type: "bar", barMaxWidth: c.horizontal ? 16 : 28,
      data: shown.map((r, j) => {
        const value = num(r[s.column]);
        if (!c.highlight_first || i > 0) return Number.isFinite(value) ? value : null;
        const isFirst = c.horizontal ? j === shown.length - 1 : j === 0;
        return { value: Number.isFinite(value) ? value : null, itemStyle: { color: isFirst ? C.accent : color + "99" } };
      }),
      itemStyle: { color: i === 0 ? color : PALETTE[i % PALETTE.length], borderRadius: c.horizontal ? [0, 4, 4, 0] : [4, 4, 0, 0] },
      label: c.y.length === 1 ? label(s) : { show: false },
    }));
    const valueAxis = { type: "value", ...axisCommon, axisLabel: { ...axisCommon.axisLabel, formatter: compact } };
    const categoryAxis = { type: "category", data: categories, ...axisCommon,
      axisLabel: { ...axisCommon.axisLabel, color: C.text, width: c.horizontal ? 150 : 90, overflow: "truncate" } };
    draw(`chart-${c.id}`, {
      grid: { left: 8, right: c.horizontal ? (c.share ? 92 : 56) : 16, top: c.y.length > 1 ? 30 : 8, bottom: 8, containLabel: true },
      legend: c.y.length > 1 ? { ...legendCommon, data: c.y.map((s) => s.title) } : undefined,
      tooltip: { ...tooltipCommon, trigger: "axis", axisPointer: { type: "shadow" },
        formatter: (ps) => tooltipHtml(c, shown[ps[0].dataIndex], total) },
      xAxis: c.horizontal ? valueAxis : categoryAxis,
      yAxis: c.horizontal ? categoryAxis : valueAxis,
      series,
    }, rows.length ? null : "No rows yet");
  }

  function renderLine(c, body) {
    const xType = columnType(c, c.x);
    const axisKind = /^(date|timestamp)/.test(xType) ? "time" : isNumericType(xType) ? "value" : "category";
    let rows = body.rows.filter((r) => r[c.x] !== null && r[c.x] !== undefined);
    if (axisKind === "time") rows = [...rows].sort((a, b) => String(a[c.x]) < String(b[c.x]) ? -1 : String(a[c.x]) > String(b[c.x]) ? 1 : 0);
    const xs = rows.map((r) => axisKind === "value" ? num(r[c.x]) : String(r[c.x]));
    const point = (i, v) => axisKind === "category" ? v : [xs[i], v];
    const color = colorOf(c.color);
    const series = c.y.map((s, i) => {
      const col = i === 0 ? color : PALETTE[(i + 1) % PALETTE.length];
      return {
        name: s.title, type: "line", showSymbol: rows.length < 3, symbolSize: 5,
        data: rows.map((r, j) => point(j, Number.isFinite(num(r[s.column])) ? num(r[s.column]) : null)),
        lineStyle: { width: i === 0 ? 1 : 2, color: col }, itemStyle: { color: col },
        areaStyle: i === 0 ? { color: new echarts.graphic.LinearGradient(0, 0, 0, 1,
          [{ offset: 0, color: col + "55" }, { offset: 1, color: col + "05" }]) } : undefined,
      };
    });
    let average = null;
    if (c.moving_average) {
      // A trailing mean of the first series over `window` points.
      const w = c.moving_average.window;
      const values = rows.map((r) => num(r[c.y[0].column]));
      average = values.map((_, i) => {
        const part = values.slice(Math.max(0, i - w + 1), i + 1).filter(Number.isFinite);
        return part.length ? +(part.reduce((a, b) => a + b, 0) / part.length).toFixed(2) : null;
      });
      series.push({ name: c.moving_average.title, type: "line", showSymbol: false, smooth: true,
        data: average.map((v, j) => point(j, v)), lineStyle: { width: 2, color: C.warn }, itemStyle: { color: C.warn } });
    }
    const zoom = rows.length > 30;
    draw(`chart-${c.id}`, {
      grid: { left: 8, right: 16, top: 30, bottom: zoom ? 44 : 8, containLabel: true },
      legend: { ...legendCommon, data: series.map((s) => s.name) },
      tooltip: { ...tooltipCommon, trigger: "axis",
        formatter: (ps) => {
          const i = ps[0].dataIndex;
          let html = tooltipHtml(c, rows[i], 0);
          if (average) html += `<br>${escapeHtml(c.moving_average.title)} ${escapeHtml(formatAs(c.y[0].format, average[i]))}`;
          return html;
        } },
      dataZoom: zoom ? [{ type: "inside" }, { type: "slider", height: 18, bottom: 6, borderColor: C.border,
                   textStyle: { color: C.muted }, fillerColor: C.accent + "22",
                   handleStyle: { color: C.panel, borderColor: C.muted }, moveHandleStyle: { color: C.muted + "66" },
                   dataBackground: { lineStyle: { color: C.muted }, areaStyle: { color: C.muted + "33" } } }] : [],
      xAxis: { type: axisKind, ...axisCommon, splitLine: { show: false }, ...(axisKind === "category" ? { data: xs } : {}) },
      yAxis: { type: "value", ...axisCommon, axisLabel: { ...axisCommon.axisLabel, formatter: compact } },
      series,
    }, rows.length ? null : "No rows yet");
  }

  function renderTable(c, body, card) {
    const cols = c.shown_columns;
    const numeric = cols.map((col) => isNumericType(columnType(c, col)));
    card.querySelector("tbody").innerHTML = body.rows.length
      ? body.rows.map((r) => `<tr>${cols.map((col, i) =>
          `<td class="${numeric[i] ? "num" : ""}">${escapeHtml(formatAs(numeric[i] ? "number" : "text", r[col]))}</td>`).join("")}</tr>`).join("")
      : `<tr><td class="muted" colspan="${cols.length}">No rows yet</td></tr>`;
  }

  // Re-reads the table list (versions, row counts), then the charts whose tables changed.
  async function refreshTables() {
    const [body] = await Promise.all([api("/api/tables"), loadDashboard()]);
    if (!body || !Array.isArray(body.tables)) return;
    for (const t of body.tables) tableInfo[t.name] = t;
    await refreshCharts();
    renderTableList();
  }

  // ---------------------------------------------------------------- live status
  let pipeline = null;          // the last /api/pipeline payload
  const history = [];           // {t, rate: {layer: rows/s}, p50: {layer}, p95: {layer}}

  function applyPipeline(p) {
    if (!p || !Array.isArray(p.nodes)) return;
    pipeline = p;
    $("pipeline-name").textContent = p.pipeline || "pipeline";
    document.title = `lakepipe · ${p.pipeline || "dashboard"}`;
    $("pipeline-mode").textContent = p.mode || "–";
    $("pipeline-mode").dataset.mode = p.mode || "";
    $("updated-at").textContent = `updated ${clock(Date.now())}`;
    sample(p);
    renderDag(p);
    renderThroughput();
    renderLatency();
    renderTableList();
  }

  // One sample per second at most: per layer, the summed rows/s and the slowest table's
  // latency quantiles.
  function sample(p) {
    const now = Date.now();
    const s = { t: now, rate: {}, p50: {}, p95: {} };
    for (const n of p.nodes) {
      if (n.kind === "view") continue;
      const layer = layerOf(n.name);
      s.rate[layer] = (s.rate[layer] || 0) + (num(n.rows_out_per_second) || 0);
      const lat = n.end_to_end_latency_seconds;
      if (lat && lat.count > 0) {
        s.p50[layer] = Math.max(s.p50[layer] || 0, num(lat.p50) || 0);
        s.p95[layer] = Math.max(s.p95[layer] || 0, num(lat.p95) || 0);
      }
    }
    const last = history[history.length - 1];
    if (last && now - last.t < 1000) history[history.length - 1] = s; else history.push(s);
    while (history.length && now - history[0].t > HISTORY_MS) history.shift();
  }

  const LAYERS = ["bronze", "silver", "gold", "other"];
  // The live charts' x axis: the last minute at least, up to HISTORY_MS.
  function liveTimeAxis() {
    const now = history.length ? history[history.length - 1].t : Date.now();
    const first = history.length ? history[0].t : now;
    return { type: "time", min: Math.min(first, now - 60000), max: now, ...axisCommon, splitLine: { show: false },
             axisLabel: { ...axisCommon.axisLabel, hideOverlap: true, formatter: (v) => clock(v) } };
  }
  const notRunning = () => pipeline && pipeline.mode === "not running";
  function renderThroughput() {
    const layers = LAYERS.filter((l) => history.some((s) => l in s.rate));
    const lastRates = history.length ? history[history.length - 1].rate : {};
    draw("chart-throughput", {
      grid: { left: 8, right: 44, top: 30, bottom: 8, containLabel: true },
      legend: { ...legendCommon, data: layers.map(cap) },
      tooltip: { ...tooltipCommon, trigger: "axis", valueFormatter: (v) => `${compact(v)} rows/s` },
      xAxis: liveTimeAxis(),
      yAxis: { type: "value", ...axisCommon, axisLabel: { ...axisCommon.axisLabel, formatter: compact } },
      series: layers.map((l) => ({
        name: cap(l), type: "line", showSymbol: history.length < 4, symbolSize: 5, smooth: true,
        data: history.map((s) => [s.t, +(s.rate[l] || 0).toFixed(1)]),
        lineStyle: { width: 2, color: LAYER_COLOR[l] }, itemStyle: { color: LAYER_COLOR[l] },
      })),
    }, notRunning() ? "Rates are measured while the pipeline runs (lakepipe run)"
      : history.length ? null : "Waiting for the pipeline…");
    const totalRate = Object.values(lastRates).reduce((a, b) => a + b, 0);
    $("chart-throughput").dataset.rowsPerSecond = totalRate.toFixed(1);
    $("throughput-hint").textContent = `rows/s written per layer · now ${compact(totalRate)}`;
  }

  function renderLatency() {
    const layers = LAYERS.filter((l) => history.some((s) => l in s.p95));
    const last = history.length ? history[history.length - 1] : { p50: {}, p95: {} };
    const series = [];
    for (const l of layers) {
      series.push({ name: `${cap(l)} p95`, type: "line", showSymbol: history.length < 4, symbolSize: 5, smooth: true,
        data: history.filter((s) => l in s.p95).map((s) => [s.t, s.p95[l]]),
        lineStyle: { width: 2, color: LAYER_COLOR[l] }, itemStyle: { color: LAYER_COLOR[l] } });
      series.push({ name: `${cap(l)} p50`, type: "line", showSymbol: history.length < 4, symbolSize: 4, smooth: true,
        data: history.filter((s) => l in s.p50).map((s) => [s.t, s.p50[l]]),
        lineStyle: { width: 1, type: "dashed", color: LAYER_COLOR[l] }, itemStyle: { color: LAYER_COLOR[l] } });
    }
    // The end of the pipeline: the deepest layer with observations.
    const endLayer = [...layers].reverse().find((l) => l in last.p95);
    $("chart-latency").dataset.p95Seconds = endLayer ? String(last.p95[endLayer]) : "";
    draw("chart-latency", {
      grid: { left: 8, right: 12, top: 30, bottom: 8, containLabel: true },
      legend: { ...legendCommon, data: series.filter((s) => s.name.endsWith("p95")).map((s) => s.name) },
      tooltip: { ...tooltipCommon, trigger: "axis", valueFormatter: (v) => seconds(v) },
      xAxis: liveTimeAxis(),
      yAxis: { type: "value", ...axisCommon, axisLabel: { ...axisCommon.axisLabel, formatter: seconds } },
      series,
    }, layers.length ? null : notRunning()
      ? "Latency is measured while the pipeline runs (lakepipe run)" : "No latency observed yet");
  }

  // The DAG: file sources on the left, then tables by depth; colour = state, ring = layer.
  function renderDag(p) {
    const depth = {};
    const parents = {};
    for (const e of p.edges || []) (parents[e.to] ||= []).push(e.from);
    const depthOf = (id, seen = new Set()) => {
      if (id in depth) return depth[id];
      if (seen.has(id)) return 0;
      seen.add(id);
      const ps = parents[id] || [];
      return (depth[id] = ps.length ? 1 + Math.max(...ps.map((x) => depthOf(x, seen))) : 0);
    };
    const ids = [...(p.sources || []).map((s) => s.id), ...p.nodes.map((n) => n.name)];
    // Quarantine tables hang below the table they belong to.
    const quarantine = Object.values(tableInfo).filter((t) => t.kind === "quarantine" && t.exists);
    ids.forEach((id) => depthOf(id));
    const columns = {};
    for (const id of ids) (columns[depth[id]] ||= []).push(id);
    const maxDepth = Math.max(0, ...Object.keys(columns).map(Number));
    const pos = {};
    const narrow = $("chart-dag").clientWidth < 560;
    for (const [d, col] of Object.entries(columns)) {
      col.forEach((id, i) => { pos[id] = [Number(d) * 140, (i - (col.length - 1) / 2) * 64]; });
    }
    // Narrow screens: one table per row in dependency order, indented by stage.
    let row = 0;
    if (narrow) for (const id of ids) pos[id] = [depth[id] * 36, (row++) * 52];
    const byName = Object.fromEntries(p.nodes.map((n) => [n.name, n]));
    const hasChildren = new Set((p.edges || []).map((e) => e.from));
    const isLeaf = (id) => !hasChildren.has(id) && depth[id] > 0;
    const onPath = lineageTables();   // the selected column's path (column lineage), or null
    const nodes = ids.map((id) => {
      const n = byName[id];
      const faded = onPath && !onPath.has(id) ? 0.2 : 1;
      const isSource = !n;
      const src = isSource ? (p.sources || []).find((s) => s.id === id) : null;
      const state = isSource ? "source" : (tableInfo[id] && tableInfo[id].exists === false && n.state !== "running" ? "not written" : n.state);
      // A source is a landing folder, or another pipeline's table (pipeline.table).
      const external = !!(src && src.pipeline);
      const label = !isSource ? id : external ? id : `${(src && src.format) || "files"}: ${basename(src ? src.path : id)}`;
      return {
        id, name: label, x: pos[id][0], y: pos[id][1],
        symbol: external ? "rect" : isSource ? "roundRect" : "circle", symbolSize: isSource ? [26, 18] : 22,
        itemStyle: { color: STATE_COLOR[state] || C.idle, borderColor: isSource ? C.panel : LAYER_COLOR[layerOf(id)], borderWidth: 3, opacity: faded },
        label: { show: true, opacity: faded, position: narrow || isLeaf(id) ? "right" : "bottom", color: C.text, fontSize: 11, distance: 6,
                 formatter: isSource ? label : `{n|${id}}\n{s|${state}}\n{s|${compact(n.rows_out)} rows}`,
                 rich: { n: { color: C.text, fontSize: 11, lineHeight: 15 }, s: { color: C.muted, fontSize: 10, lineHeight: 13 } } },
        tooltipHtml: external ? `<b>${escapeHtml(label)}</b><br>table of pipeline ${escapeHtml(src.pipeline)}<br>${escapeHtml(src.path)}`
          : isSource ? `<b>${escapeHtml(label)}</b><br>${escapeHtml(src ? src.path : id)}`
          : `<b>${escapeHtml(id)}</b> · ${escapeHtml(n.kind)}<br>State: ${escapeHtml(state)}` +
            `<br>Version ${n.table_version >= 0 ? n.table_version : "–"} · ${int(n.batches)} batches` +
            `<br>Rows in ${int(n.rows_in)} · out ${int(n.rows_out)}` +
            (n.rows_quarantined ? ` · quarantined ${int(n.rows_quarantined)}` : "") +
            `<br>${compact(n.rows_out_per_second)} rows/s · backlog ${int(n.backlog_files)} files` +
            (n.last_error ? `<br><span style="color:${C.bad}">${escapeHtml(n.last_error)}</span>` : ""),
      };
    });
    const links = (p.edges || []).filter((e) => pos[e.from] && pos[e.to]).map((e) => {
      const lit = onPath && onPath.has(e.from) && onPath.has(e.to);
      return {
        source: e.from, target: e.to,
        lineStyle: { color: lit ? C.accent : C.muted, width: lit ? 2.4 : e.streaming ? 1.6 : 1.2, type: e.streaming ? "solid" : [4, 4],
                     curveness: 0.12, opacity: onPath && !lit ? 0.2 : 0.7 },
      };
    });
    for (const q of quarantine) {
      const owner = q.name.replace(/_quarantine$/, "");
      if (!pos[owner]) continue;
      const id = q.name;
      pos[id] = narrow ? [pos[owner][0] + 36, (row++) * 52] : [pos[owner][0], pos[owner][1] + 80];
      nodes.push({ id, name: id, x: pos[id][0], y: pos[id][1], symbol: "diamond", symbolSize: 16,
        itemStyle: { color: C.warn },
        label: { show: true, position: "bottom", color: C.muted, fontSize: 10, lineHeight: 14, formatter: `${id}\n${int(q.rows)} rows` },
        tooltipHtml: `<b>${escapeHtml(id)}</b><br>${int(q.rows)} quarantined rows` });
      links.push({ source: owner, target: id, lineStyle: { color: C.warn, type: [2, 3], opacity: 0.7, curveness: 0 } });
    }
    $("dag-hint").textContent = `${p.nodes.length} tables · ${maxDepth + 1} stages · ${p.mode || ""}`;
    draw("chart-dag", {
      tooltip: { ...tooltipCommon, formatter: (x) => x.dataType === "node" ? x.data.tooltipHtml : "" },
      series: [{
        type: "graph", layout: "none", roam: true, data: nodes, links, preserveAspect: true, preserveAspectAlign: narrow ? "left" : "center",
        edgeSymbol: ["none", "arrow"], edgeSymbolSize: 7,
        ...(narrow ? { left: 20, right: 170, top: 16, bottom: 44 } : { left: 60, right: 190, top: 30, bottom: 50 }),
        emphasis: { focus: "adjacency", lineStyle: { width: 2 } },
      }],
    }, nodes.length ? null : "No tables");
    $("chart-dag").dataset.nodes = String(nodes.length);
    $("chart-dag").dataset.lineage = onPath ? [...onPath].filter((id) => pos[id]).sort().join(",") : "";
    const legendStates = [["running", "running"], ["waiting for trigger", "waiting / idle"], ["failed", "failed"],
                          ["not running", "not running"], ["source", "file source"]];
    $("dag-legend").innerHTML = legendStates.map(([s, label]) => `<span><i style="background:${STATE_COLOR[s]}"></i>${label}</span>`).join("") +
      `<span><i style="background:${C.warn};border-radius:2px;transform:rotate(45deg)"></i>quarantine</span>` +
      `<span>ring = layer (bronze · silver · gold) · dashed = batch read</span>`;
  }

  const KIND_SHORT = { "streaming table": "streaming", "materialized view": "mat. view" };
  const fmtBytes = (b) => b < 1024 ? `${int(b)} B` : b < 1048576 ? `${compact(b / 1024)} KiB` : `${compact(b / 1048576)} MiB`;
  // Files waiting in a landing folder, or a replication source's lag: the server's log
  // bytes past the confirmed position and the age of the last change applied.
  function backlog(n) {
    if (num(n.replication_lag_bytes) >= 0) {
      const secs = num(n.replication_lag_seconds) >= 0 ? ` · ${compact(n.replication_lag_seconds)} s` : "";
      return `<span data-testid="replication-lag" data-bytes="${num(n.replication_lag_bytes)}" ` +
             `title="replication lag: WAL bytes past the confirmed position · seconds">${fmtBytes(num(n.replication_lag_bytes))}${secs}</span>`;
    }
    return n.backlog_files ? `${int(n.backlog_files)} file${n.backlog_files === 1 ? "" : "s"}` : "–";
  }
  // How far the table is behind its inputs and its SLA (docs/sla.md); red while breached.
  function freshness(n) {
    const f = n.freshness;
    if (!f) return "–";
    const lag = num(f.lag_seconds) > 0 ? seconds(num(f.lag_seconds)) : "0";
    const sla = f.sla ? ` / ${seconds(num(f.sla.max_lag_seconds))}` : "";
    const title = f.pending ? `pending: ${f.pending}` : "nothing pending";
    return `<span data-testid="freshness" data-breached="${f.breached ? "true" : "false"}" data-lag-seconds="${num(f.lag_seconds)}"` +
           `${f.breached ? ` style="color:${C.bad};font-weight:600"` : ""} title="${escapeHtml(title)}">${lag}${sla}${f.breached ? " · breached" : ""}</span>`;
  }
  function renderTableList() {
    if (!pipeline) return;
    const rows = pipeline.nodes.map((n) => {
      const info = tableInfo[n.name] || {};
      const stateLabel = info.exists === false && n.state !== "running" ? `${n.state} · not written` : n.state;
      return `<tr data-table="${escapeHtml(n.name)}" title="${escapeHtml(n.kind)}">
        <td><span class="layer" style="color:${LAYER_COLOR[layerOf(n.name)]}">●</span> ${escapeHtml(n.name)}
            <span class="muted kind">${escapeHtml(KIND_SHORT[n.kind] || n.kind)}</span></td>
        <td><span class="state" data-state="${escapeHtml(n.state)}"><i></i>${escapeHtml(stateLabel)}</span></td>
        <td class="num">${n.table_version >= 0 ? n.table_version : (info.version >= 0 ? info.version : "–")}</td>
        <td class="num">${int(n.rows_out)}</td>
        <td class="num">${compact(n.rows_out_per_second)}</td>
        <td class="num">${n.rows_quarantined ? int(n.rows_quarantined) : "–"}</td>
        <td class="num">${backlog(n)}</td>
        <td class="num">${freshness(n)}</td>
        <td class="muted">${ago(n.last_update_unix_ms > 0 ? n.last_update_unix_ms : info.last_commit_unix_ms)}</td>
      </tr>`;
    });
    $("tables").tBodies[0].innerHTML = rows.join("");
    renderPublications();
  }

  function renderPublications() {
    const pubs = (pipeline && pipeline.publications) || [];
    $("card-publish").hidden = pubs.length === 0;
    if (pubs.length === 0) return;
    $("publications").tBodies[0].innerHTML = pubs.map((p) => {
      const state = p.state === "up to date" ? "idle" : p.state === "behind" ? "running" : "failed";
      const lag = p.lag_versions > 0 ? `${int(p.lag_versions)} v · ${compact(p.lag_seconds)} s` : "–";
      const p99 = p.latency_seconds && p.latency_seconds.count > 0 ? num(p.latency_seconds.p99) : NaN;
      return `<tr data-publication="${escapeHtml(p.table)}">
        <td>${escapeHtml(p.table)}</td><td class="muted">${escapeHtml(p.target)}</td>
        <td><span class="state" data-state="${state}"><i></i>${escapeHtml(p.state)}</span></td>
        <td class="num">${p.published_version >= 0 ? p.published_version : "–"}</td>
        <td class="num">${p.latest_version >= 0 ? p.latest_version : "–"}</td>
        <td class="num" data-testid="publish-lag">${lag}</td>
        <td class="num">${Number.isFinite(p99) ? `${Math.round(p99 * 1000)} ms` : "–"}</td>
        <td class="num">${int(p.publications)}</td>
        <td class="muted">${p.last_error ? escapeHtml(p.last_error) : ""}</td>
      </tr>`;
    }).join("");
  }

  async function refreshExpectations() {
    const body = await api("/api/expectations");
    if (!body || !Array.isArray(body.tables)) return;
    const items = [];
    let quarantined = 0;
    for (const t of body.tables) {
      quarantined += num(t.quarantined_rows) || 0;
      for (const e of t.expectations || []) {
        const total = num(e.passed) + num(e.failed);
        items.push({ label: e.name, table: t.table, action: e.action, passed: num(e.passed), failed: num(e.failed),
                     rate: e.pass_rate === null || e.pass_rate === undefined ? (total > 0 ? num(e.passed) / total : NaN) : num(e.pass_rate) });
      }
    }
    $("kpi-quarantine").textContent = int(quarantined);
    $("kpi-quarantine").dataset.value = String(quarantined);
    // Expectation names are per table: qualify the ones that occur in several tables.
    const seen = {};
    for (const i of items) seen[i.label] = (seen[i.label] || 0) + 1;
    for (const i of items) if (seen[i.label] > 1) i.label = `${i.table}.${i.label}`;
    const shown = items.filter((i) => Number.isFinite(i.rate)).reverse();
    const minRate = shown.length ? Math.min(...shown.map((i) => i.rate)) : 1;
    // Pass rates are usually above 99 %: start the axis near the lowest one so that the
    // differences are visible (the labels carry the exact value).
    const axisMin = Math.max(0, Math.floor((minRate - 0.02) * 50) / 50);
    $("expectations-hint").textContent = `pass rate · ${int(quarantined)} rows quarantined`;
    draw("chart-expectations", {
      grid: { left: 8, right: 70, top: 8, bottom: 8, containLabel: true },
      tooltip: { ...tooltipCommon, trigger: "axis", axisPointer: { type: "shadow" },
        formatter: (ps) => {
          const i = shown[ps[0].dataIndex];
          return `<b>${escapeHtml(i.label)}</b> · ${escapeHtml(i.table)}<br>On violation: ${escapeHtml(i.action)}` +
                 `<br>Passed ${int(i.passed)} · Failed ${int(i.failed)}<br>Pass rate ${fmtPct.format(i.rate)}`;
        } },
      xAxis: { type: "value", min: axisMin, max: 1, ...axisCommon,
               axisLabel: { ...axisCommon.axisLabel, formatter: (v) => `${Math.round(v * 1000) / 10}%` } },
      yAxis: { type: "category", data: shown.map((i) => i.label), ...axisCommon,
               axisLabel: { ...axisCommon.axisLabel, color: C.text, width: 120, overflow: "truncate" } },
      series: [{ type: "bar", barMaxWidth: 14,
        data: shown.map((i) => ({ value: i.rate, itemStyle: { color: i.failed === 0 ? C.ok : i.action === "warn" ? C.muted : C.warn } })),
        itemStyle: { borderRadius: [0, 4, 4, 0] },
        label: { show: true, position: "right", color: C.muted, fontSize: 11, formatter: (p) => fmtPct.format(p.value) } }],
    }, shown.length ? null : "No rows checked yet");
  }

  async function refreshEvents() {
    const body = await api("/api/events?limit=40");
    if (!body || !Array.isArray(body.events)) return;
    const list = $("events");
    list.innerHTML = body.events.length
      ? body.events.map((e) => `<li data-level="${escapeHtml(e.level || "")}" data-type="${escapeHtml(e.event_type || "")}">
          <time>${e.timestamp_unix_ms ? clock(e.timestamp_unix_ms) : ""}</time>
          <span class="msg" title="${escapeHtml(e.message || "")}">${e.table ? `<b>${escapeHtml(e.table)}</b> ` : ""}${escapeHtml(e.message || e.event_type || "")}</span></li>`).join("")
      : `<li><span class="empty">No events yet</span></li>`;
  }

  function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }
  function basename(p) { return String(p).replace(/\/+$/, "").split("/").pop() || p; }

  // ---------------------------------------------------------------- column lineage
  // GET /api/lineage (docs/governance.md): every column the caller may see, with its direct
  // sources. A box per table (file and message sources first), a button per column;
  // clicking one asks /api/lineage?column=t.c for its path back to where the data enters
  // the pipeline and highlights it here and in the DAG. What the caller may not see is
  // never sent: the page shows how many sources or steps were left out.
  let lineage = null;           // the /api/lineage payload
  let lineagePath = null;       // {column: {table, column}, edges, hidden_edges} of the selection
  const refKey = (r) => JSON.stringify([r.table, r.column]);
  const isExternal = (table) => /^[a-z]+:/.test(table);   // files:..., kafka:...

  async function loadLineage() {
    if (lineage) return;
    const body = await api("/api/lineage");
    if (!body || !Array.isArray(body.columns)) return;
    lineage = body;
    renderLineage();
  }

  function renderLineage() {
    if (!lineage) return;
    const tables = new Map();   // table -> [{column, hidden}] in the order given
    const add = (table, column, hidden) => {
      if (!tables.has(table)) tables.set(table, []);
      const cols = tables.get(table);
      if (!cols.some((c) => c.column === column)) cols.push({ column, hidden });
    };
    // Sources outside the pipeline first (they have no columns entry of their own).
    for (const c of lineage.columns) for (const s of c.sources) if (isExternal(s.table)) add(s.table, s.column, 0);
    for (const c of lineage.columns) add(c.table, c.column, c.hidden_sources);
    const on = new Set();
    const onTables = new Set();
    if (lineagePath) {
      on.add(refKey(lineagePath.column));
      onTables.add(lineagePath.column.table);
      for (const e of lineagePath.edges) {
        on.add(refKey(e.from)); on.add(refKey(e.to));
        onTables.add(e.from.table); onTables.add(e.to.table);
      }
    }
    const selected = lineagePath ? refKey(lineagePath.column) : null;
    $("lineage").innerHTML = [...tables].map(([table, cols]) => {
      const external = isExternal(table);
      const label = external ? `${table.split(":")[0]}: ${basename(table.slice(table.indexOf(":") + 1))}` : table;
      const dim = lineagePath && !onTables.has(table) ? " dim" : "";
      return `<div class="lineage-table${external ? " source" : ""}${dim}" data-testid="lineage-table" data-table="${escapeHtml(table)}">` +
        `<h3 title="${escapeHtml(table)}">${escapeHtml(label)}</h3>` +
        cols.map((c) => {
          const key = refKey({ table, column: c.column });
          const cls = (on.has(key) ? " on" : "") + (key === selected ? " selected" : "");
          const hint = c.hidden ? ` title="${c.hidden} source${c.hidden === 1 ? "" : "s"} in tables you cannot see"` : "";
          return `<button type="button" class="lineage-col${cls}" data-testid="lineage-column" data-table="${escapeHtml(table)}" ` +
                 `data-column="${escapeHtml(c.column)}" data-highlighted="${on.has(key)}"${external ? " disabled" : ""}${hint}>` +
                 `${escapeHtml(c.column === "*" ? "(rows)" : c.column)}</button>`;
        }).join("") + `</div>`;
    }).join("") || `<span class="empty muted">No columns you may see</span>`;
    const name = (r) => `${r.table}.${r.column === "*" ? "(rows)" : r.column}`;
    const items = lineagePath ? lineagePath.edges.map((e) =>
      `<li data-testid="lineage-edge" data-from-table="${escapeHtml(e.from.table)}" data-from-column="${escapeHtml(e.from.column)}" ` +
      `data-to-table="${escapeHtml(e.to.table)}" data-to-column="${escapeHtml(e.to.column)}">` +
      `${escapeHtml(name(e.to))} ← ${escapeHtml(name(e.from))}</li>`) : [];
    if (lineagePath && lineagePath.hidden_edges > 0) {
      items.push(`<li class="muted" data-testid="lineage-hidden" data-count="${lineagePath.hidden_edges}">` +
                 `${lineagePath.hidden_edges} more step${lineagePath.hidden_edges === 1 ? "" : "s"} through tables you cannot see</li>`);
    }
    $("lineage-path").innerHTML = items.join("");
    $("lineage-clear").hidden = !lineagePath;
    $("lineage-hint").textContent = lineagePath
      ? `${name(lineagePath.column)}: ${lineagePath.edges.length} step${lineagePath.edges.length === 1 ? "" : "s"} back to its sources`
      : "click a column to see where its values come from";
  }

  async function selectLineageColumn(table, column) {
    const body = await api(`/api/lineage?column=${encodeURIComponent(table + "." + column)}`);
    if (!body || !Array.isArray(body.edges)) return;
    lineagePath = { column: { table, column }, edges: body.edges, hidden_edges: body.hidden_edges || 0 };
    renderLineage();
    if (pipeline) renderDag(pipeline);
  }
  function clearLineage() {
    lineagePath = null;
    renderLineage();
    if (pipeline) renderDag(pipeline);
  }
  // The tables (and sources) on the selected path, for the DAG; null when none is selected.
  function lineageTables() {
    if (!lineagePath) return null;
    const set = new Set([lineagePath.column.table]);
    for (const e of lineagePath.edges) { set.add(e.from.table); set.add(e.to.table); }
    return set;
  }
  $("lineage").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.lineage-col");
    if (b && !b.disabled) selectLineageColumn(b.dataset.table, b.dataset.column);
  });
  $("lineage-clear").addEventListener("click", clearLineage);
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && lineagePath) clearLineage(); });

  // ---------------------------------------------------------------- refresh loop
  // Everything but /api/pipeline is refreshed at most once per second, after a change.
  let slowBusy = false, slowAgain = false, lastGeneration = null;
  async function refreshSlow() {
    if (slowBusy) { slowAgain = true; return; }
    slowBusy = true;
    try {
      await Promise.all([refreshTables(), refreshExpectations(), refreshEvents(), loadLineage()]);
      if (pipeline) renderDag(pipeline);
    } finally {
      slowBusy = false;
      if (slowAgain) { slowAgain = false; setTimeout(refreshSlow, 1000); }
    }
  }
  let lastPipelineAt = 0;
  function onPipeline(p) {
    lastPipelineAt = Date.now();
    const changed = p.generation !== lastGeneration;
    lastGeneration = p.generation;
    applyPipeline(p);
    if (changed) refreshSlow();
  }
  async function poll() {
    const p = await api("/api/pipeline");
    if (p) onPipeline(p);
  }

  function setLive(state, label) {
    const el = $("live");
    el.dataset.state = state;
    el.querySelector(".label").textContent = label;
  }

  let pollTimer = null;
  function startPolling() {
    if (pollTimer) return;
    setLive("polling", "polling");
    pollTimer = setInterval(poll, POLL_MS);
  }
  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    if (!window.EventSource) { startPolling(); return; }
    const es = new EventSource(withToken("/api/stream"));
    let failuresInRow = 0;
    es.addEventListener("open", () => { failuresInRow = 0; stopPolling(); setLive("live", "live"); });
    es.addEventListener("pipeline", (e) => {
      try { onPipeline(JSON.parse(e.data)); } catch (_) { /* a partial payload: the next one follows */ }
    });
    es.addEventListener("error", () => {
      // EventSource reconnects by itself; poll meanwhile, and for good after repeated
      // failures (e.g. a proxy that does not pass the stream).
      failuresInRow++;
      startPolling();
      if (failuresInRow >= 5 || es.readyState === EventSource.CLOSED) es.close();
    });
  }

  // The page-level ticker: relative times and a slow safety refresh.
  setInterval(() => { renderTableList(); }, 5000);
  setInterval(() => { poll().then(refreshSlow); }, SAFETY_POLL_MS);
  // The stream is quiet while nothing changes, but rates and latency are per minute and
  // keep moving: sample /api/pipeline when no event came for a while.
  setInterval(() => { if (!pollTimer && Date.now() - lastPipelineAt > SAMPLE_MS - 100) poll(); }, SAMPLE_MS);

  // First paint: placeholders, then data.
  for (const id of ["chart-dag", "chart-throughput", "chart-latency", "chart-expectations"]) {
    draw(id, {}, "Loading…");
  }
  poll().then(connect);
})();
