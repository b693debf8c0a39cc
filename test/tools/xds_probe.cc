// tern-xds-probe: a proxyless gRPC client, the same kind a tern user runs in production.
//
//   tern-xds-probe --target xds:///NAME --calls N [--deadline-ms D] [--wait-ready-ms W]
//                  [--rounds R] [--round-interval-ms I]
//
// The channel's xDS client reads its bootstrap from GRPC_XDS_BOOTSTRAP. gRPC's XdsClient is
// process-global, so each probe run is its own process: it never shares xDS state with another.
// First it retries one call until the channel works (or W ms pass), then it makes N unary calls
// and prints one JSON line: {"ok":N,"failed":F,"backends":{"a":900,"b":100}}; when a call failed
// the line also carries "last_error". With --rounds R it repeats the N calls R times on the same
// channel, one JSON line per round (I ms apart): a test watches one long-lived client follow a
// configuration push. Exit status: 0 all calls ok, 1 some failed, 2 never ready.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "echo.grpc.pb.h"

namespace {

struct Flags {
  std::string target;
  long calls = -1;
  long deadline_ms = 2000;
  long wait_ready_ms = 10000;
  long rounds = 1;
  long round_interval_ms = 0;
};

void Usage() {
  std::cerr << "usage: tern-xds-probe --target xds:///NAME --calls N [--deadline-ms D] "
               "[--wait-ready-ms W] [--rounds R] [--round-interval-ms I]\n";
  std::exit(64);
}

long ParseNonNegative(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0) Usage();
  return v;
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--target") {
      f.target = value();
    } else if (a == "--calls") {
      f.calls = ParseNonNegative(value());
    } else if (a == "--deadline-ms") {
      f.deadline_ms = ParseNonNegative(value());
    } else if (a == "--wait-ready-ms") {
      f.wait_ready_ms = ParseNonNegative(value());
    } else if (a == "--rounds") {
      f.rounds = ParseNonNegative(value());
    } else if (a == "--round-interval-ms") {
      f.round_interval_ms = ParseNonNegative(value());
    } else {
      Usage();
    }
  }
  if (f.target.empty() || f.calls < 0) Usage();
  return f;
}

// One unary call; on success returns true and sets *backend.
bool CallOnce(tern::test::Echo::Stub& stub, long deadline_ms, std::string* backend,
              std::string* error) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  tern::test::EchoRequest req;
  req.set_message("probe");
  tern::test::EchoReply reply;
  grpc::Status st = stub.Call(&ctx, req, &reply);
  if (!st.ok()) {
    *error = std::to_string(st.error_code()) + ": " + st.error_message();
    return false;
  }
  *backend = reply.backend();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  auto channel = grpc::CreateChannel(flags.target, grpc::InsecureChannelCredentials());
  tern::test::Echo::Stub stub(channel);

  nlohmann::json out;
  std::map<std::string, long> backends;
  std::string backend, last_error;

  // Wait until the channel works: xDS resources arrive asynchronously, and until they do (or while
  // tern is still starting) calls fail. Failures here are not counted.
  const auto ready_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(flags.wait_ready_ms);
  bool ready = false;
  while (true) {
    if (CallOnce(stub, flags.deadline_ms, &backend, &last_error)) {
      ready = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= ready_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!ready) {
    out = {{"ok", 0}, {"failed", flags.calls}, {"backends", nlohmann::json::object()},
           {"last_error", "never ready: " + last_error}};
    std::cout << out.dump() << std::endl;
    return 2;
  }
  bool all_ok = true;
  for (long round = 0; round < flags.rounds; ++round) {
    if (round > 0 && flags.round_interval_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(flags.round_interval_ms));
    }
    last_error.clear();
    backends.clear();
    long ok = 0, failed = 0;
    for (long i = 0; i < flags.calls; ++i) {
      if (CallOnce(stub, flags.deadline_ms, &backend, &last_error)) {
        ++ok;
        ++backends[backend];
      } else {
        ++failed;
      }
    }
    out = nlohmann::json::object();
    out["ok"] = ok;
    out["failed"] = failed;
    out["backends"] = nlohmann::json::object();
    for (const auto& [name, count] : backends) out["backends"][name] = count;
    if (failed > 0) out["last_error"] = last_error;
    std::cout << out.dump() << std::endl;
    all_ok = all_ok && failed == 0;
  }
  return all_ok ? 0 : 1;
}
