// Deployment-aware traffic end to end: tern-fake-nomad (Nomad's documented jobs, deployments,
// allocations and checks API, with Nomad's deployment rules), the real `build/tern serve` and a
// real proxyless gRPC xDS client (build/tern-xds-probe) calling real backends, one per allocation.
// No `canary_tags` anywhere (neither in the jobs nor in tern's configuration): tern finds the
// canaries from the job's deployment alone.
//
// The stories: a canary gets no traffic until Nomad says it is healthy, then its share (10% by
// default, `meta { tern.canary_weight }` otherwise) over 1,000 calls; promotion moves a connected
// client to the new version within 2 s; a failed deployment drains the canary within 2 s; a
// failing Nomad check takes an allocation out; while Nomad fails, the last known plan is kept;
// blue/green (canary = count) switches on promotion.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "integration/nomad_fake.h"
#include "support/probe.h"
#include "support/process.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kProxyless[] = "proxyless";
constexpr char kJob[] = "web";
constexpr char kGroup[] = "frontend";

class NomadDeploymentTest : public TernTest {
 protected:
  NomadDeploymentTest() { show_sources_on_failure_ = true; }

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(Started(FakeNomad::Start(dir_.path()), &nomad_));
  }

  // A backend for allocation `alloc` (the backend answers with the allocation's ID as its name).
  int Backend(const std::string& alloc) {
    auto b = StartTestBackend(alloc, dir_.path());
    EXPECT_TRUE(b.ok()) << b.status();
    if (!b.ok()) return 0;
    const int port = b->grpc_port;
    backends_.push_back(std::move(*b));
    return port;
  }
  // Places a running allocation of the job's current version serving greeter; returns whether
  // Nomad made it a canary.
  bool Place(const std::string& alloc) {
    const int port = Backend(alloc);
    auto canary = nomad_->PlaceAlloc(alloc, kJob, kGroup, "greeter", port);
    EXPECT_TRUE(canary.ok()) << canary.status();
    return canary.ok() && *canary;
  }
  std::string Submit(int count, int canary, std::map<std::string, std::string> group_meta = {}) {
    FakeJob job{.id = kJob, .groups = {{.name = kGroup, .count = count, .canary = canary, .meta = group_meta}}};
    auto d = nomad_->SubmitJob(job);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : "";
  }

  void StartTern() {
    StartTernWithProbes({.extra_config = absl::StrCat("nomad:\n  address: \"", nomad_->address(), "\"\n")},
                        kProxyless);
  }

  // /debug/sources says `text` (e.g. the job's traffic line).
  bool SourcesSay(const std::string& text) { return Admin("/debug/sources").find(text) != std::string::npos; }

  ProbeResult Run(int calls) {
    auto r = RunProbe(Probe(calls));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : ProbeResult{};
  }
  // Time until a round reported after `rounds_before` satisfied `pred` (or -1).
  template <typename Pred>
  long RoundWithin(Subprocess& client, size_t rounds_before, Pred pred, milliseconds timeout) {
    const auto start = Clock::now();
    while (Clock::now() < start + timeout) {
      auto rounds = ParseProbeOutput(client.Log());
      for (size_t i = rounds_before; i < rounds.size(); ++i) {
        if (rounds[i].ok == 20 && pred(rounds[i])) return Ms(Clock::now() - start);
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return -1;
  }
  size_t Rounds(Subprocess& client) { return ParseProbeOutput(client.Log()).size(); }

  // v1 on s1 and s2, v2's canary c1 healthy and given half the calls by the group's meta
  // (tern.canary_weight), and tern serving that; `*d2` is v2's deployment.
  void StartWithHalfCanary(std::string* d2) {
    Submit(2, 1);
    ASSERT_FALSE(Place("s1"));
    ASSERT_FALSE(Place("s2"));
    *d2 = Submit(2, 1, {{"tern.canary_weight", "50"}});
    ASSERT_TRUE(Place("c1"));
    ASSERT_TRUE(nomad_->SetAllocHealth(*d2, {"c1"}).ok());
    StartTern();
    ASSERT_TRUE(WaitFor([&] { return SourcesSay("1 canary at 50%, 2 stable"); }, seconds(10)))
        << Admin("/debug/sources");
  }

  std::unique_ptr<FakeNomad> nomad_;
  std::vector<TestBackend> backends_;
};

// v1 runs on s1 and s2; v2 (update.canary = 1) places c1.
TEST_F(NomadDeploymentTest, CanaryGetsNothingUntilHealthyThenItsShareAndPromotionMovesTheClient) {
  Submit(2, 1);
  ASSERT_FALSE(Place("s1"));
  ASSERT_FALSE(Place("s2"));
  const std::string d2 = Submit(2, 1);
  ASSERT_FALSE(d2.empty());
  ASSERT_TRUE(Place("c1")) << "Nomad makes the first allocation of v2 a canary";
  ASSERT_NO_FATAL_FAILURE(StartTern());

  // 1. The canary is registered but not healthy yet: no call reaches it.
  ASSERT_TRUE(WaitFor([&] { return SourcesSay("phase canary: 2 stable, 1 excluded"); }, seconds(10)))
      << Admin("/debug/sources");
  EXPECT_TRUE(SourcesSay("deployment " + d2 + " running")) << Admin("/debug/sources");
  auto before = Run(400);
  SCOPED_TRACE(ToString(before));
  EXPECT_EQ(before.ok, 400);
  EXPECT_EQ(before.count("c1"), 0);

  // 2. Nomad marks it healthy: 10% of 1,000 calls (±5 points), the rest on s1 and s2.
  ASSERT_TRUE(nomad_->SetAllocHealth(d2, {"c1"}).ok());
  ASSERT_TRUE(WaitFor([&] { return SourcesSay("1 canary at 10%, 2 stable"); }, seconds(5))) << Admin("/debug/sources");
  ASSERT_TRUE(WaitFor([&] { return Resources("cluster").find("greeter-canary") != std::string::npos; }, seconds(5)));
  // The transition is the update's reason (what the audit log records), naming job, deployment
  // and status.
  EXPECT_TRUE(SourcesSay("\"last_update_reason\": \"job web (default) deployment " + d2 + " running, phase canary: 1 canary at 10%"))
      << Admin("/debug/sources");
  auto share = Run(1000);
  SCOPED_TRACE(ToString(share));
  EXPECT_EQ(share.ok, 1000);
  EXPECT_GE(share.count("c1"), 50);
  EXPECT_LE(share.count("c1"), 150);
  EXPECT_EQ(share.count("c1") + share.count("s1") + share.count("s2"), 1000);

  // 3. Promotion: Nomad stops v1; a connected client is on the canary only within 2 s, then the
  //    rest of v2 is placed and the two share equally.
  auto live = LiveClient();
  ASSERT_TRUE(live);
  const size_t rounds = Rounds(*live);
  ASSERT_TRUE(nomad_->Promote(d2).ok());
  long moved = RoundWithin(*live, rounds + 1, [](const ProbeResult& r) { return r.count("c1") == 20; }, seconds(10));
  std::cerr << "promotion: client on the promoted canary after " << moved << " ms\n";
  ASSERT_GE(moved, 0) << live->LogTail();
  EXPECT_LE(moved, 2000);
  live->Kill();
  ASSERT_FALSE(Place("n2"));
  ASSERT_TRUE(WaitFor([&] { return SourcesSay("phase promoted: 2 stable"); }, seconds(5))) << Admin("/debug/sources");
  ASSERT_TRUE(WaitFor([&] { return Resources("endpoint").find(std::to_string(backends_.back().grpc_port)) != std::string::npos; },
                      seconds(5)));
  auto equal = Run(1000);
  SCOPED_TRACE(ToString(equal));
  EXPECT_EQ(equal.ok, 1000);
  EXPECT_GE(equal.count("c1"), 450);
  EXPECT_LE(equal.count("c1"), 550);
  EXPECT_EQ(equal.count("c1") + equal.count("n2"), 1000);
  EXPECT_EQ(Resources("cluster").find("greeter-canary"), std::string::npos) << "no split after promotion";
}

TEST_F(NomadDeploymentTest, FailedDeploymentDrainsTheCanaryWithin2sAndAFailingCheckTakesAnAllocationOut) {
  std::string d2;
  ASSERT_NO_FATAL_FAILURE(StartWithHalfCanary(&d2));
  auto half = Run(1000);
  SCOPED_TRACE(ToString(half));
  EXPECT_GE(half.count("c1"), 450);
  EXPECT_LE(half.count("c1"), 550);

  // 1. The deployment fails: a connected client stops calling the canary within 2 s.
  auto live = LiveClient();
  ASSERT_TRUE(live);
  const size_t rounds = Rounds(*live);
  ASSERT_TRUE(nomad_->FailDeployment(d2).ok());
  long drained = RoundWithin(*live, rounds + 1, [](const ProbeResult& r) { return r.count("c1") == 0; }, seconds(10));
  std::cerr << "failed deployment: canary drained after " << drained << " ms\n";
  ASSERT_GE(drained, 0) << live->LogTail();
  EXPECT_LE(drained, 2000);
  live->Kill();
  EXPECT_TRUE(WaitFor([&] { return SourcesSay("deployment " + d2 + " failed"); }, seconds(2))) << Admin("/debug/sources");
  auto after = Run(400);
  EXPECT_EQ(after.count("c1"), 0) << ToString(after);
  EXPECT_EQ(after.ok, 400) << ToString(after);

  // 2. A Nomad check of s1 fails: s1 gets no calls (checks are read every 2 s); it passes again
  //    and is back.
  ASSERT_TRUE(nomad_->SetChecks("s1", R"({"c0ffee": {"ID": "c0ffee", "Check": "http-ready", "Group": "web.frontend[0]",
      "Mode": "healthiness", "Service": "greeter", "Status": "failure", "StatusCode": 503, "Output": "nope",
      "Timestamp": 1700000000}})").ok());
  ASSERT_TRUE(WaitFor([&] { return SourcesSay("2 excluded"); }, seconds(6))) << Admin("/debug/sources");
  auto without = Run(200);
  EXPECT_EQ(without.count("s2"), 200) << ToString(without);
  ASSERT_TRUE(nomad_->SetChecks("s1", R"({"c0ffee": {"ID": "c0ffee", "Check": "http-ready", "Group": "web.frontend[0]",
      "Mode": "healthiness", "Service": "greeter", "Status": "success", "StatusCode": 200, "Output": "ok",
      "Timestamp": 1700000010}})").ok());
  ASSERT_TRUE(WaitFor([&] { return SourcesSay("2 stable, 1 excluded"); }, seconds(6))) << Admin("/debug/sources");
  auto back = Run(200);
  EXPECT_GT(back.count("s1"), 0) << ToString(back);
}

TEST_F(NomadDeploymentTest, WhileNomadFailsTheLastKnownPlanIsKeptReportedAndNotPolledHard) {
  std::string d2;
  ASSERT_NO_FATAL_FAILURE(StartWithHalfCanary(&d2));
  const std::string clusters = Resources("cluster");
  const std::string endpoints = Resources("endpoint");

  for (const std::string mode : {"500", "garbage"}) {
    SCOPED_TRACE(mode);
    // Every read fails (deployment, allocations and checks included): reported by endpoint, the
    // canary keeps its share (its last known health and checks), nothing changes.
    ASSERT_TRUE(nomad_->Fault(mode).ok());
    // A 500 answers the held blocking queries at once; garbage is the answer to the next change
    // (the fake's index is global: any write wakes every watch).
    if (mode == "garbage") {
      ASSERT_TRUE(nomad_->Register("other-1", "other", 1).ok());
    }
    ASSERT_TRUE(WaitFor([&] {
      return SourcesSay("\"serving_last_good\": true") && SourcesSay("nomad /v1/job/web/deployment") &&
             SourcesSay("/checks");
    }, seconds(6))) << Admin("/debug/sources");
    auto during = Run(400);
    SCOPED_TRACE(ToString(during));
    EXPECT_EQ(during.ok, 400);
    EXPECT_GE(during.count("c1"), 160);
    EXPECT_LE(during.count("c1"), 240);
    EXPECT_EQ(Resources("cluster"), clusters);
    EXPECT_EQ(Resources("endpoint"), endpoints);
    EXPECT_TRUE(SourcesSay("1 canary at 50%, 2 stable")) << Admin("/debug/sources");
    // Bounded: 8 watches (services, greeter, the job's three, three allocations' checks), each
    // retried at most about once a second while failing.
    const long before = nomad_->Requests();
    std::this_thread::sleep_for(seconds(3));
    const long requests = nomad_->Requests() - before;
    std::cerr << "Nomad answering " << mode << ": " << requests << " requests in 3 s for 8 watches\n";
    EXPECT_LE(requests, 8 * 8);
    ASSERT_TRUE(nomad_->Fault("none").ok());
    ASSERT_TRUE(WaitFor([&] { return SourcesSay("\"serving_last_good\": false"); }, seconds(5))) << Admin("/debug/sources");
  }
}

TEST_F(NomadDeploymentTest, BlueGreenGetsTheShareUntilPromotionThenEverything) {
  Submit(2, 0);
  ASSERT_FALSE(Place("blue1"));
  ASSERT_FALSE(Place("blue2"));
  const std::string d2 = Submit(2, 2);  // canary = count: blue/green
  ASSERT_TRUE(Place("green1"));
  ASSERT_TRUE(Place("green2"));
  ASSERT_TRUE(nomad_->SetAllocHealth(d2, {"green1", "green2"}).ok());
  ASSERT_NO_FATAL_FAILURE(StartTern());
  ASSERT_TRUE(WaitFor([&] { return SourcesSay("phase blue-green: 2 canary at 10%, 2 stable"); }, seconds(10)))
      << Admin("/debug/sources");
  auto split = Run(1000);
  SCOPED_TRACE(ToString(split));
  const long green = split.count("green1") + split.count("green2");
  EXPECT_GE(green, 50);
  EXPECT_LE(green, 150);
  EXPECT_EQ(split.ok, 1000);

  auto live = LiveClient();
  ASSERT_TRUE(live);
  const size_t rounds = Rounds(*live);
  ASSERT_TRUE(nomad_->Promote(d2).ok());
  long switched = RoundWithin(*live, rounds + 1, [](const ProbeResult& r) {
    return r.count("green1") + r.count("green2") == 20;
  }, seconds(10));
  std::cerr << "blue/green promotion: client on green only after " << switched << " ms\n";
  ASSERT_GE(switched, 0) << live->LogTail();
  EXPECT_LE(switched, 2000);
  live->Kill();
  auto all = Run(1000);
  SCOPED_TRACE(ToString(all));
  EXPECT_EQ(all.count("green1") + all.count("green2"), 1000);
  EXPECT_GE(all.count("green1"), 450);
  EXPECT_LE(all.count("green1"), 550);
}

}  // namespace
}  // namespace tern::testing
