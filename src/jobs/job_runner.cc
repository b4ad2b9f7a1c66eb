#include "jobs/job_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "jobs/run_history.h"
#include "types/datetime.h"

extern char** environ;

namespace lakepipe::jobs {
namespace {

Status MakeDirs(const std::string& path) {
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string::npos) slash = path.size();
    cur = path.substr(0, slash);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno(errno, "cannot create folder " + cur);
    }
    i = slash + 1;
  }
  return Status::OK();
}

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[4096];
  if (::getcwd(buf, sizeof buf) == nullptr) return path;
  std::string cwd = buf;
  if (path == "." || path.empty()) return cwd;
  if (path.rfind("./", 0) == 0) return cwd + "/" + path.substr(2);
  return cwd + "/" + path;
}

// The job's lock: flock on `<storage>/_job_locks/<job>.lock`, the holder's pid inside.
class JobLock {
 public:
  ~JobLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  // false when another holder has it (*holder: its pid as written).
  Result<bool> TryAcquire(const std::string& folder, const std::string& job, std::string* holder) {
    LP_RETURN_IF_ERROR(MakeDirs(folder));
    std::string path = folder + "/" + job + ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::FromErrno(errno, "cannot open the job lock " + path);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      char buf[64] = {0};
      ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
      *holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
      while (!holder->empty() && (holder->back() == '\n' || holder->back() == ' ')) holder->pop_back();
      ::close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK) return false;
      return Status::FromErrno(err, "cannot lock " + path);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
      // The pid is only for messages; the lock is what counts.
    }
    return true;
  }

 private:
  int fd_ = -1;
};

std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) last = line;
  }
  if (last.size() > 300) last = last.substr(0, 300) + "...";
  return last;
}

std::string FormatSeconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10'000 ? "%.1f s" : "%.0f s", static_cast<double>(ms) / 1000);
  return buf;
}

int64_t NowMs() { return MonotonicNanos() / 1'000'000; }

// A started attempt: the child process and its deadlines.
struct Attempt {
  pid_t pid = -1;
  int number = 0;
  int64_t start_micros = 0;  // wall clock, for the history
  int64_t start_ms = 0;      // monotonic
  int64_t deadline_ms = 0;   // 0: no timeout
  int64_t kill_at_ms = 0;    // SIGKILL after SIGTERM
  bool timed_out = false, cancelled = false;
  std::string log;
};

// Starts argv in its own process group with stdout and stderr to `log`. Everything the
// child needs is prepared before fork: between fork and exec it only makes
// async-signal-safe calls (the runner may have other threads).
Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                    const std::string& cwd, const std::string& log) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (!env.count(key)) env_strings.push_back(kv);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::string program = argv[0];
  if (program.find('/') == std::string::npos) {
    std::string path_var = "/usr/local/bin:/usr/bin:/bin";
    for (const auto& kv : env_strings) {
      if (kv.rfind("PATH=", 0) == 0) path_var = kv.substr(5);
    }
    std::string found;
    std::stringstream dirs(path_var);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
      if (::access(candidate.c_str(), X_OK) == 0) {
        found = candidate;
        break;
      }
    }
    if (found.empty()) return Status::NotFound("program `" + program + "` not found in PATH (" + path_var + ")");
    program = found;
  } else if (program[0] != '/' && !cwd.empty()) {
    program = cwd + "/" + program;
  }
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::FromErrno(errno, "cannot create the task log " + log);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    return Status::FromErrno(err, "cannot start " + program);
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      static const char kMsg[] = "lakepipe job: cannot enter the task's folder\n";
      ssize_t ignored = ::write(2, kMsg, sizeof kMsg - 1);
      (void)ignored;
      ::_exit(126);
    }
    ::execve(program.c_str(), args.data(), envp.data());
    static const char kMsg[] = "lakepipe job: cannot execute the task's program\n";
    ssize_t ignored = ::write(2, kMsg, sizeof kMsg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so that a kill right after the fork reaches the group
  ::close(log_fd);
  return pid;
}

std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "ended with status " + std::to_string(status);
}

}  // namespace

std::string NewRunId(int64_t now_micros) {
  std::string ts = FormatTimestampIso(now_micros);  // 2026-12-05T16:10:00.000000Z
  std::string compact;
  for (char c : ts.substr(0, 19)) {
    if (c != '-' && c != ':') compact += c;
  }
  static std::mt19937_64 rng(std::random_device{}());
  static std::mutex mu;
  char suffix[8];
  {
    std::lock_guard<std::mutex> lock(mu);
    std::snprintf(suffix, sizeof suffix, "%06x", static_cast<unsigned>(rng() & 0xffffff));
  }
  return compact + "Z-" + suffix;
}

Result<RunResult> JobRunner::Run(const RunOptions& o) const {
  const JobSpec* job = file_.FindJob(o.job);
  if (job == nullptr) {
    std::string names;
    for (const auto& j : file_.jobs) names += (names.empty() ? "" : ", ") + j.name;
    return Status::NotFound("no job `" + o.job + "` in " + file_.path + " (jobs: " + names + ")");
  }
  for (const auto& t : o.only_tasks) {
    if (job->FindTask(t) == nullptr) {
      std::string names;
      for (const auto& task : job->tasks) names += (names.empty() ? "" : ", ") + task.name;
      return Status::NotFound("job " + job->name + " has no task `" + t + "` (tasks: " + names + ")");
    }
  }
  for (const auto& [k, v] : o.params) {
    if (!job->parameters.count(k)) {
      std::string names;
      for (const auto& [p, d] : job->parameters) names += (names.empty() ? "" : ", ") + p;
      return Status::InvalidArgument("job " + job->name + " has no parameter `" + k + "` (parameters: " +
                                     (names.empty() ? "none" : names) + ")");
    }
  }
  auto say = [&o](const std::string& line) {
    if (o.print) o.print(line);
  };
  const std::string storage = Absolute(file_.StoragePath());
  LP_RETURN_IF_ERROR(MakeDirs(storage));
  RunHistory history(storage);
  RunResult result;

  JobLock lock;
  std::string holder;
  LP_ASSIGN_OR_RETURN(bool locked, lock.TryAcquire(storage + "/_job_locks", job->name, &holder));
  if (!locked) {
    int64_t now = o.clock->NowMicros();
    result.run_id = o.run_id.empty() ? NewRunId(now) : o.run_id;
    result.state = kStateSkipped;
    result.error = "job " + job->name + " is already running (process " + holder + "): a job does not overlap itself";
    RunRecord r;
    r.job = job->name;
    r.run_id = result.run_id;
    r.trigger = o.trigger;
    r.state = kStateSkipped;
    r.start_micros = r.end_micros = now;
    r.error = result.error;
    LP_RETURN_IF_ERROR(history.Append({r}));
    say("run " + result.run_id + " of job " + job->name + " skipped: " + result.error);
    return result;
  }

  // Which run: a new one, or the last one of the job that did not succeed.
  LP_ASSIGN_OR_RETURN(std::vector<RunRecord> rows, history.ReadAll());
  std::map<std::string, std::vector<const RunRecord*>> by_run;
  for (const auto& r : rows) {
    if (r.job == job->name && r.state != kStateSkipped) by_run[r.run_id].push_back(&r);
  }
  auto run_succeeded = [&](const std::string& id) {
    for (const RunRecord* r : by_run[id]) {
      if (r->task.empty() && r->state == kStateSucceeded) return true;
    }
    return false;
  };
  std::string resume;
  if (o.resume_run_id) {
    if (!by_run.count(*o.resume_run_id)) {
      return Status::NotFound("job " + job->name + " has no run " + *o.resume_run_id + " in " + history.table_path());
    }
    if (run_succeeded(*o.resume_run_id)) {
      return Status::InvalidArgument("run " + *o.resume_run_id + " of job " + job->name +
                                     " succeeded: there is nothing to resume");
    }
    resume = *o.resume_run_id;
  } else if (!o.new_run && o.only_tasks.empty() && !by_run.empty()) {
    const std::string& last = by_run.rbegin()->first;  // run ids sort by start time
    if (!run_succeeded(last)) resume = last;
  }

  int64_t start_micros = o.clock->NowMicros();
  std::map<std::string, std::string> params;
  std::set<std::string> done_earlier;
  std::map<std::string, int> attempts_before;
  if (!resume.empty()) {
    result.run_id = resume;
    result.resumed = true;
    for (const RunRecord* r : by_run[resume]) {
      if (!r->task.empty() && r->state == kStateSucceeded) done_earlier.insert(r->task);
      if (!r->task.empty()) attempts_before[r->task] = std::max(attempts_before[r->task], r->attempt);
      if (params.empty() && !r->parameters.empty()) {
        nlohmann::json j = nlohmann::json::parse(r->parameters, nullptr, false);
        if (j.is_object()) {
          for (const auto& [k, v] : j.items()) {
            if (v.is_string()) params[k] = v.get<std::string>();
          }
        }
      }
    }
    for (const auto& [k, v] : o.params) {
      auto it = params.find(k);
      if (it != params.end() && it->second != v) {
        return Status::InvalidArgument("run " + resume + " of job " + job->name + " did not succeed and is resumed with its parameters, where " +
                                       k + "=" + it->second + ": pass --new to start a new run with " + k + "=" + v);
      }
    }
  } else {
    result.run_id = o.run_id.empty() ? NewRunId(start_micros) : o.run_id;
  }
  // Parameters: built-ins, the job's defaults, --param (a resumed run keeps its own).
  if (params.empty()) {
    params = job->parameters;
    for (const auto& [k, v] : o.params) params[k] = v;
    int64_t local_day = (start_micros / 1'000'000 + job->timezone.OffsetAt(start_micros / 1'000'000)) / 86400;
    int64_t y;
    int m, d;
    CivilFromDays(local_day, &y, &m, &d);
    char date[16];
    std::snprintf(date, sizeof date, "%04lld-%02d-%02d", static_cast<long long>(y), m, d);
    params["date"] = date;
    params["timestamp"] = FormatTimestampIso(start_micros);
  }
  params["run_id"] = result.run_id;
  params["job"] = job->name;
  params["jobs_dir"] = Absolute(file_.folder);
  params["storage"] = storage;
  params["lakepipe"] = o.lakepipe_binary.empty() ? "lakepipe" : o.lakepipe_binary;
  nlohmann::json params_json = nlohmann::json::object();
  for (const auto& [k, v] : params) params_json[k] = v;
  const std::string params_text = params_json.dump();
  const std::string trigger = result.resumed ? "resume" : o.trigger;

  std::string log_dir = storage + "/_job_logs/" + job->name + "/" + result.run_id;
  LP_RETURN_IF_ERROR(MakeDirs(log_dir));
  say("run " + result.run_id + " of job " + job->name + (result.resumed ? " (resumed)" : "") +
      ", parameters " + params_text);

  // The tasks of this run, and what each waits for.
  std::vector<const TaskSpec*> selected;
  for (const auto& t : job->tasks) {
    bool wanted = o.only_tasks.empty() ||
                  std::find(o.only_tasks.begin(), o.only_tasks.end(), t.name) != o.only_tasks.end();
    if (wanted) selected.push_back(&t);
  }
  enum class St { kPending, kWaitingRetry, kRunning, kSucceeded, kFailed, kUpstreamFailed, kCancelled };
  std::map<std::string, St> st;
  std::map<std::string, Attempt> running;
  std::map<std::string, int64_t> retry_at;
  for (const TaskSpec* t : selected) {
    if (done_earlier.count(t->name)) {
      st[t->name] = St::kSucceeded;
      result.tasks[t->name].state = "done earlier";
      say("  " + t->name + ": succeeded in an earlier attempt of this run, not run again");
    } else {
      st[t->name] = St::kPending;
    }
  }
  auto dep_state = [&](const std::string& dep) {
    auto it = st.find(dep);
    return it == st.end() ? St::kSucceeded : it->second;  // not selected (--task): taken as done
  };
  std::vector<RunRecord> pending_rows;
  auto record = [&](const TaskSpec& t, const Attempt* a, const std::string& state, const std::string& error) {
    RunRecord r;
    r.job = job->name;
    r.run_id = result.run_id;
    r.task = t.name;
    r.attempt = a != nullptr ? a->number : 0;
    r.trigger = trigger;
    r.state = state;
    r.end_micros = o.clock->NowMicros();
    r.start_micros = a != nullptr ? a->start_micros : r.end_micros;
    r.error = error;
    r.parameters = params_text;
    r.log = a != nullptr ? a->log : "";
    Status s = history.Append({r});
    if (!s.ok()) say("  warning: " + s.message());
  };

  auto stopping = [&o] { return o.stop != nullptr && o.stop->load(); };
  for (;;) {
    // Dependants of a failure will not run.
    for (bool changed = true; changed;) {
      changed = false;
      for (const TaskSpec* t : selected) {
        if (st[t->name] != St::kPending) continue;
        for (const auto& dep : t->depends_on) {
          St d = dep_state(dep);
          if (d == St::kFailed || d == St::kUpstreamFailed || d == St::kCancelled) {
            st[t->name] = St::kUpstreamFailed;
            std::string why = "not run: task " + dep + (d == St::kCancelled ? " was cancelled" : " failed");
            result.tasks[t->name] = {kStateUpstreamFailed, 0, why};
            record(*t, nullptr, kStateUpstreamFailed, why);
            say("  " + t->name + ": " + why);
            changed = true;
            break;
          }
        }
      }
    }
    int64_t now_ms = NowMs();
    // Start what is ready, in file order, up to max_parallel.
    if (!stopping()) {
      for (const TaskSpec* t : selected) {
        if (static_cast<int>(running.size()) >= job->max_parallel) break;
        St s = st[t->name];
        if (s == St::kWaitingRetry && now_ms < retry_at[t->name]) continue;
        if (s != St::kPending && s != St::kWaitingRetry) continue;
        bool ready = true;
        for (const auto& dep : t->depends_on) ready = ready && dep_state(dep) == St::kSucceeded;
        if (!ready) continue;
        TaskOutcome& out = result.tasks[t->name];
        Attempt a;
        a.number = attempts_before[t->name] + out.attempts + 1;
        a.start_micros = o.clock->NowMicros();
        a.start_ms = now_ms;
        a.deadline_ms = t->timeout_ms > 0 ? now_ms + t->timeout_ms : 0;
        a.log = log_dir + "/" + t->name + "." + std::to_string(a.number) + ".log";
        ++out.attempts;
        auto argv = TaskArgv(*t, o.lakepipe_binary, params);
        std::map<std::string, std::string> env;
        std::string cwd = Absolute(file_.folder);
        Result<pid_t> pid = argv.ok() ? Result<pid_t>(0) : Result<pid_t>(argv.status());
        if (argv.ok()) {
          for (const auto& [k, v] : t->env) env[k] = Substitute(v, params, t->name).ValueOr(v);
          if (!t->cwd.empty()) {
            std::string c = Substitute(t->cwd, params, t->name).ValueOr(t->cwd);
            cwd = c[0] == '/' ? c : cwd + "/" + c;
          }
          if (t->kind == TaskKind::kGenerate) {
            // `lakepipe generate` writes into an existing folder: the job makes it.
            std::string out = (*argv)[4];
            if (out[0] != '/') out = cwd + "/" + out;
            size_t slash = out.rfind('/');
            Status made = MakeDirs(out.substr(0, slash));
            if (!made.ok()) pid = made;
          }
          if (pid.ok()) pid = Spawn(*argv, env, cwd, a.log);
        }
        if (!pid.ok()) {
          // Not started (program missing, ...): a failed attempt like any other.
          a.pid = -1;
          std::string err = pid.status().message();
          bool retry = out.attempts <= t->retries;
          record(*t, &a, kStateFailed, err);
          say("  " + t->name + ": attempt " + std::to_string(a.number) + " failed: " + err);
          if (retry) {
            int64_t backoff = std::min(t->retry_backoff_max_ms, t->retry_backoff_ms << std::min(out.attempts - 1, 20));
            st[t->name] = St::kWaitingRetry;
            retry_at[t->name] = now_ms + backoff;
          } else {
            st[t->name] = St::kFailed;
            out.state = kStateFailed;
            out.error = err;
          }
          continue;
        }
        a.pid = *pid;
        st[t->name] = St::kRunning;
        say("  " + t->name + ": started attempt " + std::to_string(a.number) + " (log " + a.log + ")");
        running[t->name] = a;
      }
    }
    // Ends, timeouts, cancellation.
    for (auto it = running.begin(); it != running.end();) {
      const TaskSpec& t = *job->FindTask(it->first);
      Attempt& a = it->second;
      now_ms = NowMs();
      if (a.kill_at_ms == 0 && ((a.deadline_ms > 0 && now_ms >= a.deadline_ms) || stopping())) {
        a.timed_out = !stopping();
        a.cancelled = stopping();
        ::kill(-a.pid, SIGTERM);
        a.kill_at_ms = now_ms + o.kill_grace_ms;
      } else if (a.kill_at_ms > 0 && now_ms >= a.kill_at_ms) {
        ::kill(-a.pid, SIGKILL);
        a.kill_at_ms = INT64_MAX;
      }
      int status = 0;
      pid_t r = ::waitpid(a.pid, &status, WNOHANG);
      if (r == 0 || (r < 0 && errno == EINTR)) {
        ++it;
        continue;
      }
      // The group may hold grandchildren (sh -c ...): they go with the task.
      if (a.timed_out || a.cancelled) ::kill(-a.pid, SIGKILL);
      TaskOutcome& out = result.tasks[t.name];
      int64_t took = now_ms - a.start_ms;
      if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !a.timed_out && !a.cancelled) {
        st[t.name] = St::kSucceeded;
        out.state = kStateSucceeded;
        out.error.clear();
        record(t, &a, kStateSucceeded, "");
        say("  " + t.name + ": succeeded in " + FormatSeconds(took));
      } else {
        std::string err;
        std::string state = kStateFailed;
        if (a.cancelled) {
          state = kStateCancelled;
          err = "cancelled (the run was stopped)";
        } else if (a.timed_out) {
          state = kStateTimedOut;
          err = "timed out after " + FormatSeconds(t.timeout_ms) + " and was killed";
        } else {
          err = r > 0 ? ExitText(status) : "lost the process";
          std::string last = LastLine(a.log);
          if (!last.empty()) err += ": " + last;
        }
        record(t, &a, state, err);
        bool retry = !a.cancelled && out.attempts <= t.retries;
        if (retry) {
          int64_t backoff = std::min(t.retry_backoff_max_ms, t.retry_backoff_ms << std::min(out.attempts - 1, 20));
          st[t.name] = St::kWaitingRetry;
          retry_at[t.name] = now_ms + backoff;
          say("  " + t.name + ": attempt " + std::to_string(a.number) + " " + state + " (" + err + "); retry in " +
              FormatSeconds(backoff));
        } else {
          st[t.name] = a.cancelled ? St::kCancelled : St::kFailed;
          out.state = state;
          out.error = err;
          say("  " + t.name + ": " + state + " (" + err + ")" +
              (t.retries > 0 && !a.cancelled ? ", retries exhausted" : ""));
        }
      }
      it = running.erase(it);
    }
    // Waiting retries are dropped when the run stops.
    if (stopping()) {
      for (const TaskSpec* t : selected) {
        if (st[t->name] == St::kWaitingRetry || st[t->name] == St::kPending) {
          st[t->name] = St::kCancelled;
          result.tasks[t->name].state = kStateCancelled;
          result.tasks[t->name].error = "not run: the run was stopped";
        }
      }
    }
    bool open = false;
    for (const TaskSpec* t : selected) {
      St s = st[t->name];
      open = open || s == St::kPending || s == St::kWaitingRetry || s == St::kRunning;
    }
    if (!open) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  std::vector<std::string> failed;
  bool cancelled = false;
  for (const TaskSpec* t : selected) {
    St s = st[t->name];
    if (s == St::kFailed) failed.push_back(t->name);
    if (s == St::kCancelled) cancelled = true;
  }
  if (cancelled) {
    result.state = kStateCancelled;
    result.error = "the run was stopped";
  } else if (!failed.empty()) {
    result.state = kStateFailed;
    for (const auto& f : failed) {
      result.error += (result.error.empty() ? "" : "; ") + ("task " + f + ": " + result.tasks[f].error);
    }
  } else {
    result.state = kStateSucceeded;
  }
  RunRecord run;
  run.job = job->name;
  run.run_id = result.run_id;
  run.trigger = trigger;
  run.state = result.state;
  run.start_micros = start_micros;
  run.end_micros = o.clock->NowMicros();
  run.error = result.error;
  run.parameters = params_text;
  LP_RETURN_IF_ERROR(history.Append({run}));
  say("run " + result.run_id + " " + result.state + (result.error.empty() ? "" : ": " + result.error));
  return result;
}

}  // namespace lakepipe::jobs
