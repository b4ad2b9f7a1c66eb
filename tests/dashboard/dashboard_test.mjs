// The dashboard in headless Chromium against a real pipeline and server.
//
// 1. Copies examples/orders into a temp folder and lands a generated file of orders.
// 2. Runs the pipeline with its server: continuous `lakepipe run DIR` with a `server:`
//    section when the binary supports it, else `lakepipe run DIR --once` per delivery
//    and `lakepipe serve DIR --port P` beside it (LAKEPIPE_DASHBOARD_MODE=continuous|once
//    forces one).
// 3. Loads http://127.0.0.1:P/ in Debian's Chromium (puppeteer-core), waits for the Gold
//    numbers, lands a second file, waits until the page shows the new numbers (live
//    update), and checks that the revenue shown for the top country (the "top-market" KPI
//    of examples/orders/dashboard.yaml) equals the top total_revenue of
//    GET /api/tables/gold_revenue_by_country/rows. (tests/dashboard/charts_test.mjs checks
//    every declared chart against its API rows; this test follows one number live.)
// 4. Fails on any page error, console error or failed request; keeps a screenshot.
//
// Usage: node tests/dashboard/dashboard_test.mjs --lakepipe build/lakepipe
//          [--artifacts build/test-artifacts] [--keep]
// Chromium missing is a failure, not a skip: the dashboard is part of the product.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { freePort, harness, launchChromium, sleep, watchedPage } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const sourceRoot = path.resolve(here, "..", "..");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const lakepipe = path.resolve(arg("--lakepipe", path.join(sourceRoot, "build", "lakepipe")));
const artifacts = path.resolve(arg("--artifacts", path.join(path.dirname(lakepipe), "test-artifacts")));
const keep = process.argv.includes("--keep");
const ROWS = Number(process.env.DASHBOARD_TEST_ROWS || 20000);

const { log, fail, children, start, stop, waitFor } = harness("dashboard", lakepipe);

// ------------------------------------------------------------------ processes
function run(args) {
  try {
    return execFileSync(lakepipe, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    fail(`lakepipe ${args.join(" ")} failed (${e.status}): ${e.stderr || e.stdout}`);
  }
}

// ------------------------------------------------------------------ the pipeline
const work = fs.mkdtempSync(path.join(os.tmpdir(), "lakepipe-dashboard-"));
const pipelineDir = path.join(work, "orders");
const landing = path.join(work, "landing");
const storage = path.join(work, "storage");
const sets = ["--set", `landing=${landing}`, "--set", `storage=${storage}`];

function deliver(name, seed) {
  // Written beside, then renamed: the pipeline only ever sees whole files.
  const tmp = path.join(landing, `.${name}.tmp`);
  run(["generate", "orders", "--rows", String(ROWS), "--seed", String(seed), "--out", tmp]);
  fs.renameSync(tmp, path.join(landing, name));
  log(`landed ${name} (${ROWS} lines)`);
}

let base;         // http://127.0.0.1:port
let mode;         // "continuous" | "once"
let pipelineProc; // continuous run, or null
let serveProc;

async function getJson(p) {
  const res = await fetch(base + p);
  if (!res.ok) throw new Error(`${p}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

async function healthy(proc) {
  return waitFor(`${proc.label} to answer /health`, 30000, async () => {
    if (proc.exited) fail(`${proc.label} exited (${JSON.stringify(proc.exited)}):\n${proc.output}`);
    const res = await fetch(base + "/health").catch(() => null);
    return res && res.ok;
  });
}

async function startContinuous(port) {
  fs.appendFileSync(path.join(pipelineDir, "pipeline.yaml"), `\nserver:\n  host: 127.0.0.1\n  port: ${port}\n`);
  const proc = start(["run", pipelineDir, ...sets], "lakepipe run (continuous)");
  // A binary without continuous mode exits at once (or never serves): then the caller
  // falls back to --once + serve.
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (proc.exited) return { ok: false, why: `exited ${JSON.stringify(proc.exited)}: ${proc.output.trim()}` };
    const res = await fetch(base + "/health").catch(() => null);
    if (res && res.ok) return { ok: true, proc };
    await sleep(250);
  }
  await stop(proc);
  return { ok: false, why: "no /health within 20 s" };
}

async function runOnceAndServe(port) {
  // Without the server section: `run --once` must not start a server.
  fs.copyFileSync(path.join(sourceRoot, "examples", "orders", "pipeline.yaml"), path.join(pipelineDir, "pipeline.yaml"));
  run(["run", pipelineDir, "--once", ...sets]);
  serveProc = start(["serve", pipelineDir, ...sets, "--port", String(port)], "lakepipe serve");
  await healthy(serveProc);
}

async function update() {
  if (mode === "once") run(["run", pipelineDir, "--once", ...sets]);
}

// The top country by total_revenue according to the API (the Gold table itself).
async function apiTopCountry() {
  const body = await getJson("/api/tables/gold_revenue_by_country/rows?limit=10000");
  if (!Array.isArray(body.rows) || body.rows.length === 0) return null;
  let top = null;
  for (const r of body.rows) {
    if (top === null || Number(r.total_revenue) > Number(top.total_revenue)) top = r;
  }
  return { country: top.Country, revenue: Number(top.total_revenue), version: body.version };
}

// ------------------------------------------------------------------ main
async function main() {
  if (!fs.existsSync(lakepipe)) fail(`the lakepipe binary is missing: ${lakepipe}`);
  fs.mkdirSync(pipelineDir, { recursive: true });
  fs.mkdirSync(landing, { recursive: true });
  for (const f of fs.readdirSync(path.join(sourceRoot, "examples", "orders"))) {
    fs.copyFileSync(path.join(sourceRoot, "examples", "orders", f), path.join(pipelineDir, f));
  }
  deliver("orders-001.csv", 1);

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const forced = process.env.LAKEPIPE_DASHBOARD_MODE;
  if (forced !== "once") {
    const c = await startContinuous(port);
    if (c.ok) {
      mode = "continuous";
      pipelineProc = c.proc;
    } else if (forced === "continuous") {
      fail(`continuous run with server failed: ${c.why}`);
    } else {
      log(`continuous run with server not available (${c.why}); using run --once + serve`);
    }
  }
  if (!mode) {
    mode = "once";
    await runOnceAndServe(port);
  }
  log(`mode ${mode}, server ${base}`);

  // Gold must exist before the page can show it.
  const first = await waitFor("the first Gold revenue by country", 120000, apiTopCountry);
  log(`API top country after the first file: ${first.country} ${first.revenue}`);

  const problems = [];
  const browser = await launchChromium(fail);
  try {
    const page = await watchedPage(browser, problems);

    await page.goto(base + "/", { waitUntil: "load", timeout: 30000 });
    // The "top-market" KPI: its value, and the country that begins its note.
    const shown = () => page.$eval('[data-chart="top-market"]', (el) => ({
      text: el.querySelector('[data-role="value"]').textContent.trim(),
      value: el.querySelector('[data-role="value"]').dataset.value || "",
      country: el.querySelector('[data-role="note"]').textContent.split(" · ")[0].trim(),
    }));
    const onPage1 = await waitFor("the top country's revenue on the page", 60000, async () => {
      const s = await shown();
      return s.value !== "" ? s : null;
    });
    log(`page shows ${onPage1.country} ${onPage1.text}`);

    // Live: a second delivery must reach the page without a reload.
    deliver("orders-002.csv", 2);
    await update();
    const second = await waitFor("the Gold table to include the second file", 120000, async () => {
      const t = await apiTopCountry();
      return t && t.revenue !== first.revenue ? t : null;
    });
    log(`API top country after the second file: ${second.country} ${second.revenue}`);
    const live = await waitFor("the page to show the new revenue (live update)", 60000, async () => {
      const s = await shown();
      return Number(s.value) !== Number(onPage1.value) ? s : null;
    });
    log(`page updated live to ${live.country} ${live.text}`);

    // Equal to the API's Gold value, once both are settled (continuous mode may still be
    // committing): compare the page against a fresh API read until they agree.
    let lastCompare = "";
    const agreed = await waitFor("the page's top-country revenue to equal the API's", 60000, async () => {
      const api = await apiTopCountry();
      const s = await shown();
      const textValue = Number(s.text.replace(/,/g, ""));
      lastCompare = `page ${s.country} ${s.text} (data-value ${s.value}) vs API ${api.country} ${api.revenue}`;
      const same = s.country === api.country && Number(s.value) === api.revenue &&
                   Math.abs(textValue - api.revenue) < 0.005 && s.text === api.revenue.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      return same ? { s, api } : null;
    }).catch((e) => fail(`${e.message}; last: ${lastCompare}`));
    log(`page ${agreed.s.country} ${agreed.s.text} == API ${agreed.api.country} ${agreed.api.revenue}`);

    // Every panel has data: KPIs, the DAG, the daily chart and data quality.
    const kpis = await page.evaluate(() => Object.fromEntries([
      ...["total-revenue", "orders", "customers", "average-order-value"].map((id) => [
        id, document.querySelector(`[data-chart="${id}"] [data-role="value"]`).textContent.trim()]),
      ["quarantine-count", document.querySelector('[data-testid="quarantine-count"]').textContent.trim()]]));
    for (const [id, text] of Object.entries(kpis)) {
      if (!/\d/.test(text)) fail(`KPI ${id} shows no number: '${text}'`);
    }
    // The orders KPI equals gold_kpis.orders (polled: the page re-reads a table after its
    // new version appears).
    await waitFor("the orders KPI to equal gold_kpis.orders", 30000, async () => {
      const kpiRow = (await getJson("/api/tables/gold_kpis/rows")).rows[0];
      const text = await page.$eval('[data-chart="orders"] [data-role="value"]', (el) => el.textContent.trim());
      return Number(text.replace(/,/g, "")) === Number(kpiRow.orders);
    });
    await waitFor("the quarantine count to equal /api/expectations", 30000, async () => {
      const body = await getJson("/api/expectations");
      const expected = body.tables.reduce((sum, t) => sum + Number(t.quarantined_rows || 0), 0);
      const text = await page.$eval('[data-testid="quarantine-count"]', (el) => el.textContent.trim());
      return Number(text.replace(/,/g, "")) === expected;
    });
    const dagNodes = await page.$eval('[data-testid="chart-pipeline-dag"]', (el) => Number(el.dataset.nodes || 0));
    const apiPipeline = await getJson("/api/pipeline");
    if (dagNodes < apiPipeline.nodes.length) fail(`DAG shows ${dagNodes} nodes, the API has ${apiPipeline.nodes.length} tables`);
    const tableRows = await page.$$eval('[data-testid="tables"] tbody tr', (rows) => rows.length);
    if (tableRows !== apiPipeline.nodes.length) fail(`table list has ${tableRows} rows, the API ${apiPipeline.nodes.length}`);
    log(`KPIs ${JSON.stringify(kpis)}; DAG ${dagNodes} nodes`);

    // Let the last animations finish (and, with a running pipeline, a few seconds of
    // rates and latency accumulate), then keep the picture.
    await sleep(mode === "continuous" ? 5000 : 1500);
    fs.mkdirSync(artifacts, { recursive: true });
    const shot = path.join(artifacts, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    log(`screenshot: ${shot}`);

    // The dark palette too (prefers-color-scheme: dark), with the same number.
    const dark = await watchedPage(browser, problems, " (dark)");
    await dark.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
    await dark.goto(base + "/", { waitUntil: "load", timeout: 30000 });
    await waitFor("the dark page to show the top country's revenue", 30000, async () => {
      const v = await dark.$eval('[data-chart="top-market"] [data-role="value"]', (el) => el.dataset.value || "");
      return Number(v) === agreed.api.revenue;
    });
    await sleep(1500);
    const darkShot = path.join(artifacts, "dashboard-dark.png");
    await dark.screenshot({ path: darkShot, fullPage: true });
    log(`screenshot: ${darkShot}`);

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
    console.error(`[dashboard] FAIL: ${e.stack || e.message}`);
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
