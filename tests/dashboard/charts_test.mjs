// Every chart a pipeline declares (docs/dashboard.md), in headless Chromium: the page must
// show, for each chart of GET /api/dashboard, exactly what GET /api/dashboard/charts/{id}
// gives — the KPI's value and note, each table cell, each bar's category and value, each
// line's points. Generic over the pipeline folder: an example is one line in
// src/web/CMakeLists.txt.
//
// 1. Feeds the pipeline: each --feed is a lakepipe command line (e.g. `generate orders
//    --rows 5000 --out {landing}/a.csv`); {work} and {landing} are replaced by a temporary
//    folder and its landing/ subfolder (created).
// 2. `lakepipe run DIR --once` with `--set storage={work}/storage` and every --set given
//    (e.g. `--set landing={landing}`), then `lakepipe serve DIR` on a free port. The folder
//    is used in place (its dashboard file may be shared with other examples).
// 3. Reads the API, reads the page (DOM text, and each echarts instance's option, which
//    is what the canvas shows), and compares them chart by chart. A chart with no rows
//    fails: the example's data must exercise every chart. Any page error, console error or
//    failed request fails. Keeps a screenshot: dashboard-charts-<name>.png.
//
// Usage: node tests/dashboard/charts_test.mjs --lakepipe build/lakepipe --example examples/orders
//          [--name orders] [--set key=value]... [--feed "lakepipe args"]... [--artifacts DIR] [--keep]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { freePort, harness, launchChromium, sleep, watchedPage } from "./harness.mjs";

const sourceRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const argv = process.argv.slice(2);
function arg(name, fallback) {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}
function args(name) {
  const out = [];
  for (let i = 0; i < argv.length - 1; i++) if (argv[i] === name) out.push(argv[i + 1]);
  return out;
}
const lakepipe = path.resolve(arg("--lakepipe", path.join(sourceRoot, "build", "lakepipe")));
const example = path.resolve(sourceRoot, arg("--example", "examples/orders"));
const name = arg("--name", path.basename(example));
const artifacts = path.resolve(arg("--artifacts", path.join(path.dirname(lakepipe), "test-artifacts")));
const keep = argv.includes("--keep");

const { log, fail, children, start, stop, waitFor } = harness(`charts ${name}`, lakepipe);
const work = fs.mkdtempSync(path.join(os.tmpdir(), `lakepipe-charts-${name}-`));
const landing = path.join(work, "landing");
const fill = (s) => s.replaceAll("{work}", work).replaceAll("{landing}", landing);
const sets = ["--set", `storage=${path.join(work, "storage")}`, ...args("--set").flatMap((s) => ["--set", fill(s)])];

function run(cmd) {
  try {
    return execFileSync(lakepipe, cmd, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    fail(`lakepipe ${cmd.join(" ")} failed (${e.status}): ${e.stderr || e.stdout}`);
  }
}

// ------------------------------------------------------------------ formats
// docs/dashboard.md's formats, written here independently of web/app.js.
function expectedText(format, v) {
  if (v === null || v === undefined || v === "") return "–";
  if (typeof v === "object") return JSON.stringify(v);
  if (format === "text" || typeof v === "boolean" || !Number.isFinite(Number(v))) return String(v);
  const n = Number(v);
  const f = {
    integer: { maximumFractionDigits: 0 },
    money: { minimumFractionDigits: 2, maximumFractionDigits: 2 },
    percent: { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 2 },
    compact: { notation: "compact", maximumFractionDigits: 1 },
  }[format] || { maximumFractionDigits: 2 };
  return new Intl.NumberFormat("en-US", f).format(n);
}
const numericType = (t) => /^(tinyint|smallint|int|bigint|float|double|decimal)/.test(t || "");
const typeOf = (chart, col) => (chart.columns.find((c) => c.name === col) || {}).type;
const valueOf = (v) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? null : Number(v));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// What the page must show for `chart` given the API's `body`; compared with what it shows.
function expected(chart, body) {
  const rows = body.rows;
  switch (chart.type) {
    case "kpi": {
      const row = rows[0] || null;
      const v = row ? row[chart.value] : null;
      const note = chart.note
        ? (row ? chart.note.replace(/\{([^}|]+)(?:\|([a-z]+))?\}/g, (_, col, f) => expectedText(f || "text", row[col])) : "–")
        : null;
      return { text: expectedText(chart.format, v), value: v === null || v === undefined ? "" : String(v), note };
    }
    case "table":
      return { cells: rows.map((r) => chart.shown_columns.map((c) =>
        expectedText(numericType(typeOf(chart, c)) ? "number" : "text", r[c]))) };
    case "bar": {
      const shown = rows.filter((r) => r[chart.x] !== null && r[chart.x] !== undefined);
      const ordered = chart.horizontal ? [...shown].reverse() : shown;
      return { categories: ordered.map((r) => String(r[chart.x])),
               series: chart.y.map((s) => ordered.map((r) => valueOf(r[s.column]))) };
    }
    case "line": {
      // Points as (x, y) pairs, order-free: the page may sort a time axis.
      const pts = (s) => rows.filter((r) => r[chart.x] !== null && r[chart.x] !== undefined)
        .map((r) => [String(numericType(typeOf(chart, chart.x)) ? Number(r[chart.x]) : r[chart.x]), valueOf(r[s.column])])
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      return { series: chart.y.map(pts) };
    }
  }
  return null;
}

// What the page shows for `chart` (evaluated in the page).
function shownOnPage(chart) {
  const card = document.querySelector(`[data-chart="${CSS.escape(chart.id)}"]`);
  if (!card) return { missing: true };
  const title = (card.querySelector(".kpi-label, h2") || {}).textContent?.trim();
  if (chart.type === "kpi") {
    const v = card.querySelector('[data-role="value"]');
    return { title, drawn: card.dataset.drawn === "true", text: v.textContent.trim(), value: v.dataset.value ?? "",
             note: card.querySelector('[data-role="note"]').textContent.trim() };
  }
  if (chart.type === "table") {
    return { title, drawn: card.dataset.drawn === "true",
             cells: [...card.querySelectorAll("tbody tr")].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent.trim())) };
  }
  const instance = window.echarts && echarts.getInstanceByDom(card.querySelector('[data-role="chart"]'));
  if (!instance) return { title, drawn: false };
  const o = instance.getOption();
  const plain = (d) => (d !== null && typeof d === "object" && !Array.isArray(d) ? d.value : d);
  const series = (o.series || []).filter((s) => s.type === chart.type);
  if (chart.type === "bar") {
    const axis = (chart.horizontal ? o.yAxis : o.xAxis)[0];
    return { title, drawn: card.dataset.drawn === "true", categories: (axis.data || []).map(String),
             series: series.map((s) => s.data.map((d) => { const v = plain(d); return v === null || v === undefined ? null : Number(v); })) };
  }
  // line: the declared series (a moving average comes after them)
  const categories = o.xAxis[0].data;
  return { title, drawn: card.dataset.drawn === "true",
           series: series.slice(0, chart.y.length).map((s) => s.data
             .map((d, i) => (Array.isArray(d) ? [String(d[0]), d[1] === null ? null : Number(d[1])] : [String(categories[i]), d === null ? null : Number(d)]))
             .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) };
}

async function main() {
  if (!fs.existsSync(lakepipe)) fail(`the lakepipe binary is missing: ${lakepipe}`);
  if (!fs.existsSync(path.join(example, "pipeline.yaml"))) fail(`${example}/pipeline.yaml is missing`);
  fs.mkdirSync(landing, { recursive: true });
  for (const feed of args("--feed")) {
    const cmd = fill(feed).split(/\s+/).filter(Boolean);
    run(cmd);
    log(`fed: lakepipe ${cmd.join(" ")}`);
  }
  run(["run", example, "--once", ...sets]);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serve = start(["serve", example, ...sets, "--port", String(port)], "lakepipe serve");
  await waitFor("lakepipe serve to answer /health", 30000, async () => {
    if (serve.exited) fail(`lakepipe serve exited (${JSON.stringify(serve.exited)}):\n${serve.output}`);
    const res = await fetch(base + "/health").catch(() => null);
    return res && res.ok;
  });
  const getJson = async (p) => {
    const res = await fetch(base + p);
    if (!res.ok) throw new Error(`${p}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };

  const dashboard = await getJson("/api/dashboard");
  if (!Array.isArray(dashboard.charts) || dashboard.charts.length === 0) fail("GET /api/dashboard has no charts");
  log(`${dashboard.charts.length} charts (${dashboard.declared ? "declared" : "default"}): ${dashboard.charts.map((c) => `${c.id}:${c.type}`).join(", ")}`);

  const problems = [];
  const browser = await launchChromium(fail);
  try {
    const page = await watchedPage(browser, problems);
    await page.goto(base + "/", { waitUntil: "load", timeout: 30000 });
    // The run is over, so the tables (and the API's rows) do not move while we compare.
    for (const chart of dashboard.charts) {
      const body = await getJson(`/api/dashboard/charts/${encodeURIComponent(chart.id)}`);
      if (body.rows.length === 0) fail(`chart ${chart.id} has no rows: the example's data must exercise every chart`);
      const want = expected(chart, body);
      let last = null;
      await waitFor(`chart ${chart.id} (${chart.type}) to show the API's rows`, 60000, async () => {
        last = await page.evaluate(shownOnPage, chart);
        if (last.missing || !last.drawn || last.title !== chart.title) return null;
        if (chart.type === "kpi") {
          return last.text === want.text && last.value === want.value && (want.note === null || last.note === want.note);
        }
        if (chart.type === "table") return same(last.cells, want.cells);
        if (chart.type === "bar") return same(last.categories, want.categories) && same(last.series, want.series);
        return same(last.series, want.series);
      }).catch((e) => fail(`${e.message}\n  API wants ${JSON.stringify(want).slice(0, 600)}\n  page shows ${JSON.stringify(last).slice(0, 600)}`));
      const summary = chart.type === "kpi" ? `${want.text}${want.note ? ` (${want.note})` : ""}` : `${body.rows.length} of ${body.total_rows} rows`;
      log(`${chart.id} (${chart.type}) on the page equals the API: ${summary}`);
    }
    await sleep(1500);
    fs.mkdirSync(artifacts, { recursive: true });
    const shot = path.join(artifacts, `dashboard-charts-${name}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    log(`screenshot: ${shot}`);
    if (problems.length) fail(`the page reported problems:\n  ${problems.join("\n  ")}`);
  } finally {
    await browser.close();
  }
  log("PASS");
}

try {
  await main();
} catch (e) {
  if (!process.exitCode) {
    console.error(`[charts ${name}] FAIL: ${e.stack || e.message}`);
    process.exitCode = 1;
  }
  for (const c of children) {
    if (c.output) console.error(`--- ${c.label} output (last 3000 chars) ---\n${c.output.slice(-3000)}`);
  }
} finally {
  for (const c of children) await stop(c);
  if (keep || process.exitCode) log(`work folder kept: ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
}
