#include "support/probe.h"

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

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

absl::StatusOr<std::unique_ptr<Subprocess>> StartProbe(const ProbeOptions& options) {
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
                  std::to_string(options.wait_ready_ms), "--rounds",
                  std::to_string(options.rounds), "--round-interval-ms",
                  std::to_string(options.round_interval_ms)});
  sp.env["GRPC_XDS_BOOTSTRAP"] = options.bootstrap_path;
  sp.log_path = options.log_path;
  return Subprocess::Start(sp);
}

std::vector<ProbeResult> ParseProbeOutput(const std::string& output) {
  std::vector<ProbeResult> results;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("ok") || !j["ok"].is_number_integer()) continue;
    ProbeResult r;
    r.ok = j["ok"].get<long>();
    if (j.contains("failed") && j["failed"].is_number_integer()) r.failed = j["failed"].get<long>();
    if (j.contains("last_error") && j["last_error"].is_string()) {
      r.last_error = j["last_error"].get<std::string>();
    }
    if (j.contains("backends") && j["backends"].is_object()) {
      for (const auto& [name, count] : j["backends"].items()) {
        if (count.is_number_integer()) r.backends[name] = count.get<long>();
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

absl::StatusOr<ProbeResult> RunProbe(const ProbeOptions& options) {
  absl::StatusOr<std::unique_ptr<Subprocess>> proc = StartProbe(options);
  if (!proc.ok()) return proc.status();
  absl::StatusOr<int> code = (*proc)->Wait(options.timeout);
  if (!code.ok()) return code.status();
  std::vector<ProbeResult> results = ParseProbeOutput((*proc)->Log());
  if (results.empty()) {
    return absl::InternalError(absl::StrCat(ProbeClientName(options.client),
                                            " printed no result (exit ", *code, "); log tail:\n",
                                            (*proc)->LogTail()));
  }
  ProbeResult r = results.back();
  r.exit_code = *code;
  return r;
}

std::string ToString(const ProbeResult& result) {
  std::string s = absl::StrCat("ok=", result.ok, " failed=", result.failed, " backends={");
  bool first = true;
  for (const auto& [name, count] : result.backends) {
    absl::StrAppend(&s, first ? "" : ", ", name, ": ", count);
    first = false;
  }
  absl::StrAppend(&s, "}");
  if (!result.last_error.empty()) absl::StrAppend(&s, " last_error=\"", result.last_error, "\"");
  return s;
}

}  // namespace tern::testing
