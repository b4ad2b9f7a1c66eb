#include "governance/policy_reloader.h"

#include <signal.h>

#include <chrono>
#include <cstdio>

namespace lakepipe::governance {

namespace {

std::atomic<uint64_t> g_reload_requests{0};
constexpr int64_t kSignalCheckMs = 100;

extern "C" void ReloadOnSighup(int) { RequestPolicyReload(); }

}  // namespace

void RequestPolicyReload() { g_reload_requests.fetch_add(1, std::memory_order_relaxed); }

void InstallSighupReload() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = ReloadOnSighup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, nullptr);
  });
}

PolicyReloader::PolicyReloader(Callbacks callbacks, const Policy& initial, AuditLog* audit, std::string storage,
                               int64_t poll_ms, FileSystem* fs)
    : callbacks_(std::move(callbacks)), audit_(audit), storage_(std::move(storage)), poll_ms_(poll_ms), fs_(fs) {
  stamps_ = StampsOf(initial.files());
  seen_signal_ = g_reload_requests.load();
}

PolicyReloader::~PolicyReloader() { Stop(); }

std::map<std::string, PolicyReloader::Stamp> PolicyReloader::StampsOf(const std::vector<std::string>& files) const {
  std::map<std::string, Stamp> out;
  for (const auto& f : files) {
    Stamp s;
    auto info = fs_->Stat(f);
    if (info.ok()) {
      s.size = info->size;
      s.mtime_micros = info->mtime_micros;
      s.inode = info->inode;
    }
    out[f] = s;
  }
  return out;
}

Status PolicyReloader::ReloadNow() {
  // The files as they are before reading them: a change made while reading is seen at
  // the next look and read again.
  std::vector<std::string> watched;
  for (const auto& [f, s] : stamps_) watched.push_back(f);
  std::map<std::string, Stamp> before = StampsOf(watched);
  Result<Policy> loaded = callbacks_.load();
  Status st = loaded.status();
  if (st.ok() && callbacks_.check) st = callbacks_.check(*loaded);
  if (!st.ok()) {
    stamps_ = before;  // reported once; the next change of the files is tried again
    failures_.fetch_add(1);
    std::fprintf(stderr, "lakepipe: the grants were not reloaded (the previous ones stay in effect): %s\n",
                 st.message().c_str());
    std::fflush(stderr);
    if (audit_ != nullptr) {
      AuditRecord r;
      r.principal = LocalUser();
      r.role = "os";
      r.action = "grant_change";
      r.target = watched.empty() ? "(no governance)" : watched.front();
      r.source = LocalSource();
      r.outcome = "failed";
      r.status = 1;
      r.detail = "not reloaded, the previous grants stay in effect: " + st.message();
      Status recorded = audit_->Record(std::move(r));
      if (!recorded.ok()) {
        std::fprintf(stderr, "lakepipe: warning: the audit log cannot be written: %s\n", recorded.message().c_str());
      }
    }
    return st;
  }
  Policy policy = std::move(loaded).value();
  // The new policy's files: a grants file renamed in the settings is watched from now on.
  std::map<std::string, Stamp> next = StampsOf(policy.files());
  for (auto& [f, s] : next)
    if (before.count(f)) s = before[f];
  stamps_ = std::move(next);
  if (audit_ != nullptr) {
    Status recorded = RecordPolicyChange(*audit_, storage_, policy, LocalUser(), LocalSource());
    if (!recorded.ok()) {
      std::fprintf(stderr, "lakepipe: warning: the grant change cannot be written to the audit log: %s\n",
                   recorded.message().c_str());
    }
  }
  callbacks_.apply(std::move(policy));
  reloads_.fetch_add(1);
  std::fprintf(stderr, "lakepipe: grants reloaded\n");
  std::fflush(stderr);
  return Status::OK();
}

void PolicyReloader::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void PolicyReloader::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PolicyReloader::Loop() {
  auto last_poll = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(kSignalCheckMs), [this] { return stopping_; });
      if (stopping_) return;
    }
    uint64_t signals = g_reload_requests.load();
    bool reload = signals != seen_signal_;
    seen_signal_ = signals;
    auto now = std::chrono::steady_clock::now();
    if (!reload && poll_ms_ > 0 && now - last_poll >= std::chrono::milliseconds(poll_ms_)) {
      last_poll = now;
      std::vector<std::string> watched;
      for (const auto& [f, s] : stamps_) watched.push_back(f);
      reload = StampsOf(watched) != stamps_;
    }
    if (reload) (void)ReloadNow();  // reported by ReloadNow
  }
}

}  // namespace lakepipe::governance
