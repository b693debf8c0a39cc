#pragma once
// The real binaries an end-to-end test starts: build/tern-test-backend and `build/tern serve`,
// each on free loopback ports, each stopped by PID when the object goes away.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "support/process.h"

namespace tern::testing {

std::string TernBinaryPath();         // TERN_BINARY_DIR/tern
std::string TestBackendBinaryPath();  // TERN_BINARY_DIR/tern-test-backend

struct TestBackend {
  std::string name;
  int grpc_port = 0;
  int http_port = 0;  // 0: no HTTP server
  std::unique_ptr<Subprocess> process;
};

// Starts `tern-test-backend --name NAME` on kernel-picked ports and waits for READY.
absl::StatusOr<TestBackend> StartTestBackend(const std::string& name, const std::string& log_dir,
                                             bool with_http = false);

struct TernServerOptions {
  std::string dir;                  // where tern.yaml and its log are written
  std::vector<std::string> files;   // `files:` entries, relative to dir
  std::string extra_config;         // more top-level YAML appended to tern.yaml
  std::string xds_extra;            // more YAML lines under `xds:` (indented two spaces), e.g. tls
  std::string admin_extra;          // more YAML lines under `admin:` (indented two spaces)
  std::chrono::milliseconds ready_timeout = std::chrono::seconds(30);
  std::map<std::string, std::string> env;  // added to tern's environment (e.g. LD_PRELOAD)
};

// `tern serve --config DIR/tern.yaml` with xds and admin on free loopback ports, started and
// polled on /readyz until it answers 200.
class TernServer {
 public:
  static absl::StatusOr<std::unique_ptr<TernServer>> Start(const TernServerOptions& options);

  int xds_port() const { return xds_port_; }
  int admin_port() const { return admin_port_; }
  std::string xds_address() const { return "127.0.0.1:" + std::to_string(xds_port_); }
  const std::string& config_path() const { return config_path_; }
  Subprocess& process() { return *process_; }

 private:
  TernServer() = default;
  int xds_port_ = 0;
  int admin_port_ = 0;
  std::string config_path_;
  std::unique_ptr<Subprocess> process_;
};

// Runs `tern ARGS...` to completion (e.g. render, validate); stdout goes to log_path, stderr to
// log_path + ".stderr".
struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
absl::StatusOr<CommandResult> RunTern(const std::vector<std::string>& args,
                                      const std::string& log_path,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace tern::testing
