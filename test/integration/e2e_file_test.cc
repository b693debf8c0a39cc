// End to end, with nothing faked: the real `build/tern serve` reading a services.yaml, real gRPC
// backends (build/tern-test-backend), and real proxyless xDS clients — gRPC C++
// (build/tern-xds-probe) and @grpc/grpc-js-xds on Node — each in its own process, each counting
// which backend answered its calls.
//
// The story: the greeter service is being canaried, 90% to greeter-v1 and 10% to greeter-v2. The
// clients see that split; the operator promotes v2 by editing the file and traffic follows without
// a restart; a bad edit changes nothing and tern stays ready; `tern render` shows the same config.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "support/http_get.h"
#include "support/probe.h"
#include "support/process.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kV1[] = "greeter-v1";
constexpr char kV2[] = "greeter-v2";
constexpr char kProxylessCluster[] = "proxyless";

class E2EFileTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartBackend(kV1, &v1_));
    ASSERT_NO_FATAL_FAILURE(StartBackend(kV2, &v2_));

    ASSERT_TRUE(WriteFileAtomic(ServicesPath(), ServicesYaml(90, 10)).ok());
    StartTernWithProbes({.files = {"services.yaml"}}, kProxylessCluster);
  }

  std::string ServicesPath() const { return dir_.File("services.yaml"); }

  // greeter routes everything to a weighted split of its two versions.
  std::string ServicesYaml(int v1_weight, int v2_weight) const {
    return absl::StrCat(
        "services:\n"
        "  - name: greeter-v1\n"
        "    protocol: grpc\n"
        "    endpoints: [ { address: 127.0.0.1, port: ", v1_.grpc_port, " } ]\n"
        "  - name: greeter-v2\n"
        "    protocol: grpc\n"
        "    endpoints: [ { address: 127.0.0.1, port: ", v2_.grpc_port, " } ]\n"
        "  - name: greeter\n"
        "    protocol: grpc\n"
        "    endpoints: [ { address: 127.0.0.1, port: ", v1_.grpc_port, " } ]\n"
        "    routes:\n"
        "      - match: { prefix: / }\n"
        "        split: [ { service: greeter-v1, weight: ", v1_weight,
        " }, { service: greeter-v2, weight: ", v2_weight, " } ]\n");
  }

  ProbeOptions Probe(ProbeClient client, int calls) {
    return {.client = client, .target = "xds:///greeter", .bootstrap_path = bootstrap_,
            .calls = calls,
            .log_path = dir_.File(absl::StrCat("probe-", ProbeClientName(client), "-",
                                               probe_runs_++, ".log"))};
  }

  // 1000 calls, every one answered, split 90/10 within ±5 points.
  void ExpectCanarySplit(ProbeClient client) {
    auto r = RunProbe(Probe(client, 1000));
    ASSERT_TRUE(r.ok()) << r.status();
    SCOPED_TRACE(absl::StrCat(ProbeClientName(client), ": ", ToString(*r)));
    EXPECT_EQ(r->ok, 1000);
    EXPECT_EQ(r->failed, 0);
    EXPECT_EQ(r->count(kV1) + r->count(kV2), r->ok) << "a backend outside the split answered";
    EXPECT_GE(r->count(kV1), 850);
    EXPECT_LE(r->count(kV1), 950);
  }

  void ExpectLiveClientFollowsPromotion(ProbeClient client_kind);
  void ExpectBadEditChangesNothing(const std::string& bad_services_yaml);

  absl::StatusOr<nlohmann::json> GetAdminJson(const std::string& path) {
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), path);
    if (!r.ok()) return r.status();
    auto j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return absl::DataLossError("not JSON: " + r->body.substr(0, 200));
    return j;
  }

  TestBackend v1_, v2_;
};

TEST_F(E2EFileTest, GrpcCppClientSeesTheCanarySplit) { ExpectCanarySplit(ProbeClient::kGrpcCpp); }

TEST_F(E2EFileTest, GrpcJsXdsClientSeesTheCanarySplit) { ExpectCanarySplit(ProbeClient::kGrpcJs); }

// The operator promotes v2 by editing services.yaml. A client that stays connected (same channel,
// same xDS stream) moves to v2 within seconds; a client that connects afterwards starts on v2;
// nothing was restarted.
void E2EFileTest::ExpectLiveClientFollowsPromotion(ProbeClient client_kind) {
  const pid_t tern_pid = tern_->process().pid();
  ProbeOptions live = Probe(client_kind, 50);
  live.rounds = 100000;  // runs until killed
  live.round_interval_ms = 50;
  auto client = StartProbe(live);
  ASSERT_TRUE(client.ok()) << client.status();

  // The live client is working, on the old split, before the edit.
  ASSERT_TRUE((*client)->WaitForLine(R"("ok":50)", seconds(20)).ok()) << (*client)->LogTail();
  const size_t rounds_before_edit = ParseProbeOutput((*client)->Log()).size();

  ASSERT_TRUE(WriteFileAtomic(ServicesPath(), ServicesYaml(0, 100)).ok());
  const auto edited_at = Clock::now();

  // Poll the live client's rounds (each 50 calls) until one went entirely to v2. No call may
  // fail while the configuration changes under it.
  bool moved = false;
  ProbeResult last;
  while (!moved && Clock::now() < edited_at + seconds(15)) {
    std::vector<ProbeResult> rounds = ParseProbeOutput((*client)->Log());
    for (size_t i = rounds_before_edit; i < rounds.size(); ++i) {
      last = rounds[i];
      EXPECT_EQ(rounds[i].failed, 0) << "round " << i << ": " << ToString(rounds[i]);
      if (rounds[i].count(kV2) == 50) moved = true;
    }
    if (!moved) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(moved) << ProbeClientName(client_kind)
                     << ": the live client still follows the old split 15s after the edit; last "
                        "round: " << ToString(last) << "\nclient log tail:\n" << (*client)->LogTail();
  std::cerr << ProbeClientName(client_kind) << ": live client moved to v2 within "
            << std::chrono::duration_cast<milliseconds>(Clock::now() - edited_at).count()
            << " ms of the edit\n";
  (*client)->Kill();

  auto fresh = RunProbe(Probe(client_kind, 200));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->ok, 200) << ToString(*fresh);
  EXPECT_EQ(fresh->count(kV2), 200) << ToString(*fresh);

  EXPECT_TRUE(tern_->process().Running());
  EXPECT_EQ(tern_->process().pid(), tern_pid);
}

TEST_F(E2EFileTest, EditingTheSplitMovesLiveGrpcCppTrafficWithoutRestart) {
  ExpectLiveClientFollowsPromotion(ProbeClient::kGrpcCpp);
}

TEST_F(E2EFileTest, EditingTheSplitMovesLiveGrpcJsTrafficWithoutRestart) {
  ExpectLiveClientFollowsPromotion(ProbeClient::kGrpcJs);
}

// A broken edit is rejected: the last good snapshot keeps serving the old split, /debug/sources
// names the file and what was wrong, and tern stays ready.
void E2EFileTest::ExpectBadEditChangesNothing(const std::string& bad_services_yaml) {
  ASSERT_TRUE(WriteFileAtomic(ServicesPath(), bad_services_yaml).ok());

  // Wait until tern has seen (and rejected) the edit.
  std::string last_error;
  nlohmann::json sources;
  const auto deadline = Clock::now() + seconds(15);
  while (last_error.empty() && Clock::now() < deadline) {
    auto j = GetAdminJson("/debug/sources");
    ASSERT_TRUE(j.ok()) << j.status();
    sources = *j;
    for (const auto& s : sources) {
      if (s.is_object() && s.contains("last_error") && s["last_error"].is_string()) {
        last_error = s["last_error"].get<std::string>();
      }
    }
    if (last_error.empty()) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_FALSE(last_error.empty()) << "tern did not report the bad edit within 15s; "
                                      "/debug/sources: " << sources.dump();
  std::cerr << "tern reported: " << last_error << "\n";

  ExpectCanarySplit(ProbeClient::kGrpcCpp);

  auto ready = HttpGet("127.0.0.1", tern_->admin_port(), "/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->status, 200) << ready->body;
  EXPECT_TRUE(tern_->process().Running());
}

TEST_F(E2EFileTest, MalformedServicesYamlKeepsTheLastGoodSplitServing) {
  ExpectBadEditChangesNothing("services:\n  - name: greeter-v1\n    endpoints: [ { address: \n");
}

TEST_F(E2EFileTest, OutOfRangePortKeepsTheLastGoodSplitServing) {
  std::string yaml = ServicesYaml(50, 50);
  const std::string port = "port: " + std::to_string(v2_.grpc_port) + " }";
  yaml.replace(yaml.find(port), port.size(), "port: 99999 }");
  ExpectBadEditChangesNothing(yaml);
}

TEST_F(E2EFileTest, SplitToAnUnknownServiceKeepsTheLastGoodSplitServing) {
  std::string yaml = ServicesYaml(50, 50);
  yaml.replace(yaml.find("service: greeter-v2"), 19, "service: greeter-v3");
  ExpectBadEditChangesNothing(yaml);
}

// `tern render` prints what a proxyless client of this node cluster receives, as JSON.
TEST_F(E2EFileTest, RenderPrintsTheResourcesAsJson) {
  auto r = RunTern({"render", "--config", tern_->config_path(), "--node-cluster",
                    kProxylessCluster, "--type", "all"},
                   dir_.File("render.out"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << "stderr:\n" << r->err;
  auto j = nlohmann::json::parse(r->out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << "not JSON:\n" << r->out.substr(0, 2000);
  // The API listener the gRPC clients asked for, and both clusters of the split, are in it.
  const std::string text = j.dump();
  EXPECT_NE(text.find("\"greeter\""), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find(kV1), std::string::npos);
  EXPECT_NE(text.find(kV2), std::string::npos);
  EXPECT_NE(text.find("\"@type\""), std::string::npos);
}

}  // namespace
}  // namespace tern::testing
