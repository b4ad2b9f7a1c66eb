// Shared by the dashboard tests: lakepipe child processes, polling, a free port, and
// Debian's Chromium through puppeteer-core with every page problem recorded.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// `tag` prefixes every line; `lakepipe` is the binary the children run.
export function harness(tag, lakepipe) {
  const log = (...a) => console.log(`[${tag}]`, ...a);
  function fail(message) {
    console.error(`[${tag}] FAIL: ${message}`);
    process.exitCode = 1;
    throw new Error(message);
  }
  const children = [];
  function start(args, name) {
    const child = spawn(lakepipe, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.output = "";
    child.exited = null;
    child.stdout.on("data", (d) => { child.output += d; });
    child.stderr.on("data", (d) => { child.output += d; });
    child.on("exit", (code, signal) => { child.exited = { code, signal }; });
    child.label = name;
    children.push(child);
    return child;
  }
  // SIGINT, then SIGKILL after `graceMs`.
  async function stop(child, graceMs = 5000) {
    if (!child || child.exited) return;
    child.kill("SIGINT");
    for (let i = 0; i < graceMs / 100 && !child.exited; i++) await sleep(100);
    if (!child.exited) child.kill("SIGKILL");
  }
  async function waitFor(what, timeoutMs, probe) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      try {
        last = await probe();
        if (last) return last;
      } catch (e) {
        last = e;
      }
      await sleep(250);
    }
    fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}` + (last instanceof Error ? `: ${last.message}` : ""));
  }
  return { log, fail, children, start, stop, waitFor };
}

// Chromium (CHROMIUM_PATH or /usr/bin/chromium) headless; missing is a failure, not a skip.
export async function launchChromium(fail) {
  const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
  if (!fs.existsSync(chromiumPath)) {
    fail(`Chromium is missing at ${chromiumPath}: install Debian's chromium (scripts/install-deps.sh test) or set CHROMIUM_PATH`);
  }
  let puppeteer;
  try {
    puppeteer = (await import("puppeteer-core")).default;
  } catch (e) {
    fail(`puppeteer-core is missing (run make node / npm install): ${e.message}`);
  }
  return puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      ...(process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : []),
      "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
    ],
  });
}

// A page at 1440x1000 whose errors, console errors, failed requests and HTTP errors go
// to `problems` (the event stream aborted on navigation is not a problem).
export async function watchedPage(browser, problems, suffix = "") {
  const page = await browser.newPage();
  await page.setViewport({ width: 1440, height: 1000, deviceScaleFactor: 1 });
  page.on("pageerror", (e) => problems.push(`page error${suffix}: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error${suffix}: ${m.text()}`); });
  page.on("requestfailed", (r) => {
    if (!r.url().includes("/api/stream")) problems.push(`request failed${suffix}: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}${suffix}: ${r.url()}`); });
  return page;
}
