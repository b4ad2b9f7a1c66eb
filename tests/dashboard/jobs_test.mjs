// The jobs page of `lakepipe job serve` in headless Chromium: a job that fails, then is
// resumed and succeeds, and another that succeeds; the page must list every job and every
// run with the state, trigger and task attempts that GET /api/jobs and /api/jobs/runs give;
// its "Run now" button starts a run that the API and the page then list.
//
// Usage: node tests/dashboard/jobs_test.mjs --lakepipe build/lakepipe [--artifacts DIR]
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
const { log, fail, start, stop, waitFor } = harness("jobs-page", lakepipe);

const work = fs.mkdtempSync(path.join(os.tmpdir(), "lakepipe-jobs-page-"));
const jobsFile = path.join(work, "jobs.yaml");
fs.writeFileSync(jobsFile, `
storage: ./state
jobs:
  nightly:
    description: fails until 'fixed' exists, then resumes
    schedule: {cron: "30 2 * * *", timezone: Europe/Paris}
    tasks:
      - {name: extract, kind: command, argv: [sh, -c, "echo extracted"]}
      - {name: load, kind: command, depends_on: [extract], retries: 1, retry_backoff: 100ms,
         argv: [sh, -c, "test -f fixed || { echo 'not ready' >&2; exit 3; }"]}
  report:
    tasks:
      - {name: write, kind: command, argv: [sh, -c, "echo report > report.txt"]}
`);
function jobRun(job, expectFailure) {
  try {
    execFileSync(lakepipe, ["job", "run", jobsFile, job], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (expectFailure) fail(`job run ${job} succeeded; expected a failure`);
  } catch (e) {
    if (!expectFailure) fail(`job run ${job} failed (${e.status}): ${e.stderr || e.stdout}`);
  }
}
jobRun("nightly", true);
fs.writeFileSync(path.join(work, "fixed"), "");
jobRun("nightly", false);  // resumes the failed run
jobRun("report", false);

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const serve = start(["job", "serve", jobsFile, "--port", String(port)], "job serve");
const problems = [];
let browser;
try {
  await waitFor("job serve to answer /health", 30000, async () => {
    if (serve.exited) fail(`job serve exited: ${serve.output}`);
    const res = await fetch(base + "/health").catch(() => null);
    return res && res.ok;
  });
  const api = await (await fetch(base + "/api/jobs")).json();
  const runs = (await (await fetch(base + "/api/jobs/runs")).json()).runs;
  if (runs.length !== 2) fail(`the API lists ${runs.length} runs, expected 2 (a resumed nightly, a report)`);
  const nightly = runs.find((r) => r.job === "nightly");
  if (!nightly || nightly.state !== "succeeded" || nightly.trigger !== "resume") {
    fail(`nightly run in the API: ${JSON.stringify(nightly)}`);
  }
  const loads = nightly.tasks.filter((t) => t.task === "load").map((t) => `${t.attempt}:${t.state}`);
  if (loads.join(",") !== "1:failed,2:failed,3:succeeded") fail(`load attempts in the API: ${loads}`);

  browser = await launchChromium(fail);
  const page = await watchedPage(browser, problems);
  await page.goto(base + "/", { waitUntil: "load", timeout: 30000 });
  await waitFor("the page to load the jobs", 30000, () => page.$eval("body", (b) => b.dataset.loaded === "true"));

  const shownJobs = await page.$$eval('[data-testid="jobs"] tbody tr', (rows) => rows.map((r) => ({
    name: r.dataset.job,
    next: r.querySelector('[data-role="next-run"]').textContent.trim(),
    last: r.querySelector('[data-role="last-run"] [data-state]')?.dataset.state || "",
  })));
  for (const j of api.jobs) {
    const s = shownJobs.find((x) => x.name === j.name);
    if (!s) fail(`job ${j.name} is not on the page`);
    if ((j.last_run?.state || "") !== s.last) fail(`job ${j.name}: page shows last run '${s.last}', API '${j.last_run?.state}'`);
    const next = j.schedule ? j.schedule.next_run.replace("T", " ").replace(/\.\d+Z$/, "") : "";
    if (s.next !== next) fail(`job ${j.name}: page shows next run '${s.next}', API '${next}'`);
  }
  if (shownJobs.length !== api.jobs.length) fail(`page lists ${shownJobs.length} jobs, API ${api.jobs.length}`);

  const shownRuns = await page.$$eval('[data-testid="runs"] tbody tr', (rows) => rows.map((r) => ({
    run_id: r.dataset.runId,
    state: r.dataset.state,
    tasks: [...r.querySelectorAll('[data-role="tasks"] [data-task]')].map((c) => `${c.dataset.task}:${c.dataset.attempt}:${c.dataset.state}`),
  })));
  if (shownRuns.length !== runs.length) fail(`page lists ${shownRuns.length} runs, API ${runs.length}`);
  for (const r of runs) {
    const s = shownRuns.find((x) => x.run_id === r.run_id);
    if (!s) fail(`run ${r.run_id} is not on the page`);
    if (s.state !== r.state) fail(`run ${r.run_id}: page '${s.state}', API '${r.state}'`);
    const last = new Map();
    for (const t of r.tasks) last.set(t.task, `${t.task}:${t.attempt}:${t.state}`);
    if (s.tasks.join(",") !== [...last.values()].join(",")) fail(`run ${r.run_id}: page tasks ${s.tasks}, API ${[...last.values()]}`);
  }
  log(`page shows ${shownJobs.length} jobs and ${shownRuns.length} runs as the API gives them`);

  // "Run now" starts a run through the API (trigger `api`), which the page then lists.
  await page.click('[data-role="run-now"][data-job="report"]');
  const started = await waitFor("the page to start a run", 15000, () => page.$eval("body", (b) => b.dataset.lastStarted || ""));
  const apiRun = await waitFor("the started run to succeed", 30000, async () => {
    const all = (await (await fetch(base + "/api/jobs/runs?job=report")).json()).runs;
    const r = all.find((x) => x.run_id === started);
    return r && r.state === "succeeded" ? r : null;
  });
  if (apiRun.trigger !== "api") fail(`the run started from the page has trigger '${apiRun.trigger}', expected api`);
  await waitFor("the page to list the started run", 15000, () =>
    page.$$eval('[data-testid="runs"] tbody tr', (rows, id) => rows.some((r) => r.dataset.runId === id && r.dataset.state === "succeeded"), started));
  log(`Run now started ${started} (trigger api), listed on the page`);
  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, "jobs-page.png"), fullPage: true });
  if (problems.length) fail(`page problems:\n${problems.join("\n")}`);
  log("PASS");
} finally {
  if (browser) await browser.close();
  await stop(serve);
  if (!process.exitCode) fs.rmSync(work, { recursive: true, force: true });
}
