#include "support/probe.h"

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "support/process.h"

namespace tern::testing {

const char* ProbeClientName(ProbeClient client) {
  return client == ProbeClient::kGrpcCpp ? "grpc-c++" : "grpc-js-xds";
}

std::string XdsProbePath() { return std::string(TERN_BINARY_DIR) + "/tern-xds-probe"; }
std::string GrpcJsClientPath() {
  return std::string(TERN_SOURCE_DIR) + "/test/interop/grpcjs_client.js";
}
std::string NodeModulesDir() {
  const char* env = std::getenv("TERN_NODE_MODULES");
  return env != nullptr && *env ? env : std::string(TERN_SOURCE_DIR) + "/node_modules";
}

absl::StatusOr<ProbeResult> RunProbe(const ProbeOptions& options) {
  SubprocessOptions sp;
  if (options.client == ProbeClient::kGrpcCpp) {
    sp.argv = {XdsProbePath()};
  } else {
    const char* node = std::getenv("TERN_NODE");
    sp.argv = {node != nullptr && *node ? node : "node", GrpcJsClientPath()};
    sp.env["TERN_NODE_MODULES"] = NodeModulesDir();
  }
  sp.argv.insert(sp.argv.end(),
                 {"--target", options.target, "--calls", std::to_string(options.calls),
                  "--deadline-ms", std::to_string(options.deadline_ms), "--wait-ready-ms",
                  std::to_string(options.wait_ready_ms)});
  sp.env["GRPC_XDS_BOOTSTRAP"] = options.bootstrap_path;
  sp.log_path = options.log_path;

  absl::StatusOr<std::unique_ptr<Subprocess>> proc = Subprocess::Start(sp);
  if (!proc.ok()) return proc.status();
  absl::StatusOr<int> code = (*proc)->Wait(options.timeout);
  if (!code.ok()) return code.status();

  // The result is the last line that parses as a JSON object with "ok"; gRPC may log other lines
  // to stderr, which shares the log.
  std::istringstream log((*proc)->Log());
  std::string line;
  nlohmann::json parsed;
  bool found = false;
  while (std::getline(log, line)) {
    if (line.empty() || line[0] != '{') continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("ok")) {
      parsed = std::move(j);
      found = true;
    }
  }
  if (!found) {
    return absl::InternalError(absl::StrCat(ProbeClientName(options.client),
                                            " printed no result (exit ", *code, "); log tail:\n",
                                            (*proc)->LogTail()));
  }
  ProbeResult r;
  r.exit_code = *code;
  r.ok = parsed.value("ok", 0L);
  r.failed = parsed.value("failed", 0L);
  r.last_error = parsed.value("last_error", std::string());
  if (parsed.contains("backends") && parsed["backends"].is_object()) {
    for (const auto& [name, count] : parsed["backends"].items()) {
      if (count.is_number_integer()) r.backends[name] = count.get<long>();
    }
  }
  return r;
}

}  // namespace tern::testing
