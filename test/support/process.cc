#include "support/process.h"

#include <mutex>
#include <set>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace tern::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(20);

absl::Status ErrnoStatus(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base && *base ? base : "/tmp", "/tern-test-XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    std::cerr << "TempDir: mkdtemp(" << tmpl << "): " << std::strerror(errno) << std::endl;
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  const char* keep = std::getenv("TERN_KEEP_TEMP");
  if (keep != nullptr && std::string(keep) == "1") {
    std::cerr << "TempDir: kept " << path_ << std::endl;
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot open ", path, " for writing"));
  out << content;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  if (absl::Status st = WriteFile(tmp, content); !st.ok()) return st;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("rename ", tmp, " -> ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {
int KernelPickedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}
}  // namespace

int FreePort() {
  // The kernel may hand the same port out again once its socket is closed: a test that asks for
  // several ports before starting a server (Consul: HTTP, Serf LAN/WAN, RPC) got two alike. A port
  // is not handed out twice by this process.
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard<std::mutex> l(mu);
  for (int attempt = 0; attempt < 50; ++attempt) {
    int port = KernelPickedPort();
    if (port < 0) return port;
    if (given.insert(port).second) return port;
  }
  return KernelPickedPort();
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(SubprocessOptions options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("Subprocess: empty argv");
  std::unique_ptr<Subprocess> p(new Subprocess());
  p->argv_ = options.argv;
  if (options.log_path.empty()) {
    p->own_dir_ = std::make_unique<TempDir>();
    options.log_path = p->own_dir_->File("output.log");
  }
  p->log_path_ = options.log_path;

  // Everything the child needs is prepared here: between fork and exec only async-signal-safe
  // calls are allowed (the test process has threads).
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& s : options.argv) argv.push_back(s.data());
  argv.push_back(nullptr);

  int log_fd = open(p->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoStatus(absl::StrCat("open ", p->log_path_));
  int err_fd = -1;
  if (!options.stderr_path.empty()) {
    err_fd = open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err_fd < 0) {
      close(log_fd);
      return ErrnoStatus(absl::StrCat("open ", options.stderr_path));
    }
  }
  const pid_t parent = getpid();
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();

  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    if (err_fd >= 0) close(err_fd);
    return ErrnoStatus("fork");
  }
  if (pid == 0) {
    // Child. Its own process group, so that Kill() also reaches anything it spawns; and it dies
    // with the test process even if the test is killed before any destructor runs.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(err_fd >= 0 ? err_fd : log_fd, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (cwd != nullptr && chdir(cwd) != 0) _exit(126);
    execvpe(argv[0], argv.data(), envp.data());
    static const char kMsg[] = "Subprocess: exec failed\n";
    (void)!write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    _exit(127);
  }
  close(log_fd);
  if (err_fd >= 0) close(err_fd);
  // Also from the parent, so that a Kill() right after Start() cannot miss the group.
  setpgid(pid, pid);
  p->pid_ = pid;
  return p;
}

Subprocess::~Subprocess() { Kill(); }

std::string Subprocess::CommandLine() const { return absl::StrJoin(argv_, " "); }

bool Subprocess::Reap() {
  if (exited_) return true;
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return false;
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                   : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1);
  }
  exited_ = true;  // r < 0: not our child any more (ECHILD); nothing left to wait for.
  return true;
}

bool Subprocess::Running() { return !Reap(); }

void Subprocess::Kill(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || killed_) return;
  killed_ = true;
  if (!Reap()) {
    kill(-pid_, SIGTERM);
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + grace;
    while (!Reap() && Clock::now() < deadline) std::this_thread::sleep_for(kPollInterval);
    if (!exited_) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      exited_ = true;
      exit_code_ = 128 + SIGKILL;
    }
  }
  // Anything the child left behind in its group goes too.
  kill(-pid_, SIGKILL);
}

absl::StatusOr<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!Reap()) {
    if (Clock::now() >= deadline) {
      Kill();
      return absl::DeadlineExceededError(
          absl::StrCat("`", CommandLine(), "` did not exit within ", timeout.count(),
                       " ms; log tail:\n", LogTail()));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return exit_code_;
}

absl::StatusOr<std::vector<std::string>> Subprocess::WaitForLine(
    const std::string& pattern, std::chrono::milliseconds timeout) {
  const std::regex re(pattern);
  const auto deadline = Clock::now() + timeout;
  while (true) {
    // Checked before reading, so that output printed just before the exit is still seen.
    const bool gone = !Running();
    std::istringstream log(Log());
    std::string line;
    while (std::getline(log, line)) {
      std::smatch m;
      if (std::regex_search(line, m, re)) {
        std::vector<std::string> groups;
        for (const auto& g : m) groups.push_back(g.str());
        return groups;
      }
    }
    if (gone) {
      return absl::FailedPreconditionError(
          absl::StrCat("`", CommandLine(), "` exited (code ", exit_code_, ") before printing /",
                       pattern, "/; log tail:\n", LogTail()));
    }
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("`", CommandLine(), "` printed no line /",
                                                      pattern, "/ within ", timeout.count(),
                                                      " ms; log tail:\n", LogTail()));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::string Subprocess::Log() const {
  absl::StatusOr<std::string> s = ReadFile(log_path_);
  return s.ok() ? *s : std::string();
}

std::string Subprocess::LogTail(size_t max_bytes) const {
  std::string log = Log();
  if (log.size() <= max_bytes) return log;
  return "..." + log.substr(log.size() - max_bytes);
}

}  // namespace tern::testing
