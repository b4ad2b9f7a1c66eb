// The dashboard of `lakepipe demo --source postgres` in headless Chromium: the demo starts
// its own PostgreSQL and orders application; the page must show each replication source's
// lag (WAL bytes past the confirmed position, and seconds) as /api/pipeline reports it, and
// the orders KPI equal to gold_kpis. Fails on any page error, console error or failed
// request; keeps a screenshot.
//
// Usage: node tests/dashboard/cdc_dashboard_test.mjs --lakepipe build/lakepipe
//          [--artifacts build/test-artifacts]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { freePort, harness, launchChromium, sleep, watchedPage } from "./harness.mjs";

const sourceRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const lakepipe = path.resolve(arg("--lakepipe", path.join(sourceRoot, "build", "lakepipe")));
const artifacts = path.resolve(arg("--artifacts", path.join(path.dirname(lakepipe), "test-artifacts")));
const { log, fail, children, start, stop, waitFor } = harness("cdc-dashboard", lakepipe);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "lakepipe-cdc-dashboard-"));

async function main() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const demo = start(["demo", "--source", "postgres", "--dir", path.join(work, "demo"), "--example",
                      path.join(sourceRoot, "examples", "orders-cdc"), "--port", String(port), "--rate", "100"],
                     "lakepipe demo --source postgres");
  const getJson = async (p) => {
    if (demo.exited) fail(`the demo exited (${JSON.stringify(demo.exited)}):\n${demo.output}`);
    const res = await fetch(base + p);
    if (!res.ok) throw new Error(`${p}: HTTP ${res.status}`);
    return res.json();
  };
  // Gold comes on its 15 s cadence; the sources report lag once they have read.
  await waitFor("gold_kpis with orders", 90000, async () => {
    const rows = (await getJson("/api/tables/gold_kpis/rows")).rows;
    return rows && rows.length && Number(rows[0].orders) > 0;
  });
  const sources = (await getJson("/api/pipeline")).nodes.filter((n) => n.replication_lag_bytes >= 0);
  if (sources.length !== 3) fail(`expected 3 tables with replication lag, the API has ${sources.length}`);

  const problems = [];
  const browser = await launchChromium(fail);
  try {
    const page = await watchedPage(browser, problems);
    await page.goto(base + "/", { waitUntil: "load", timeout: 30000 });
    // Each replication source's row shows its lag, with bytes the API gave. The lag moves
    // with every commit and the page draws the tables card from the stream's payloads, so
    // on a loaded machine the page and a fresh read rarely see the same moment: the cell
    // must equal one of the values the API gave in the last 15 s (read at each probe).
    const seen = new Map();  // name -> [{at, bytes}]
    const record = async () => {
      const nodes = (await getJson("/api/pipeline")).nodes;
      for (const n of nodes.filter((x) => x.replication_lag_bytes >= 0)) {
        const list = seen.get(n.name) ?? seen.set(n.name, []).get(n.name);
        list.push({ at: Date.now(), bytes: n.replication_lag_bytes });
        while (list.length && list[0].at < Date.now() - 15000) list.shift();
      }
    };
    for (const name of sources.map((s) => s.name)) {
      await waitFor(`the lag of ${name} on the page to equal a value the API gave in the last 15 s`, 60000, async () => {
        await record();
        const cell = await page.$eval(`[data-testid="tables"] tr[data-table="${name}"]`, (tr) => {
          const lag = tr.querySelector('[data-testid="replication-lag"]');
          return lag ? { bytes: lag.dataset.bytes, text: lag.textContent.trim() } : null;
        });
        if (!cell || !/B.* · .* s$/.test(cell.text)) return null;
        return (seen.get(name) ?? []).some((v) => v.bytes === Number(cell.bytes)) ? cell : null;
      });
    }
    const lagCells = await page.$$eval('[data-testid="replication-lag"]', (els) => els.length);
    if (lagCells !== sources.length) fail(`${lagCells} lag cells on the page, ${sources.length} sources`);
    await waitFor("the orders KPI to equal gold_kpis.orders", 60000, async () => {
      const kpi = (await getJson("/api/tables/gold_kpis/rows")).rows[0];
      const text = await page.$eval('[data-chart="orders"] [data-role="value"]', (el) => el.textContent.trim());
      return Number(text.replace(/,/g, "")) === Number(kpi.orders);
    });
    await sleep(1000);
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, "dashboard-cdc.png"), fullPage: true });
    if (problems.length) fail(`the page reported problems:\n  ${problems.join("\n  ")}`);
  } finally {
    await browser.close();
  }
  await stop(demo, 30000);
  if (!demo.exited || demo.exited.code !== 0) fail(`the demo did not stop cleanly on SIGINT: ${JSON.stringify(demo.exited)}`);
  log("PASS");
}

try {
  await main();
} catch (e) {
  if (!process.exitCode) {
    console.error(`[cdc-dashboard] FAIL: ${e.stack || e.message}`);
    process.exitCode = 1;
  }
  for (const c of children) {
    if (c.output) console.error(`--- ${c.label} output (last 3000 chars) ---\n${c.output.slice(-3000)}`);
  }
} finally {
  for (const c of children) await stop(c, 30000);
  fs.rmSync(work, { recursive: true, force: true });
}
