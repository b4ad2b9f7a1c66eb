// The jobs page of `lakepipe job serve` (docs/jobs.md): the jobs with their schedules and
// the runs with their task attempts, re-read from /api/jobs and /api/jobs/runs every 2 s.
// "Run now" starts a run (POST /api/jobs/{job}/runs: operators and admins; a reader's
// click is refused by the server and the refusal shown).
"use strict";

const STATE_COLORS = {
  succeeded: "#2e9d5b", failed: "#d9534f", timed_out: "#d9534f", upstream_failed: "#c98a1a",
  cancelled: "#888", skipped: "#888", running: "#3b82f6",
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("data-")) e.setAttribute(k, v);
    else if (k === "class") e.className = v;
    else if (k === "title") e.title = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

function stateChip(state, text) {
  const chip = el("span", { class: "state", "data-state": state });
  const dot = el("span", { class: "dot" });
  dot.style.display = "inline-block";
  dot.style.width = dot.style.height = "8px";
  dot.style.borderRadius = "50%";
  dot.style.background = STATE_COLORS[state] || "#888";
  chip.append(dot, text ?? state);
  return chip;
}

function time(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "").replace("Z", "") : ""; }

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store" });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function renderJobs(body) {
  document.getElementById("jobs-file").textContent = body.jobs_file;
  const tbody = document.querySelector('[data-testid="jobs"] tbody');
  tbody.replaceChildren(...body.jobs.map((j) => el("tr", { "data-job": j.name },
    el("td", { title: j.description || "" }, j.name),
    el("td", {}, j.schedule ? `${j.schedule.cron} (${j.schedule.timezone})` : "manual"),
    el("td", { "data-role": "next-run" }, j.schedule ? time(j.schedule.next_run) : ""),
    el("td", { class: "num" }, String(j.tasks.length)),
    el("td", {}, j.running ? stateChip("running") : ""),
    el("td", { "data-role": "last-run" }, j.last_run ? stateChip(j.last_run.state, `${j.last_run.state} · ${j.last_run.run_id}`) : ""),
    el("td", {}, runNowButton(j)))));
}

function runNowButton(job) {
  const b = el("button", { class: "clear", "data-role": "run-now", "data-job": job.name, title: `start a run of ${job.name} now` }, "Run now");
  b.type = "button";
  b.disabled = job.running;
  return b;
}

// A click on "Run now": the server starts the run (or says why not) and the next refresh
// shows it.
async function runNow(job) {
  const error = document.getElementById("error");
  const res = await fetch(`/api/jobs/${encodeURIComponent(job)}/runs`, { method: "POST", cache: "no-store" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    error.hidden = false;
    error.textContent = `cannot start ${job}: ${body.error || `HTTP ${res.status}`}`;
    return;
  }
  error.hidden = true;
  document.body.dataset.lastStarted = body.run_id;
  refresh();
}

function renderRuns(body) {
  const tbody = document.querySelector('[data-testid="runs"] tbody');
  tbody.replaceChildren(...body.runs.map((r) => {
    // The last attempt of each task, with how many attempts it took.
    const last = new Map();
    for (const t of r.tasks) last.set(t.task, t);
    const tasks = el("td", { "data-role": "tasks" });
    for (const t of last.values()) {
      const chip = stateChip(t.state, `${t.task} (${t.attempt})`);
      chip.setAttribute("data-task", t.task);
      chip.setAttribute("data-attempt", String(t.attempt));
      chip.style.marginRight = "10px";
      tasks.append(chip);
    }
    return el("tr", { "data-run-id": r.run_id, "data-state": r.state },
      el("td", {}, r.run_id), el("td", {}, r.job), el("td", {}, r.trigger || ""),
      el("td", { "data-role": "state" }, stateChip(r.state)), el("td", {}, time(r.start)), tasks,
      el("td", { title: r.error || "" }, (r.error || "").slice(0, 120)));
  }));
}

async function refresh() {
  const error = document.getElementById("error");
  try {
    const [jobs, runs] = await Promise.all([getJson("/api/jobs"), getJson("/api/jobs/runs?limit=50")]);
    renderJobs(jobs);
    renderRuns(runs);
    error.hidden = true;
    document.getElementById("updated-at").textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = "true";
  } catch (e) {
    error.hidden = false;
    error.textContent = `cannot read the jobs API: ${e.message}`;
  }
}

document.querySelector('[data-testid="jobs"]').addEventListener("click", (ev) => {
  const b = ev.target.closest('button[data-role="run-now"]');
  if (b && !b.disabled) runNow(b.dataset.job);
});
refresh();
setInterval(refresh, 2000);
