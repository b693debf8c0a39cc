#pragma once
// What every end-to-end test of a running `tern serve` needs around its story: a temp dir, tern
// itself, a bootstrap for proxyless probes, polling, reading the admin endpoints, and tern's log
// on failure. The tests' own sources (Consul, the fake Nomad, backends) stay in their fixtures.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "support/probe.h"
#include "support/process.h"
#include "support/prometheus_text.h"
#include "support/tern_process.h"

namespace tern::testing {

// The clock and units every end-to-end test times its stories with.
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Milliseconds in `d`, for latency bounds and messages.
long Ms(std::chrono::steady_clock::duration d);

// Polls `pred` every `poll` until it holds or `timeout` passes, then checks once more: a state
// reached right at the deadline still counts.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll = std::chrono::milliseconds(25));

// The lines of a file, empty ones left out (an audit log's records, for instance).
std::vector<std::string> ReadLines(const std::string& path);
// Writes `lines` to `path`, one a line, replacing what was there.
void WriteLines(const std::string& path, const std::vector<std::string>& lines);
// Runs a tool (openssl, say) to completion, its output to `log_path`; fails the test unless it
// exits 0 within 20 s.
void RunCommand(const std::vector<std::string>& argv, const std::string& log_path);

// Base fixture of the end-to-end tests: derive, start the sources the story needs, then
// StartTern(). Members are protected so that a test reads like the operator's story.
class TernTest : public ::testing::Test {
 protected:
  // On failure, tern's log tail (and /debug/sources when show_sources_on_failure_) on stderr: a
  // failed end-to-end run is otherwise hard to read after the fact.
  void TearDown() override;

  // Starts tern with `options` (dir: dir_ when empty) into tern_; fails the test when it does not
  // come up. Callers that go on using tern_ wrap it in ASSERT_NO_FATAL_FAILURE.
  void StartTern(TernServerOptions options);
  // StartTern, then writes the xDS bootstrap probes use: node `node_id` of `node_cluster`.
  void StartTernWithProbes(TernServerOptions options, const std::string& node_cluster = "proxyless",
                           const std::string& node_id = "probe-1");

  // Takes what a source's Start() returned (ConsulAgent, FakeNomad, ...) into `*out`; fails the
  // test with the start's status when it did not come up. Callers wrap it in
  // ASSERT_NO_FATAL_FAILURE.
  template <typename T>
  static void Started(absl::StatusOr<T> started, T* out) {
    ASSERT_TRUE(started.ok()) << started.status();
    *out = std::move(*started);
  }
  // Starts tern-test-backend `name` (its log in dir_) into `*backend`; fails the test when it
  // does not come up. Callers wrap it in ASSERT_NO_FATAL_FAILURE.
  void StartBackend(const std::string& name, TestBackend* backend);

  // GET `path` from tern's admin port: the body, or "" when it does not answer.
  std::string Admin(const std::string& path);
  // /debug/resources of `type` as the probes' node cluster sees it.
  std::string Resources(const std::string& type) { return Resources(type, probe_cluster_); }
  // /debug/resources of `type` as `node_cluster` sees it.
  std::string Resources(const std::string& type, const std::string& node_cluster);
  // One scrape of tern's /metrics (empty when it does not answer).
  Scrape Metrics() { return ScrapeMetrics(tern_->admin_port()); }

  // A probe run of `calls` calls to xds:///`service` with the bootstrap, its log in dir_.
  ProbeOptions Probe(int calls) { return Probe("greeter", calls); }
  ProbeOptions Probe(const std::string& service, int calls);
  // A probe that stays connected and reports a round of 20 calls every ~20 ms; nullptr (and a
  // failure) when it does not start answering within 20 s.
  std::unique_ptr<Subprocess> LiveClient();
  // Milliseconds until a round after the first `rounds_before` went entirely (20 of 20) to
  // `backend`; -1 when none did within `timeout`.
  long MovedWithin(Subprocess& client, const std::string& backend, size_t rounds_before,
                   std::chrono::milliseconds timeout);

  TempDir dir_;
  std::unique_ptr<TernServer> tern_;
  std::string bootstrap_;                  // the probes' GRPC_XDS_BOOTSTRAP (StartTernWithProbes)
  std::string probe_cluster_ = "proxyless";  // the probes' node cluster
  int probe_runs_ = 0;                      // numbers the probes' (and other runs') log files
  bool show_sources_on_failure_ = false;   // TearDown also prints /debug/sources
};

}  // namespace tern::testing
