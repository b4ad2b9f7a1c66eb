// PolicyReloader: reloads a server's principals and grants while it serves
// (docs/governance.md, "Reloading the grants"), so that a change needs no restart.
//
// It watches the files the policy was read from (Policy::files(): the settings file, a
// shared governance.yaml, the grants file) by polling their size, modification time and
// inode every `poll_ms`, and reloads at once on SIGHUP (InstallSighupReload). A reload is
// atomic: the new policy replaces the old one whole (`apply`), or, when it fails to load
// or `check` refuses it, the old one stays in effect, the error (with its file:line:col)
// goes to stderr and to the audit log (action `grant_change`, outcome `failed`). A
// successful reload that changes the principals or grants records `grant_change` with
// the changed lines (RecordPolicyChange). A file that keeps failing is reported once per
// change of the files, not at every poll.
//
// Thread-safety: Start and Stop from one thread; the callbacks run on the reloader's own
// thread, one at a time. The AuditLog (may be null) must outlive the reloader.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "governance/audit_log.h"
#include "governance/policy.h"

namespace lakepipe::governance {

// Installs (once per process) a SIGHUP handler that asks every PolicyReloader to reload.
// SIGHUP's default action ends the process; a server that reloads its grants takes it
// over, as daemons conventionally do.
void InstallSighupReload();
// What the handler does (async-signal-safe): every reloader reloads at its next look
// (within 100 ms).
void RequestPolicyReload();

class PolicyReloader {
 public:
  struct Callbacks {
    std::function<Result<Policy>()> load;           // reads the policy again
    std::function<Status(const Policy&)> check;     // may refuse it (may be empty)
    std::function<void(Policy)> apply;              // installs it
  };
  // `initial`: the policy in effect (its files are watched). `storage`: where `audit`
  // writes (RecordPolicyChange compares with its records). poll_ms 0: SIGHUP only.
  PolicyReloader(Callbacks callbacks, const Policy& initial, AuditLog* audit, std::string storage, int64_t poll_ms,
                 FileSystem* fs = FileSystem::Default());
  ~PolicyReloader();  // stops
  PolicyReloader(const PolicyReloader&) = delete;
  PolicyReloader& operator=(const PolicyReloader&) = delete;

  void Start();
  void Stop();
  // Reloads now, on the caller's thread (what a change or SIGHUP does): OK when the new
  // policy is in effect, else the error (the old one stays). Not while Start-ed.
  Status ReloadNow();
  // Reloads that put a policy in effect / that failed, so far.
  int64_t reloads() const { return reloads_.load(); }
  int64_t failures() const { return failures_.load(); }

 private:
  struct Stamp {
    int64_t size = -1;  // -1: missing
    int64_t mtime_micros = 0;
    uint64_t inode = 0;
    bool operator==(const Stamp& o) const {
      return size == o.size && mtime_micros == o.mtime_micros && inode == o.inode;
    }
  };
  std::map<std::string, Stamp> StampsOf(const std::vector<std::string>& files) const;
  void Loop();

  Callbacks callbacks_;
  AuditLog* audit_;
  std::string storage_;
  int64_t poll_ms_;
  FileSystem* fs_;
  std::map<std::string, Stamp> stamps_;  // of the files last loaded (or tried): reloader thread only
  uint64_t seen_signal_ = 0;             // reloader thread only
  std::atomic<int64_t> reloads_{0};
  std::atomic<int64_t> failures_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace lakepipe::governance
