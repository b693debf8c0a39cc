#pragma once
// Processes, ports and files for tests that drive real binaries (tern, test backends, xDS clients).
//
// Every process a test starts is a Subprocess: it runs in its own process group, its stdout and
// stderr go to a log file, it dies with the test process (PR_SET_PDEATHSIG), and its destructor
// stops it by PID (SIGTERM, then SIGKILL after a grace period) and reaps it, so a failing test
// never leaves an orphan listening on a port.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tern::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents by the destructor unless
// TERN_KEEP_TEMP=1 is set (then its path is printed, to look at logs after a failure).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `content` to `path` in place (truncate + write).
absl::Status WriteFile(const std::string& path, const std::string& content);
// Writes `content` to a sibling temp file and renames it over `path`, the way deploy tools and
// editors replace a file: a watcher never sees a half-written file.
absl::Status WriteFileAtomic(const std::string& path, const std::string& content);
absl::StatusOr<std::string> ReadFile(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int FreePort();

struct SubprocessOptions {
  // argv[0] is the program: a path, or a name looked up on PATH.
  std::vector<std::string> argv;
  // Added to (or replacing in) this process's environment.
  std::map<std::string, std::string> env;
  // Where stdout and stderr go; empty: a file in a temp dir owned by the Subprocess.
  std::string log_path;
  // When set, stderr goes here instead (for commands whose stdout is data, e.g. JSON).
  std::string stderr_path;
  // Working directory of the child; empty: inherited.
  std::string cwd;
};

class Subprocess {
 public:
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(SubprocessOptions options);
  ~Subprocess();  // Kill()
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // The program and its arguments, for messages.
  std::string CommandLine() const;

  // Polls the log until a line matches `pattern` (std::regex, ECMAScript, searched within the
  // line). Returns the match: [0] the whole match, [1..] its groups. Fails on timeout or when the
  // process exits first; the message carries the log's tail.
  absl::StatusOr<std::vector<std::string>> WaitForLine(const std::string& pattern,
                                                       std::chrono::milliseconds timeout);
  // Waits for the process to exit by itself and returns its exit code (128+signal if killed).
  // On timeout the process is killed and an error returned.
  absl::StatusOr<int> Wait(std::chrono::milliseconds timeout);
  bool Running();

  // SIGTERM to the process group, up to `grace` for it to exit, then SIGKILL; always reaps.
  // Idempotent.
  void Kill(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  std::string Log() const;
  // The last `max_bytes` of the log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  Subprocess() = default;
  // Non-blocking reap; returns true (and records the exit code) once the child is gone.
  bool Reap();

  std::vector<std::string> argv_;
  std::unique_ptr<TempDir> own_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  bool killed_ = false;
  int exit_code_ = -1;
};

}  // namespace tern::testing
