#include "support/tern_process.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "support/http_get.h"

namespace tern::testing {

std::string TernBinaryPath() { return std::string(TERN_BINARY_DIR) + "/tern"; }
std::string TestBackendBinaryPath() { return std::string(TERN_BINARY_DIR) + "/tern-test-backend"; }

absl::StatusOr<TestBackend> StartTestBackend(const std::string& name, const std::string& log_dir,
                                             bool with_http) {
  SubprocessOptions sp;
  sp.argv = {TestBackendBinaryPath(), "--name", name, "--grpc-port", "0"};
  if (with_http) sp.argv.insert(sp.argv.end(), {"--http-port", "0"});
  sp.log_path = absl::StrCat(log_dir, "/backend-", name, ".log");
  absl::StatusOr<std::unique_ptr<Subprocess>> proc = Subprocess::Start(sp);
  if (!proc.ok()) return proc.status();

  TestBackend b;
  b.name = name;
  b.process = std::move(*proc);
  absl::StatusOr<std::vector<std::string>> ready =
      b.process->WaitForLine("^READY$", std::chrono::seconds(20));
  if (!ready.ok()) return ready.status();
  auto port = [&](const std::string& key, int* out) -> absl::Status {
    absl::StatusOr<std::vector<std::string>> m =
        b.process->WaitForLine("^" + key + "=([0-9]+)$", std::chrono::seconds(1));
    if (!m.ok()) return m.status();
    if (!absl::SimpleAtoi((*m)[1], out)) return absl::InternalError("bad port line: " + (*m)[0]);
    return absl::OkStatus();
  };
  if (absl::Status st = port("GRPC_PORT", &b.grpc_port); !st.ok()) return st;
  if (with_http) {
    if (absl::Status st = port("HTTP_PORT", &b.http_port); !st.ok()) return st;
  }
  return b;
}

absl::StatusOr<std::unique_ptr<TernServer>> TernServer::Start(const TernServerOptions& options) {
  std::unique_ptr<TernServer> t(new TernServer());
  t->xds_port_ = FreePort();
  t->admin_port_ = FreePort();
  while (t->admin_port_ == t->xds_port_) t->admin_port_ = FreePort();
  if (t->xds_port_ <= 0 || t->admin_port_ <= 0) return absl::InternalError("no free port");

  std::string config = absl::StrCat("xds:\n  address: \"127.0.0.1:", t->xds_port_, "\"\n", options.xds_extra,
                                    "admin:\n  address: \"127.0.0.1:", t->admin_port_, "\"\n",
                                    options.admin_extra);
  if (!options.files.empty()) {
    config += "files:\n";
    for (const auto& f : options.files) config += absl::StrCat("  - \"", f, "\"\n");
  }
  config += options.extra_config;
  t->config_path_ = options.dir + "/tern.yaml";
  if (absl::Status st = WriteFile(t->config_path_, config); !st.ok()) return st;

  SubprocessOptions sp;
  sp.argv = {TernBinaryPath(), "serve", "--config", t->config_path_};
  sp.log_path = options.dir + "/tern.log";
  sp.env = options.env;
  absl::StatusOr<std::unique_ptr<Subprocess>> proc = Subprocess::Start(sp);
  if (!proc.ok()) return proc.status();
  t->process_ = std::move(*proc);

  // Ready means: every source synced once and a snapshot is built. Poll, and notice early if tern
  // exits (bad config, port taken) instead of waiting out the timeout.
  const auto deadline = std::chrono::steady_clock::now() + options.ready_timeout;
  while (true) {
    absl::Status st = WaitForHttp200("127.0.0.1", t->admin_port_, "/readyz",
                                     std::chrono::milliseconds(250));
    if (st.ok()) return t;
    if (!t->process_->Running()) {
      return absl::FailedPreconditionError(
          absl::StrCat("tern exited before /readyz answered 200; log tail:\n",
                       t->process_->LogTail()));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(st.message(), "\ntern log tail:\n",
                                                      t->process_->LogTail()));
    }
  }
}

absl::StatusOr<CommandResult> RunTern(const std::vector<std::string>& args,
                                      const std::string& log_path,
                                      std::chrono::milliseconds timeout) {
  SubprocessOptions sp;
  sp.argv = {TernBinaryPath()};
  sp.argv.insert(sp.argv.end(), args.begin(), args.end());
  sp.log_path = log_path;
  sp.stderr_path = log_path + ".stderr";
  absl::StatusOr<std::unique_ptr<Subprocess>> proc = Subprocess::Start(sp);
  if (!proc.ok()) return proc.status();
  absl::StatusOr<int> code = (*proc)->Wait(timeout);
  if (!code.ok()) return code.status();
  absl::StatusOr<std::string> err = ReadFile(sp.stderr_path);
  return CommandResult{.exit_code = *code, .out = (*proc)->Log(), .err = err.ok() ? *err : ""};
}

}  // namespace tern::testing
