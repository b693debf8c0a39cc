// The Nomad test server and tern's Nomad decoders agree on Nomad's documented shapes: every answer
// the fake gives while a test drives it through a job's life (first version, canary deployment,
// health, promotion, failure with auto-revert, blue/green, checks, the event stream) is read by
// the decoders a Nomad source uses, and what they read is what Nomad's rules say (and what the
// deployment-aware traffic plan then makes of it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "integration/nomad_fake.h"
#include "sources/nomad/decoders.h"
#include "sources/nomad/deployment_traffic.h"
#include "sources/nomad/deployments.h"
#include "sources/nomad/event_stream.h"
#include "support/process.h"

namespace tern::sources::nomad {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using tern::testing::FakeJob;
using tern::testing::FakeJobGroup;
using tern::testing::FakeNomad;
using tern::testing::HttpStream;
using tern::testing::NomadRequest;

// Polls `done` until it holds or `timeout` passes (the state is checked, not the time).
bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

class NomadFakeApi : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(const tern::testing::FakeNomadOptions& options) {
    nomad_.reset();
    auto n = FakeNomad::Start(dir_.path(), options);
    ASSERT_TRUE(n.ok()) << n.status();
    nomad_ = std::move(*n);
  }

  std::string Get(const std::string& path) {
    auto r = NomadRequest("GET", nomad_->address() + path);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return r->body;
  }

  Job ReadJob(const std::string& id) {
    auto j = DecodeJob(Get(JobPath(id, "", "")), JobPath(id, "", ""));
    EXPECT_TRUE(j.ok()) << j.status();
    return j.ok() ? *j : Job{};
  }
  std::optional<Deployment> ReadDeployment(const std::string& job) {
    auto d = DecodeJobDeployment(Get(JobDeploymentPath(job, "", "")), JobDeploymentPath(job, "", ""));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : std::nullopt;
  }
  std::vector<Allocation> ReadAllocations(const std::string& path) {
    auto a = DecodeAllocations(Get(path), path);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : std::vector<Allocation>{};
  }
  std::vector<Registration> ReadService(const std::string& name) {
    const std::string path = ServicePath({"default", name}, "");
    auto r = DecodeRegistrations(Get(path), path);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<Registration>{};
  }
  // What a source would read for the job, then plan.
  JobTraffic Plan(const std::string& job, std::vector<model::Problem>* problems) {
    JobDeploymentView v;
    v.job = ReadJob(job);
    v.deployment = ReadDeployment(job);
    v.allocations = ReadAllocations(JobAllocationsPath(job, "", ""));
    for (const auto& a : v.allocations) {
      const std::string path = AllocationChecksPath(a.id, "", "");
      auto c = DecodeAllocationChecks(Get(path), path);
      EXPECT_TRUE(c.ok()) << c.status();
      if (c.ok()) v.checks[a.id] = *c;
    }
    return PlanJobTraffic(v, {}, problems);
  }

  static std::vector<std::string> Ids(const std::vector<Registration>& regs) {
    std::vector<std::string> out;
    for (const auto& r : regs) out.push_back(r.alloc_id);
    return out;
  }

  // Version 0 of "web": two allocations, healthy, so its first deployment is successful.
  void DeployFirstVersion(FakeJobGroup group) {
    FakeJob job{.id = "web", .meta = {{"team", "payments"}, {kCanaryWeightJobMeta, "20"}}, .groups = {group}};
    auto d0 = nomad_->SubmitJob(job);
    ASSERT_TRUE(d0.ok()) << d0.status();
    for (int i = 1; i <= group.count; ++i) {
      auto canary = nomad_->PlaceAlloc("s" + std::to_string(i), "web", group.name, "web", 21000 + i);
      ASSERT_TRUE(canary.ok()) << canary.status();
      EXPECT_FALSE(*canary);
    }
    std::vector<std::string> ids;
    for (int i = 1; i <= group.count; ++i) ids.push_back("s" + std::to_string(i));
    ASSERT_TRUE(nomad_->SetAllocHealth(*d0, ids).ok());
    first_deployment_ = *d0;
  }

  tern::testing::TempDir dir_;
  std::unique_ptr<FakeNomad> nomad_;
  std::string first_deployment_;
};

TEST_F(NomadFakeApi, ACanaryDeploymentReadsAsNomadDocumentsItFromFirstVersionToPromotion) {
  FakeJobGroup group{.name = "frontend", .count = 2, .canary = 1, .meta = {{kCanaryWeightJobMeta, "30"}}};
  DeployFirstVersion(group);
  Job job = ReadJob("web");
  EXPECT_EQ(job.version, 0u);
  EXPECT_EQ(job.meta.at("team"), "payments");
  ASSERT_EQ(job.groups.size(), 1u);
  EXPECT_EQ(job.groups[0].count, 2u);
  EXPECT_EQ(job.groups[0].canary, 1u);
  EXPECT_EQ(job.groups[0].meta.at(kCanaryWeightJobMeta), "30");
  auto first = ReadDeployment("web");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, DeploymentStatus::kSuccessful);  // no canaries for a first version
  EXPECT_EQ(first->task_groups.at("frontend").desired_canaries, 0u);
  EXPECT_EQ(first->task_groups.at("frontend").healthy_allocs, 2u);

  // Version 1: one canary, not healthy yet.
  auto d1 = nomad_->SubmitJob({.id = "web", .meta = {{kCanaryWeightJobMeta, "20"}}, .groups = {group}});
  ASSERT_TRUE(d1.ok()) << d1.status();
  auto canary = nomad_->PlaceAlloc("c1", "web", "frontend", "web", 21010);
  ASSERT_TRUE(canary.ok()) << canary.status();
  EXPECT_TRUE(*canary);
  auto running = ReadDeployment("web");
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->id, *d1);
  EXPECT_EQ(running->status, DeploymentStatus::kRunning);
  EXPECT_EQ(running->job_version, 1u);
  EXPECT_EQ(running->status_description, "Deployment is running but requires manual promotion");
  EXPECT_THAT(running->task_groups.at("frontend").placed_canaries, ElementsAre("c1"));
  auto in_deployment = ReadAllocations(DeploymentAllocationsPath(*d1, "", ""));
  ASSERT_EQ(in_deployment.size(), 1u);
  ASSERT_TRUE(in_deployment[0].deployment_status.has_value());
  EXPECT_TRUE(in_deployment[0].deployment_status->canary);
  EXPECT_EQ(in_deployment[0].deployment_status->healthy, std::nullopt);
  EXPECT_THAT(Ids(ReadService("web")), UnorderedElementsAre("s1", "s2", "c1"));
  std::vector<model::Problem> problems;
  EXPECT_EQ(Plan("web", &problems).allocations.at("c1").reason, "canary not healthy yet");

  // Nomad refuses to promote an unhealthy canary.
  auto refused = NomadRequest("PUT", nomad_->address() + "/v1/deployment/promote/" + *d1, R"({"All": true})");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 400);
  EXPECT_THAT(refused->body, HasSubstr("0/1 healthy"));

  ASSERT_TRUE(nomad_->SetAllocHealth(*d1, {"c1"}).ok());
  JobTraffic healthy = Plan("web", &problems);
  EXPECT_EQ(healthy.phase, "canary");
  EXPECT_EQ(healthy.allocations.at("c1").role, TrafficRole::kCanary);
  EXPECT_EQ(healthy.allocations.at("c1").canary_weight, 30u);  // the group's meta wins over the job's 20

  ASSERT_TRUE(nomad_->Promote(*d1).ok());
  auto promoted = ReadDeployment("web");
  EXPECT_TRUE(promoted->task_groups.at("frontend").promoted);
  EXPECT_EQ(promoted->status, DeploymentStatus::kRunning);  // 1 of 2 healthy: the test places the rest
  for (const auto& a : ReadAllocations(JobAllocationsPath("web", "", ""))) {
    EXPECT_EQ(a.desired_status, a.id == "c1" ? "run" : "stop") << a.id;
  }
  EXPECT_THAT(Ids(ReadService("web")), ElementsAre("c1"));
  ASSERT_TRUE(nomad_->PlaceAlloc("n2", "web", "frontend", "web", 21011).ok());
  ASSERT_TRUE(nomad_->SetAllocHealth(*d1, {"n2"}).ok());
  EXPECT_EQ(ReadDeployment("web")->status, DeploymentStatus::kSuccessful);
  JobTraffic after = Plan("web", &problems);
  EXPECT_EQ(after.allocations.at("c1").role, TrafficRole::kStable);
  EXPECT_EQ(after.allocations.at("n2").role, TrafficRole::kStable);
  EXPECT_EQ(after.allocations.at("s1").role, TrafficRole::kExcluded);
  EXPECT_TRUE(problems.empty());
}

TEST_F(NomadFakeApi, AnUnhealthyCanaryFailsTheDeploymentAndAutoRevertGoesBackAVersion) {
  FakeJobGroup group{.name = "frontend", .count = 2, .canary = 1, .auto_revert = true};
  DeployFirstVersion(group);
  auto d1 = nomad_->SubmitJob({.id = "web", .groups = {group}});
  ASSERT_TRUE(d1.ok());
  ASSERT_TRUE(nomad_->PlaceAlloc("c1", "web", "frontend", "web", 21010).ok());
  ASSERT_TRUE(nomad_->SetAllocHealth(*d1, {}, {"c1"}).ok());

  auto failed = DecodeJobDeployment(Get("/v1/deployment/" + *d1), "/v1/deployment/" + *d1);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ((*failed)->status, DeploymentStatus::kFailed);
  EXPECT_EQ((*failed)->status_description, "Failed due to unhealthy allocations - rolling back to job version 0");
  auto latest = ReadDeployment("web");
  ASSERT_TRUE(latest.has_value());
  EXPECT_NE(latest->id, *d1);
  EXPECT_EQ(latest->status, DeploymentStatus::kSuccessful);
  EXPECT_EQ(latest->job_version, 2u);
  EXPECT_EQ(ReadJob("web").version, 2u);
  EXPECT_THAT(Ids(ReadService("web")), UnorderedElementsAre("s1", "s2"));
  std::vector<model::Problem> problems;
  JobTraffic t = Plan("web", &problems);
  EXPECT_EQ(t.allocations.at("c1").role, TrafficRole::kExcluded);
  EXPECT_EQ(t.allocations.at("s1").role, TrafficRole::kStable);
}

TEST_F(NomadFakeApi, AFailedDeploymentWithoutAutoRevertKeepsItsCanaryRunningAndTernGivesItNothing) {
  FakeJobGroup group{.name = "frontend", .count = 2, .canary = 1};
  DeployFirstVersion(group);
  auto d1 = nomad_->SubmitJob({.id = "web", .groups = {group}});
  ASSERT_TRUE(d1.ok());
  ASSERT_TRUE(nomad_->PlaceAlloc("c1", "web", "frontend", "web", 21010).ok());
  ASSERT_TRUE(nomad_->SetAllocHealth(*d1, {"c1"}).ok());
  ASSERT_TRUE(nomad_->FailDeployment(*d1).ok());
  EXPECT_EQ(ReadDeployment("web")->status_description, "Deployment marked as failed");
  EXPECT_THAT(Ids(ReadService("web")), UnorderedElementsAre("s1", "s2", "c1"));
  std::vector<model::Problem> problems;
  EXPECT_EQ(Plan("web", &problems).allocations.at("c1").reason, "canary of failed deployment " + *d1);
  // A terminal deployment cannot be failed or promoted again.
  auto again = NomadRequest("PUT", nomad_->address() + "/v1/deployment/fail/" + *d1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 400);
}

TEST_F(NomadFakeApi, BlueGreenPlacesAWholeGreenSetAsCanariesAndPromotionRetiresBlue) {
  FakeJobGroup group{.name = "frontend", .count = 2, .canary = 2};
  DeployFirstVersion(group);
  auto d1 = nomad_->SubmitJob({.id = "web", .groups = {group}});
  ASSERT_TRUE(d1.ok());
  for (const char* id : {"g1", "g2"}) {
    auto c = nomad_->PlaceAlloc(id, "web", "frontend", "web", id[1] == '1' ? 21011 : 21012);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(*c) << id;
  }
  ASSERT_TRUE(nomad_->SetAllocHealth(*d1, {"g1", "g2"}).ok());
  std::vector<model::Problem> problems;
  EXPECT_EQ(Plan("web", &problems).phase, "blue-green");
  ASSERT_TRUE(nomad_->Promote(*d1).ok());
  EXPECT_EQ(ReadDeployment("web")->status, DeploymentStatus::kSuccessful);
  EXPECT_THAT(Ids(ReadService("web")), UnorderedElementsAre("g1", "g2"));
}

TEST_F(NomadFakeApi, AutoPromoteHappensOnceEveryCanaryIsHealthy) {
  FakeJobGroup group{.name = "frontend", .count = 1, .canary = 1, .auto_promote = true};
  DeployFirstVersion(group);
  auto d1 = nomad_->SubmitJob({.id = "web", .groups = {group}});
  ASSERT_TRUE(d1.ok());
  ASSERT_TRUE(nomad_->PlaceAlloc("c1", "web", "frontend", "web", 21010).ok());
  EXPECT_EQ(ReadDeployment("web")->status_description, "Deployment is running");
  ASSERT_TRUE(nomad_->SetAllocHealth(*d1, {"c1"}).ok());
  auto d = ReadDeployment("web");
  EXPECT_TRUE(d->task_groups.at("frontend").promoted);
  EXPECT_EQ(d->status, DeploymentStatus::kSuccessful);
}

TEST_F(NomadFakeApi, AllocationChecksReadAsTheChecksEndpointAnswersAndFailingOnesTakeTheAllocationOut) {
  DeployFirstVersion({.name = "frontend", .count = 2});
  ASSERT_TRUE(nomad_->SetChecks("s1", R"({"a1b2": {"Check": "alive", "Group": "web.frontend[0]", "ID": "a1b2",
      "Mode": "healthiness", "Output": "nomad: http 500", "Service": "web", "Status": "failure",
      "StatusCode": 500, "Task": "", "Timestamp": 1733024400}})").ok());
  auto checks = DecodeAllocationChecks(Get(AllocationChecksPath("s1", "", "")), "checks");
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ((*checks)[0].status, CheckStatus::kFailure);
  EXPECT_EQ((*checks)[0].status_code, 500);
  EXPECT_EQ(Get(AllocationChecksPath("s2", "", "")), "{}");
  auto unknown = NomadRequest("GET", nomad_->address() + AllocationChecksPath("nope", "", ""));
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 404);
  std::vector<model::Problem> problems;
  JobTraffic t = Plan("web", &problems);
  EXPECT_EQ(t.allocations.at("s1").reason, "Nomad healthiness check 'alive' failing");
  EXPECT_EQ(t.allocations.at("s2").role, TrafficRole::kStable);
}

TEST_F(NomadFakeApi, ReadsOfTheNewEndpointsAreBlockingQueriesWithTheIndexHeader) {
  DeployFirstVersion({.name = "frontend", .count = 1, .canary = 1});
  auto now = NomadRequest("GET", nomad_->address() + JobDeploymentPath("web", "", ""));
  ASSERT_TRUE(now.ok());
  ASSERT_FALSE(now->index.empty());
  const uint64_t index = std::stoull(now->index);
  std::optional<absl::StatusOr<tern::testing::NomadHttpResult>> held;
  const long before = nomad_->Requests();
  std::thread waiter([&] {
    held = NomadRequest("GET", nomad_->address() + JobDeploymentPath("web", "", "") + "?index=" +
                                   std::to_string(index) + "&wait=8s");
  });
  ASSERT_TRUE(Eventually([&] { return nomad_->Requests() > before; }));  // the query is held
  EXPECT_FALSE(held.has_value());
  auto d1 = nomad_->SubmitJob({.id = "web", .groups = {{.name = "frontend", .count = 1, .canary = 1}}});
  ASSERT_TRUE(d1.ok());
  waiter.join();
  ASSERT_TRUE(held.has_value() && held->ok());
  ASSERT_EQ((*held)->status, 200) << (*held)->body;
  EXPECT_GT(std::stoull((*held)->index), index);
  auto d = DecodeJobDeployment((*held)->body, "held");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->id, *d1);
  // A job that does not exist is Nomad's 404; one without deployments answers null.
  auto missing = NomadRequest("GET", nomad_->address() + JobPath("nope", "", ""));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "job not found");
  EXPECT_EQ(Get(JobDeploymentPath("nope", "", "")), "null");
}

// Feeds what the stream sent so far through a fresh parser.
std::vector<EventFrame> Frames(HttpStream& s, absl::Status* status = nullptr) {
  EventStreamParser p("/v1/event/stream");
  auto got = p.Feed(s.Bytes());
  if (status) *status = got.ok() ? absl::OkStatus() : got.status();
  return got.ok() ? *got : std::vector<EventFrame>{};
}

size_t EventsOf(const std::vector<EventFrame>& frames, EventKind kind) {
  size_t n = 0;
  for (const auto& f : frames) {
    for (const auto& e : f.events) n += e.kind == kind;
  }
  return n;
}

TEST_F(NomadFakeApi, TheEventStreamCarriesEveryChangeAsDecodableFramesWithHeartbeatsAndResumes) {
  ASSERT_NO_FATAL_FAILURE(Start({.heartbeat_ms = 200}));
  auto stream = HttpStream::Open(nomad_->address() + EventStreamPath(0, "", ""));
  ASSERT_TRUE(Eventually([&] { return stream->Status() == 200; }));
  DeployFirstVersion({.name = "frontend", .count = 2, .canary = 1});
  auto d1 = nomad_->SubmitJob({.id = "web", .groups = {{.name = "frontend", .count = 2, .canary = 1}}});
  ASSERT_TRUE(d1.ok());
  ASSERT_TRUE(nomad_->PlaceAlloc("c1", "web", "frontend", "web", 21010).ok());
  ASSERT_TRUE(nomad_->SetAllocHealth(*d1, {"c1"}).ok());
  ASSERT_TRUE(nomad_->Promote(*d1).ok());
  const long last = nomad_->Stat("index");
  ASSERT_TRUE(Eventually([&] {
    auto f = Frames(*stream);
    return !f.empty() && f.back().index == static_cast<uint64_t>(last);
  }));
  ASSERT_TRUE(Eventually([&] {
    auto f = Frames(*stream);
    return std::any_of(f.begin(), f.end(), [](const EventFrame& x) { return x.heartbeat; });
  }));
  absl::Status status;
  auto frames = Frames(*stream, &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(EventsOf(frames, EventKind::kServiceRegistration), 3u);
  EXPECT_EQ(EventsOf(frames, EventKind::kServiceDeregistration), 2u);  // s1, s2 retired at promotion
  EXPECT_EQ(EventsOf(frames, EventKind::kDeploymentPromotion), 1u);
  EXPECT_GE(EventsOf(frames, EventKind::kDeploymentAllocHealth), 2u);
  // Topics asked for: Service, Deployment, Allocation and Job; tern decodes no Job payload.
  size_t jobs = 0;
  for (const auto& f : frames) {
    for (const auto& e : f.events) {
      if (e.kind != EventKind::kUnknown) continue;
      EXPECT_EQ(e.topic, "Job") << e.type;
      EXPECT_EQ(e.key, "web");
      jobs++;
    }
  }
  EXPECT_GE(jobs, 2u) << "each version of the job registered is a Job event";
  uint64_t prev = 0;
  for (const auto& f : frames) {
    if (f.heartbeat) continue;
    EXPECT_GT(f.index, prev);
    for (const auto& e : f.events) EXPECT_EQ(e.index, f.index);
    prev = f.index;
  }
  stream->Close();

  // Resuming from the last index seen + 1 gets only what is new.
  auto resumed = HttpStream::Open(nomad_->address() + EventStreamPath(static_cast<uint64_t>(last) + 1, "", ""));
  ASSERT_TRUE(nomad_->PlaceAlloc("n2", "web", "frontend", "web", 21011).ok());
  ASSERT_TRUE(Eventually([&] { return EventsOf(Frames(*resumed), EventKind::kServiceRegistration) == 1; }));
  for (const auto& f : Frames(*resumed)) {
    if (!f.heartbeat) {
      EXPECT_GT(f.index, static_cast<uint64_t>(last));
    }
  }
}

TEST_F(NomadFakeApi, AStreamCutMidFrameIsATruncatedFrameAndGarbageIsABrokenLine) {
  ASSERT_NO_FATAL_FAILURE(Start({.heartbeat_ms = 200}));
  DeployFirstVersion({.name = "frontend", .count = 1});
  auto stream = HttpStream::Open(nomad_->address() + EventStreamPath(0, "", ""));
  ASSERT_TRUE(Eventually([&] { return !Frames(*stream).empty(); }));
  ASSERT_TRUE(nomad_->StreamFault("cut").ok());
  ASSERT_TRUE(Eventually([&] { return stream->Done(); }));
  EXPECT_NE(stream->CurlCode(), 0);  // the chunked body never ended: not a clean end
  EventStreamParser p("/v1/event/stream");
  ASSERT_TRUE(p.Feed(stream->Bytes()).ok());
  absl::Status end = p.Finish();
  EXPECT_THAT(end.message(), HasSubstr("truncated frame"));

  ASSERT_TRUE(nomad_->StreamFault("garbage").ok());
  auto garbage = HttpStream::Open(nomad_->address() + EventStreamPath(0, "", ""));
  ASSERT_TRUE(Eventually([&] { return garbage->Bytes().find('\n') != std::string::npos; }));
  absl::Status status;
  Frames(*garbage, &status);
  EXPECT_THAT(status.message(), HasSubstr("line 1 (byte 0)"));
  garbage->Close();
  ASSERT_TRUE(nomad_->StreamFault("none").ok());
  // The fake notices a closed stream at its next write (a heartbeat at the latest).
  EXPECT_TRUE(Eventually([&] { return nomad_->Stat("streams") == 0; }));
}

TEST_F(NomadFakeApi, AStreamAskingForAnIndexOlderThanTheBufferStartsAtTheOldestFrameItHolds) {
  ASSERT_NO_FATAL_FAILURE(Start({.heartbeat_ms = 200, .event_buffer = 3}));
  DeployFirstVersion({.name = "frontend", .count = 2});  // 4 changes: job, 2 allocs, health
  auto stream = HttpStream::Open(nomad_->address() + EventStreamPath(1, "", ""));
  ASSERT_TRUE(Eventually([&] { return Frames(*stream).size() >= 3; }));
  auto frames = Frames(*stream);
  EXPECT_EQ(frames.front().index, static_cast<uint64_t>(nomad_->Stat("index") - 2));
}

TEST_F(NomadFakeApi, WithAclsOnTheNewEndpointsAndTheStreamWantTheTokenAndA500FaultReachesTheStream) {
  ASSERT_NO_FATAL_FAILURE(Start({.token = "s3cr3t", .heartbeat_ms = 200}));
  for (const std::string& path : {JobPath("web", "", ""), JobDeploymentPath("web", "", ""),
                                 AllocationChecksPath("a1", "", ""), EventStreamPath(0, "", "")}) {
    auto none = NomadRequest("GET", nomad_->address() + path);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none->status, 403) << path;
    EXPECT_EQ(none->body, "Permission denied") << path;
  }
  auto stream = HttpStream::Open(nomad_->address() + EventStreamPath(0, "", ""), "s3cr3t");
  ASSERT_TRUE(Eventually([&] { return Frames(*stream).size() >= 1; }));  // a heartbeat at least
  EXPECT_EQ(stream->Status(), 200);
  ASSERT_TRUE(nomad_->Fault("500").ok());
  auto refused = HttpStream::Open(nomad_->address() + EventStreamPath(0, "", ""), "s3cr3t");
  ASSERT_TRUE(Eventually([&] { return refused->Done(); }));
  EXPECT_EQ(refused->Status(), 500);
}

}  // namespace
}  // namespace tern::sources::nomad
