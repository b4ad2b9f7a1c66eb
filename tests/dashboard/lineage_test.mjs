// Column lineage on the dashboard (docs/governance.md, "Column lineage"), in headless
// Chromium, over examples/orders with governance: an admin and a reader granted only
// gold_kpis.
//
// 1. As the admin: clicking a Gold column highlights its path, and the path on the page
//    (the steps listed, the columns lit, the DAG's tables) is exactly the edges
//    /api/lineage?column=... gives, back to the landing files; Clear removes it.
// 2. As the reader: the page shows only the columns /api/lineage gives that reader (no
//    Silver or Bronze table), and the same Gold column's path shows the count of steps
//    hidden from it, as the API says, and none of their tables.
//
// Usage: node tests/dashboard/lineage_test.mjs --lakepipe build/lakepipe [--artifacts DIR]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { freePort, harness, launchChromium, watchedPage } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const sourceRoot = path.resolve(here, "..", "..");
function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const lakepipe = path.resolve(arg("--lakepipe", path.join(sourceRoot, "build", "lakepipe")));
const artifacts = path.resolve(arg("--artifacts", path.join(path.dirname(lakepipe), "test-artifacts")));
const { log, fail, start, stop, waitFor } = harness("lineage", lakepipe);

function run(args, input) {
  try {
    return execFileSync(lakepipe, args, { encoding: "utf8", input, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  } catch (e) {
    fail(`lakepipe ${args.join(" ")} failed (${e.status}): ${e.stderr || e.stdout}`);
  }
}

const ADMIN = "lineage-admin-token-0123456789abcdef";
const READER = "lineage-reader-token-0123456789abcdef";
const hashOf = (token) => {
  const line = run(["token", "hash"], token + "\n").split("\n").find((l) => l.startsWith("sha256:"));
  if (!line) fail("`lakepipe token hash` printed no sha256: line");
  return line.trim();
};

// examples/orders, copied, with two principals and a grant of gold_kpis to the reader.
const work = fs.mkdtempSync(path.join(os.tmpdir(), "lakepipe-lineage-"));
const folder = path.join(work, "orders");
fs.cpSync(path.join(sourceRoot, "examples", "orders"), folder, { recursive: true });
fs.appendFileSync(path.join(folder, "pipeline.yaml"), `
governance:
  principals:
    - {name: root, role: admin, token_hash: "${hashOf(ADMIN)}"}
    - {name: alice, role: reader, token_hash: "${hashOf(READER)}"}
  grants: grants.sql
`);
fs.writeFileSync(path.join(folder, "grants.sql"), "GRANT SELECT ON TABLE gold_kpis TO alice;\n");
const landing = path.join(work, "landing");
fs.mkdirSync(landing, { recursive: true });
const sets = ["--set", `landing=${landing}`, "--set", `storage=${path.join(work, "storage")}`];
run(["generate", "orders", "--rows", "2000", "--seed", "7", "--out", path.join(landing, "orders-001.csv")]);
run(["run", folder, "--once", ...sets]);

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const serve = start(["serve", folder, ...sets, "--port", String(port)], "lakepipe serve");
const GOLD = { table: "gold_kpis", column: "average_order_value" };
const edgeKey = (e) => `${e.to.table}.${e.to.column} <- ${e.from.table}.${e.from.column}`;
const refKey = (r) => `${r.table}.${r.column}`;

async function apiAs(token, p) {
  const res = await fetch(base + p, { headers: { Authorization: `Bearer ${token}` } });
  const body = await res.json();
  if (!res.ok) fail(`GET ${p}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

// What the page shows of the lineage (evaluated in the page).
function shown() {
  const cols = [...document.querySelectorAll('[data-testid="lineage-column"]')];
  return {
    tables: [...document.querySelectorAll('[data-testid="lineage-table"]')].map((t) => t.dataset.table),
    columns: cols.map((b) => `${b.dataset.table}.${b.dataset.column}`),
    lit: cols.filter((b) => b.dataset.highlighted === "true").map((b) => `${b.dataset.table}.${b.dataset.column}`),
    edges: [...document.querySelectorAll('[data-testid="lineage-edge"]')].map((li) =>
      `${li.dataset.toTable}.${li.dataset.toColumn} <- ${li.dataset.fromTable}.${li.dataset.fromColumn}`),
    hidden: Number(document.querySelector('[data-testid="lineage-hidden"]')?.dataset.count || 0),
    dag: document.getElementById("chart-dag").dataset.lineage || "",
    clearShown: !document.querySelector('[data-testid="lineage-clear"]').hidden,
  };
}
const sorted = (a) => [...a].sort();
const same = (a, b) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));

const problems = [];
let browser;
try {
  await waitFor("lakepipe serve to answer /health", 30000, async () => {
    if (serve.exited) fail(`lakepipe serve exited: ${serve.output}`);
    return (await fetch(base + "/health").catch(() => null))?.ok;
  });
  browser = await launchChromium(fail);

  // ---------------------------------------------------------------- the admin
  const all = await apiAs(ADMIN, "/api/lineage");
  const path1 = await apiAs(ADMIN, `/api/lineage?column=${GOLD.table}.${GOLD.column}`);
  if (path1.edges.length < 3) fail(`the API's path of ${refKey(GOLD)} has ${path1.edges.length} edges; expected one back to the files`);
  if (!path1.edges.some((e) => e.from.table.startsWith("files:"))) fail("the API's path does not reach the landing files");
  const adminContext = await browser.createBrowserContext();
  const page = await watchedPage(adminContext, problems);
  await page.goto(`${base}/?access_token=${ADMIN}`, { waitUntil: "load", timeout: 30000 });
  const expectedColumns = all.columns.map(refKey);
  await waitFor("the lineage panel to list the API's columns", 30000, async () => {
    const s = await page.evaluate(shown);
    return expectedColumns.every((c) => s.columns.includes(c));
  });
  await page.click(`[data-testid="lineage-column"][data-table="${GOLD.table}"][data-column="${GOLD.column}"]`);
  const want = path1.edges.map(edgeKey);
  const lit = new Set([refKey(GOLD)]);
  const onPathTables = new Set([GOLD.table]);
  for (const e of path1.edges) {
    lit.add(refKey(e.from)); lit.add(refKey(e.to));
    onPathTables.add(e.from.table); onPathTables.add(e.to.table);
  }
  const s1 = await waitFor("the path to be highlighted", 15000, async () => {
    const s = await page.evaluate(shown);
    return s.edges.length > 0 ? s : null;
  });
  if (!same(s1.edges, want)) fail(`the page's path differs from the API's:\n page ${JSON.stringify(sorted(s1.edges))}\n API  ${JSON.stringify(sorted(want))}`);
  if (!same(s1.lit, [...lit])) fail(`the lit columns differ from the path's:\n page ${JSON.stringify(sorted(s1.lit))}\n path ${JSON.stringify(sorted([...lit]))}`);
  if (s1.hidden !== 0) fail(`the admin is told of ${s1.hidden} hidden steps`);
  // The DAG lights the tables on the path (and the file source) that it draws.
  const dagTables = s1.dag.split(",").filter(Boolean);
  for (const t of ["gold_kpis", "silver_orders", "bronze_orders"]) {
    if (!dagTables.includes(t)) fail(`the DAG does not light ${t} (lit: ${s1.dag})`);
  }
  if (dagTables.some((t) => !onPathTables.has(t))) fail(`the DAG lights a table off the path: ${s1.dag}`);
  if (!dagTables.some((t) => t.startsWith("files:"))) fail(`the DAG does not light the landing files: ${s1.dag}`);
  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, "lineage-admin.png"), fullPage: true });
  await page.click('[data-testid="lineage-clear"]');
  const cleared = await waitFor("Clear to remove the path", 10000, async () => {
    const s = await page.evaluate(shown);
    return s.edges.length === 0 && s.lit.length === 0 && s.dag === "" && !s.clearShown ? s : null;
  });
  log(`admin: ${s1.edges.length} steps from ${refKey(GOLD)} back to the files; cleared (${cleared.columns.length} columns)`);

  // ---------------------------------------------------------------- the reader
  const mine = await apiAs(READER, "/api/lineage");
  const minePath = await apiAs(READER, `/api/lineage?column=${GOLD.table}.${GOLD.column}`);
  if (minePath.hidden_edges <= 0) fail("the API hides nothing of the path from the reader");
  const readerContext = await browser.createBrowserContext();  // its own cookies
  const readerPage = await watchedPage(readerContext, problems, " (reader)");
  await readerPage.goto(`${base}/?access_token=${READER}`, { waitUntil: "load", timeout: 30000 });
  const mineColumns = mine.columns.map(refKey);
  const r0 = await waitFor("the reader's lineage panel", 30000, async () => {
    const s = await readerPage.evaluate(shown);
    return mineColumns.length > 0 && mineColumns.every((c) => s.columns.includes(c)) ? s : null;
  });
  const mineSources = mine.columns.flatMap((c) => c.sources.map(refKey));
  if (!same(r0.columns, [...new Set([...mineColumns, ...mineSources])])) {
    fail(`the reader's page shows other columns than the API gives it: ${JSON.stringify(sorted(r0.columns))}`);
  }
  for (const t of r0.tables) {
    if (t === "silver_orders" || t === "bronze_orders") fail(`the reader's page shows table ${t}`);
  }
  await readerPage.click(`[data-testid="lineage-column"][data-table="${GOLD.table}"][data-column="${GOLD.column}"]`);
  const r1 = await waitFor("the reader's path", 15000, async () => {
    const s = await readerPage.evaluate(shown);
    return s.hidden > 0 ? s : null;
  });
  if (r1.hidden !== minePath.hidden_edges) fail(`the page says ${r1.hidden} hidden steps, the API ${minePath.hidden_edges}`);
  if (!same(r1.edges, minePath.edges.map(edgeKey))) fail(`the reader's path differs from the API's: ${JSON.stringify(r1.edges)}`);
  const html = await readerPage.content();
  for (const secret of ["silver_orders", "bronze_orders", "line_total"]) {
    if (html.includes(secret)) fail(`the reader's page names ${secret}`);
  }
  await readerPage.screenshot({ path: path.join(artifacts, "lineage-reader.png"), fullPage: true });
  log(`reader: ${r0.columns.length} columns, ${r1.hidden} steps hidden, as the API says`);
  if (problems.length) fail(`page problems:\n  ${problems.join("\n  ")}`);
  log("PASS");
} finally {
  if (browser) await browser.close().catch(() => {});
  await stop(serve);
  if (process.exitCode) log(`kept ${work} for inspection`); else fs.rmSync(work, { recursive: true, force: true });
}
