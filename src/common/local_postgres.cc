#include "common/local_postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace lakepipe {
namespace {

namespace fsys = std::filesystem;

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with its arguments as `uid`/`gid` (-1: unchanged), in `cwd`,
// stdout and stderr captured. stdin is /dev/null.
Result<Output> RunProgram(const std::vector<std::string>& argv, int uid, int gid, const std::string& cwd) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return Status::FromErrno(errno, "pipe");
  }
  pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "fork " + argv[0]);
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    if (gid >= 0 && (::setgroups(0, nullptr) != 0 || ::setgid(static_cast<gid_t>(gid)) != 0)) ::_exit(126);
    if (uid >= 0 && ::setuid(static_cast<uid_t>(uid)) != 0) ::_exit(126);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      std::string msg = "cannot enter " + cwd + " as this user (a parent folder is not searchable)\n";
      (void)!::write(STDERR_FILENO, msg.data(), msg.size());
      ::_exit(125);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(argv[0].c_str(), args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  Output result;
  // Two pipes read alternately by poll would be exact; the outputs here are small, so read
  // stderr after stdout (stderr's pipe buffer of 64 KiB is never filled by these tools).
  char buf[8192];
  ssize_t n;
  while ((n = ::read(out_pipe[0], buf, sizeof buf)) > 0) result.out.append(buf, static_cast<size_t>(n));
  while ((n = ::read(err_pipe[0], buf, sizeof buf)) > 0) result.err.append(buf, static_cast<size_t>(n));
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string Quote(const std::string& s) {
  if (s.find_first_of(" '\"\\$`") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

Result<std::string> FindPostgresBinDir() {
  if (const char* env = std::getenv("LAKEPIPE_PG_BIN"); env != nullptr && *env != '\0') {
    if (!fsys::exists(fsys::path(env) / "initdb")) {
      return Status::NotFound(std::string("LAKEPIPE_PG_BIN=") + env + " has no initdb");
    }
    return std::string(env);
  }
  std::error_code ec;
  int best = -1;
  std::string best_dir;
  for (const auto& entry : fsys::directory_iterator("/usr/lib/postgresql", ec)) {
    std::string name = entry.path().filename().string();
    int version = std::atoi(name.c_str());
    if (version > best && fsys::exists(entry.path() / "bin" / "initdb")) {
      best = version;
      best_dir = (entry.path() / "bin").string();
    }
  }
  if (best < 0) {
    return Status::NotFound(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's `postgresql` "
        "package (scripts/install-deps.sh test) or set LAKEPIPE_PG_BIN");
  }
  return best_dir;
}

Result<std::unique_ptr<LocalPostgres>> LocalPostgres::Start(LocalPostgresOptions options) {
  if (options.folder.empty()) return Status::InvalidArgument("LocalPostgres needs a folder");
  std::error_code ec;
  options.folder = fsys::absolute(options.folder, ec).lexically_normal().string();
  // The socket path must fit in sun_path (107 bytes) with "/.s.PGSQL.NNNNN".
  if (options.folder.size() > 80) {
    return Status::InvalidArgument("PostgreSQL folder path too long for its unix socket (max 80 characters): " +
                                   options.folder);
  }
  std::unique_ptr<LocalPostgres> pg(new LocalPostgres(options));
  LP_ASSIGN_OR_RETURN(pg->bin_dir_, FindPostgresBinDir());
  fsys::create_directories(options.folder, ec);
  if (ec) return Status::IOError("cannot create " + options.folder + ": " + ec.message());
  if (::geteuid() == 0) {
    passwd* pw = ::getpwnam(options.run_as.c_str());
    if (pw == nullptr) {
      return Status::NotFound("PostgreSQL refuses to run as root, and the user `" + options.run_as +
                              "` to run it as does not exist");
    }
    pg->uid_ = static_cast<int>(pw->pw_uid);
    pg->gid_ = static_cast<int>(pw->pw_gid);
    if (::chown(options.folder.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Status::FromErrno(errno, "chown " + options.folder);
    }
  }
  ::chmod(options.folder.c_str(), 0700);
  std::string data = options.folder + "/data";
  if (!fsys::exists(data + "/PG_VERSION")) {
    LP_ASSIGN_OR_RETURN(Output out, RunProgram({pg->bin_dir_ + "/initdb", "-D", data, "-U", "postgres", "-A", "trust",
                                                "-E", "UTF8", "--locale=C", "--no-sync"},
                                               pg->uid_, pg->gid_, options.folder));
    if (out.exit_code != 0) {
      return Status::IOError("initdb " + data + " failed (exit " + std::to_string(out.exit_code) + "): " + out.err +
                             out.out.substr(out.out.size() > 2000 ? out.out.size() - 2000 : 0));
    }
    // Settings for a throwaway server: durability is not its job (the lake is the source
    // of truth and the progress table is rewritten from it); logical decoding on demand.
    std::ofstream conf(data + "/postgresql.conf", std::ios::app);
    conf << "\n# lakepipe LocalPostgres\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '"
         << options.folder << "'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
         << "max_connections = 50\nshared_buffers = 32MB\nlogging_collector = off\n";
    if (options.logical_replication) {
      conf << "wal_level = logical\nmax_replication_slots = 10\nmax_wal_senders = 10\n";
    }
    if (!conf) return Status::IOError("cannot write " + data + "/postgresql.conf");
  }
  pg->port_ = options.port;
  Status st;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (options.port == 0) pg->port_ = FreeLoopbackPort();
    st = pg->StartServer();
    if (st.ok() || options.port != 0) break;
    // Another process may have taken the free port between the probe and the bind.
    if (pg->LogTail().find("already in use") == std::string::npos) break;
  }
  LP_RETURN_IF_ERROR(st);
  return pg;
}

Status LocalPostgres::StartServer() {
  std::string data = options_.folder + "/data";
  LP_ASSIGN_OR_RETURN(Output out, RunProgram({bin_dir_ + "/pg_ctl", "-D", data, "-l", options_.folder + "/server.log",
                                              "-o", "-p " + std::to_string(port_), "-w", "-t", "60", "start"},
                                             uid_, gid_, options_.folder));
  if (out.exit_code != 0) {
    return Status::IOError("PostgreSQL did not start in " + data + " on port " + std::to_string(port_) + ": " +
                           out.err + LogTail());
  }
  running_ = true;
  return Status::OK();
}

Status LocalPostgres::Stop() {
  if (!running_) return Status::OK();
  LP_ASSIGN_OR_RETURN(Output out, RunProgram({bin_dir_ + "/pg_ctl", "-D", options_.folder + "/data", "-m", "fast",
                                              "-w", "-t", "60", "stop"},
                                             uid_, gid_, options_.folder));
  if (out.exit_code != 0) return Status::IOError("pg_ctl stop failed: " + out.err + LogTail());
  running_ = false;
  return Status::OK();
}

Status LocalPostgres::Restart() {
  if (running_) return Status::OK();
  return StartServer();
}

LocalPostgres::~LocalPostgres() {
  if (!running_) return;
  // Immediate: a test that failed may leave sessions open; nothing here needs a clean
  // shutdown checkpoint.
  auto out = RunProgram({bin_dir_ + "/pg_ctl", "-D", options_.folder + "/data", "-m", "immediate", "-w", "-t", "60",
                         "stop"},
                        uid_, gid_, options_.folder);
  (void)out;
}

std::string LocalPostgres::Dsn(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

std::string LocalPostgres::PsqlCommand(const std::string& dbname, const std::string& user) const {
  // Debian's /usr/bin/psql (postgresql-client) when there, else the server's own.
  std::string psql = std::filesystem::exists("/usr/bin/psql") ? "psql" : Quote(bin_dir_ + "/psql");
  return psql + " -h 127.0.0.1 -p " + std::to_string(port_) + " -U " + Quote(user) + " " + Quote(dbname);
}

Result<std::string> LocalPostgres::Psql(const std::string& sql, const std::string& dbname) const {
  LP_ASSIGN_OR_RETURN(Output out, RunProgram({bin_dir_ + "/psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                                              "-h", options_.folder, "-p", std::to_string(port_), "-U", "postgres",
                                              "-d", dbname, "-c", sql},
                                             -1, -1, ""));
  if (out.exit_code != 0) {
    return Status::IOError("psql failed (exit " + std::to_string(out.exit_code) + "): " + out.err);
  }
  return out.out;
}

std::string LocalPostgres::LogTail() const {
  std::ifstream in(options_.folder + "/server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string log = ss.str();
  if (log.size() > 2000) log = log.substr(log.size() - 2000);
  return log.empty() ? std::string() : "\n--- server.log (tail) ---\n" + log;
}

}  // namespace lakepipe
