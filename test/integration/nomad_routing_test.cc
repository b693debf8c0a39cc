// End to end against tern-fake-nomad (Nomad's documented service API, in memory), the real
// `build/tern serve`, real gRPC backends and a real proxyless gRPC xDS client
// (build/tern-xds-probe).
//
// The stories: a Nomad job places two allocations of greeter and calls spread over both; one
// allocation stops and a connected client is on the other within 2 s; Nomad fails (HTTP 500,
// then malformed JSON) and tern keeps serving what it had, says so in /debug/sources, does not
// hammer Nomad, and follows Nomad again as soon as it answers; ACLs are on and tern brings its
// token.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "integration/nomad_fake.h"
#include "support/probe.h"
#include "support/process.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kA[] = "greeter-a";
constexpr char kB[] = "greeter-b";
constexpr char kProxyless[] = "proxyless";
constexpr char kToken[] = "4f1c2b8e-0d7a-4c55-9c1e-5b8f7a6d3e21";

class NomadRoutingTest : public TernTest {
 protected:
  // Starts the fake (with ACLs when `token`), two backends registered as two allocations of
  // greeter, and tern watching the fake.
  void StartAll(const std::string& token = "") {
    ASSERT_NO_FATAL_FAILURE(Started(FakeNomad::Start(dir_.path(), token), &nomad_));
    ASSERT_NO_FATAL_FAILURE(StartBackend(kA, &a_));
    ASSERT_NO_FATAL_FAILURE(StartBackend(kB, &b_));
    ASSERT_TRUE(nomad_->Register("alloc-a", "greeter", a_.grpc_port).ok());
    ASSERT_TRUE(nomad_->Register("alloc-b", "greeter", b_.grpc_port).ok());

    std::string nomad_config = absl::StrCat("nomad:\n  address: \"", nomad_->address(), "\"\n");
    if (!token.empty()) {
      ASSERT_TRUE(WriteFile(dir_.File("nomad-token"), std::string(token) + "\n").ok());
      nomad_config += "  token_file: nomad-token\n";
    }
    StartTernWithProbes({.extra_config = nomad_config}, kProxyless);
  }

  bool HasBothEndpoints() {
    std::string e = Resources("endpoint");
    return e.find(std::to_string(a_.grpc_port)) != std::string::npos &&
           e.find(std::to_string(b_.grpc_port)) != std::string::npos;
  }

  // /v1 requests the fake answers over `window` (tern's watches are the only client).
  long RequestsOver(milliseconds window) {
    const long before = nomad_->Requests();
    std::this_thread::sleep_for(window);
    return nomad_->Requests() - before;
  }

  std::unique_ptr<FakeNomad> nomad_;
  TestBackend a_, b_;
};

TEST_F(NomadRoutingTest, TwoAllocationsShareTheCallsAndAStoppedOneLosesThemWithin2s) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  ASSERT_TRUE(WaitFor([&] { return HasBothEndpoints(); }, seconds(10))) << Resources("endpoint");

  // 1. Two allocations: 1000 calls spread over both, round robin (1:1 within ±5 points).
  auto both = RunProbe(Probe(1000));
  ASSERT_TRUE(both.ok()) << both.status();
  SCOPED_TRACE(ToString(*both));
  EXPECT_EQ(both->ok, 1000);
  EXPECT_GE(both->count(kA), 450);
  EXPECT_LE(both->count(kA), 550);
  EXPECT_EQ(both->count(kA) + both->count(kB), 1000);

  // 2. alloc-a stops (its registration is removed): a connected client is on b within 2 s.
  auto live = LiveClient();
  ASSERT_TRUE(live);
  const size_t before = ParseProbeOutput(live->Log()).size();
  ASSERT_TRUE(nomad_->Deregister("alloc-a").ok());
  long moved = MovedWithin(*live, kB, before + 1, seconds(10));
  std::cerr << "alloc-a deregistered: client on b only after " << moved << " ms\n";
  ASSERT_GE(moved, 0) << live->LogTail();
  EXPECT_LE(moved, 2000);
  live->Kill();

  // 3. The last allocation stops: greeter leaves the next snapshot (a real removal).
  ASSERT_TRUE(nomad_->Deregister("alloc-b").ok());
  EXPECT_TRUE(WaitFor([&] {
    std::string all = Resources("all");
    return !all.empty() && all.find("greeter") == std::string::npos;
  }, seconds(5))) << Resources("all").substr(0, 3000);
}

TEST_F(NomadRoutingTest, NomadFailuresKeepServingAreReportedWithoutBusyLoopAndRecover) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  ASSERT_TRUE(WaitFor([&] { return HasBothEndpoints(); }, seconds(10))) << Resources("endpoint");
  const std::string endpoints_before = Resources("endpoint");
  const double watches = 2;  // /v1/services and /v1/service/greeter

  // 1. Nomad answers 500: the held blocking queries return it at once.
  ASSERT_TRUE(nomad_->Fault("500").ok());
  ASSERT_TRUE(WaitFor([&] {
    std::string s = Admin("/debug/sources");
    return s.find("\"serving_last_good\": true") != std::string::npos && s.find("HTTP 500") != std::string::npos;
  }, seconds(5))) << Admin("/debug/sources");
  EXPECT_NE(Admin("/debug/sources").find("nomad /v1/service"), std::string::npos) << "the error names the endpoint";
  // Calls keep working on the last good data, and the endpoints do not change.
  auto during = RunProbe(Probe(200));
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_EQ(during->ok, 200) << ToString(*during);
  EXPECT_GT(during->count(kA), 0) << ToString(*during);
  EXPECT_GT(during->count(kB), 0) << ToString(*during);
  EXPECT_EQ(Resources("endpoint"), endpoints_before);
  // No busy loop: with backoff capped at 1 s (jittered in [0.5, 1] s) each watch asks about
  // once a second.
  long failing_requests = RequestsOver(seconds(5));
  std::cerr << "Nomad answering 500 for 5 s: " << failing_requests << " requests for " << watches << " watches\n";
  EXPECT_GT(failing_requests, 0);
  EXPECT_LE(failing_requests, watches * 12);

  // 2. Nomad is fine again: tern is healthy within a second and follows changes.
  ASSERT_TRUE(nomad_->Fault("none").ok());
  auto up = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return Admin("/debug/sources").find("\"serving_last_good\": false") != std::string::npos; },
                      seconds(5))) << Admin("/debug/sources");
  std::cerr << "tern healthy again " << Ms(Clock::now() - up) << " ms after Nomad answered\n";
  EXPECT_LE(Ms(Clock::now() - up), 1500);
  // While healthy, blocking queries hold: few requests in 2 s.
  long idle_requests = RequestsOver(seconds(2));
  std::cerr << "Nomad healthy and idle for 2 s: " << idle_requests << " requests\n";
  EXPECT_LE(idle_requests, 4);

  // 3. Nomad answers the next change with malformed JSON: nothing changes, the error says so.
  ASSERT_TRUE(nomad_->Fault("garbage").ok());
  ASSERT_TRUE(nomad_->Deregister("alloc-a").ok());
  ASSERT_TRUE(WaitFor([&] {
    std::string s = Admin("/debug/sources");
    return s.find("\"serving_last_good\": true") != std::string::npos && s.find("malformed JSON") != std::string::npos;
  }, seconds(5))) << Admin("/debug/sources");
  EXPECT_EQ(Resources("endpoint"), endpoints_before) << "a malformed answer changes nothing";
  long garbage_requests = RequestsOver(seconds(3));
  std::cerr << "Nomad answering garbage for 3 s: " << garbage_requests << " requests\n";
  EXPECT_LE(garbage_requests, watches * 8);
  auto still = RunProbe(Probe(100));
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->ok, 100) << ToString(*still);

  // 4. Nomad recovers: the deregistration made meanwhile is followed, all calls go to b.
  ASSERT_TRUE(nomad_->Fault("none").ok());
  up = Clock::now();
  ASSERT_TRUE(WaitFor([&] {
    std::string e = Resources("endpoint");
    return !e.empty() && e.find(std::to_string(a_.grpc_port)) == std::string::npos &&
           Admin("/debug/sources").find("\"serving_last_good\": false") != std::string::npos;
  }, seconds(5))) << Resources("endpoint") << Admin("/debug/sources");
  std::cerr << "after garbage: following Nomad again " << Ms(Clock::now() - up) << " ms after it answered well\n";
  EXPECT_LE(Ms(Clock::now() - up), 1500);
  auto after = RunProbe(Probe(100));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->count(kB), 100) << ToString(*after);
}

TEST_F(NomadRoutingTest, WithAclsOnTernBringsItsTokenAndNeverLogsIt) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kToken));
  ASSERT_TRUE(WaitFor([&] { return HasBothEndpoints(); }, seconds(10))) << Resources("endpoint");
  auto r = RunProbe(Probe(100));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ok, 100) << ToString(*r);
  // The fake really enforces the token.
  auto anonymous = NomadRequest("GET", nomad_->address() + "/v1/services");
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->status, 403);
  auto wrong = NomadRequest("GET", nomad_->address() + "/v1/services", "", "not-the-token");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 403);
  auto right = NomadRequest("GET", nomad_->address() + "/v1/services", "", kToken);
  ASSERT_TRUE(right.ok());
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ(tern_->process().Log().find(kToken), std::string::npos) << "the token must never be logged";
  EXPECT_EQ(Admin("/debug/sources").find(kToken), std::string::npos);
}

}  // namespace
}  // namespace tern::testing
