#pragma once
// Runs a real proxyless xDS client against tern and reports how its calls were spread over the
// backends. Each run is a separate process because gRPC's XdsClient is process-global: two runs
// in one process would share one xDS stream and its cached resources.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "support/process.h"

namespace tern::testing {

enum class ProbeClient {
  kGrpcCpp,  // build/tern-xds-probe (gRPC C++)
  kGrpcJs,   // node test/interop/grpcjs_client.js (@grpc/grpc-js-xds)
};
const char* ProbeClientName(ProbeClient client);

struct ProbeOptions {
  ProbeClient client = ProbeClient::kGrpcCpp;
  std::string target;          // "xds:///greeter"
  std::string bootstrap_path;  // exported as GRPC_XDS_BOOTSTRAP
  int calls = 100;
  int deadline_ms = 2000;       // per call
  int wait_ready_ms = 15000;    // retrying the first call until the channel works
  int rounds = 1;               // > 1: repeat the calls on the same channel, one result per round
  int round_interval_ms = 0;
  std::chrono::milliseconds timeout = std::chrono::seconds(90);  // the whole run
  std::string log_path;         // stdout+stderr of the client; empty: a temp file
};

struct ProbeResult {
  long ok = 0;
  long failed = 0;
  std::map<std::string, long> backends;  // backend name → calls it answered
  std::string last_error;                // the last failed call's status, if any
  int exit_code = -1;

  long count(const std::string& backend) const {
    auto it = backends.find(backend);
    return it == backends.end() ? 0 : it->second;
  }
};

// Runs the client to completion and parses its (last) JSON line. An error means the client could
// not be run or printed no result; failed calls are a result (see `failed`, `last_error`).
absl::StatusOr<ProbeResult> RunProbe(const ProbeOptions& options);

// Starts the client without waiting: for a long-lived client (rounds > 1) that a test watches
// while it changes the configuration under it. Read its rounds with ParseProbeOutput(Log()).
absl::StatusOr<std::unique_ptr<Subprocess>> StartProbe(const ProbeOptions& options);

// Every result line in a client's output, in order (other lines, e.g. gRPC logs, are skipped).
std::vector<ProbeResult> ParseProbeOutput(const std::string& output);

std::string ToString(const ProbeResult& result);

// Where the tools are: TERN_BINARY_DIR/tern-xds-probe, TERN_SOURCE_DIR/test/interop/...,
// node_modules from $TERN_NODE_MODULES or TERN_SOURCE_DIR/node_modules.
std::string XdsProbePath();
std::string GrpcJsClientPath();
std::string NodeModulesDir();

}  // namespace tern::testing
