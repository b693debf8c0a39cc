// Deployment-aware traffic: each row of the table in issue 11 (running canary, unhealthy canary,
// promotion, success, failure, cancel, blue/green, failing Nomad checks) as the clusters and
// routes a proxy would be given for the service's registrations.
#include "sources/nomad/deployment_traffic.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sources/nomad/decoders.h"

namespace tern::sources::nomad {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Allocation Alloc(const std::string& id, const std::string& deployment, bool canary, std::optional<bool> healthy,
                 const std::string& desired = "run") {
  Allocation a;
  a.id = id;
  a.job_id = "web";
  a.task_group = "frontend";
  a.namespace_name = "default";
  a.client_status = "running";
  a.desired_status = desired;
  a.deployment_id = deployment;
  if (!deployment.empty()) a.deployment_status = AllocDeploymentStatus{.healthy = healthy, .canary = canary};
  return a;
}

Job WebJob(uint32_t count = 3, uint32_t canary = 1) {
  Job j;
  j.id = "web";
  j.namespace_name = "default";
  j.groups.push_back({.name = "frontend", .count = count, .canary = canary});
  return j;
}

Deployment Dep(DeploymentStatus status, bool promoted, std::vector<std::string> placed, uint32_t desired_canaries = 1,
               uint32_t total = 3) {
  Deployment d;
  d.id = "d2";
  d.job_id = "web";
  d.namespace_name = "default";
  d.status = status;
  d.status_text = std::string(DeploymentStatusName(status));
  d.task_groups["frontend"] = {.promoted = promoted, .desired_canaries = desired_canaries, .desired_total = total,
                               .placed_canaries = std::move(placed)};
  return d;
}

// Three stable allocations of the old version (deployment d1) and one canary c1 of d2.
JobDeploymentView CanaryView(DeploymentStatus status, bool promoted, std::optional<bool> healthy) {
  JobDeploymentView v;
  v.job = WebJob();
  v.deployment = Dep(status, promoted, {"c1"});
  v.allocations = {Alloc("s1", "d1", false, true), Alloc("s2", "d1", false, true), Alloc("s3", "d1", false, true),
                   Alloc("c1", "d2", true, healthy)};
  return v;
}

model::Cluster WebCluster(const std::vector<std::string>& allocs) {
  model::Cluster c;
  c.name = c.service = "web";
  c.protocol = model::Protocol::kHttp;
  uint32_t port = 20000;
  for (const auto& a : allocs) {
    Registration r;
    r.id = "_nomad-task-" + a + "-web";
    r.service = "web";
    r.namespace_name = "default";
    r.alloc_id = a;
    r.job_id = "web";
    r.address = "127.0.0.1";
    r.port = port++;
    c.endpoints.push_back(ToEndpoint(r));
  }
  return c;
}

std::vector<std::string> Allocs(const model::Cluster& c) {
  std::vector<std::string> out;
  for (const auto& ep : c.endpoints) out.push_back(ep.metadata.at("alloc_id"));
  return out;
}

ServiceTraffic Apply(const JobTraffic& t, const std::vector<std::string>& allocs) {
  return ApplyTraffic(WebCluster(allocs), AllocTrafficIndex({t}), "nomad service web");
}

TEST(NomadTraffic, WithoutADeploymentEveryAllocationGetsAnEqualShare) {
  JobDeploymentView v;
  v.job = WebJob();
  v.allocations = {Alloc("s1", "", false, std::nullopt), Alloc("s2", "", false, std::nullopt)};
  std::vector<model::Problem> problems;
  JobTraffic t = PlanJobTraffic(v, {}, &problems);
  EXPECT_EQ(t.phase, "none");
  EXPECT_EQ(t.allocations.at("s1").role, TrafficRole::kStable);
  ServiceTraffic s = Apply(t, {"s1", "s2"});
  EXPECT_FALSE(s.split.has_value());
  EXPECT_THAT(Allocs(s.cluster), ElementsAre("s1", "s2"));
  EXPECT_THAT(problems, IsEmpty());
}

TEST(NomadTraffic, AHealthyCanaryOfARunningDeploymentGetsTheDefaultTenPercentWithoutCanaryTags) {
  std::vector<model::Problem> problems;
  JobTraffic t = PlanJobTraffic(CanaryView(DeploymentStatus::kRunning, false, true), {}, &problems);
  EXPECT_EQ(t.phase, "canary");
  EXPECT_EQ(t.deployment_id, "d2");
  EXPECT_EQ(t.allocations.at("c1").role, TrafficRole::kCanary);
  EXPECT_EQ(t.allocations.at("c1").canary_weight, 10u);
  ServiceTraffic s = Apply(t, {"c1", "s1", "s2", "s3"});
  ASSERT_TRUE(s.split.has_value());
  EXPECT_EQ(s.split->canary.name, "web-canary");
  EXPECT_EQ(s.split->stable.name, "web-stable");
  EXPECT_THAT(Allocs(s.split->canary), ElementsAre("c1"));
  EXPECT_THAT(Allocs(s.split->stable), ElementsAre("s1", "s2", "s3"));
  ASSERT_EQ(s.split->routes.size(), 2u);
  EXPECT_EQ(s.split->routes[0].match.headers[0].name, "x-canary");
  const auto& split = s.split->routes[1].action.clusters;
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(split[0].cluster, "web-stable");
  EXPECT_EQ(split[0].weight, 90u);
  EXPECT_EQ(split[1].cluster, "web-canary");
  EXPECT_EQ(split[1].weight, 10u);
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ(DescribeJobTraffic(t), "job web (default) deployment d2 running, phase canary: 1 canary at 10%, 3 stable, 0 excluded");
}

TEST(NomadTraffic, ACanaryNotYetHealthyOrUnhealthyGetsNoTrafficUntilItIs) {
  for (std::optional<bool> healthy : {std::optional<bool>(), std::optional<bool>(false)}) {
    std::vector<model::Problem> problems;
    JobTraffic t = PlanJobTraffic(CanaryView(DeploymentStatus::kRunning, false, healthy), {}, &problems);
    EXPECT_EQ(t.allocations.at("c1").role, TrafficRole::kExcluded);
    EXPECT_EQ(t.allocations.at("c1").reason, healthy ? "canary unhealthy" : "canary not healthy yet");
    ServiceTraffic s = Apply(t, {"c1", "s1", "s2", "s3"});
    EXPECT_FALSE(s.split.has_value());
    EXPECT_THAT(Allocs(s.cluster), ElementsAre("s1", "s2", "s3"));
  }
  // A paused deployment keeps the same rule.
  std::vector<model::Problem> problems;
  JobTraffic paused = PlanJobTraffic(CanaryView(DeploymentStatus::kPaused, false, true), {}, &problems);
  EXPECT_EQ(paused.allocations.at("c1").role, TrafficRole::kCanary);
}

TEST(NomadTraffic, PromotionGivesEveryHealthyAllocationAnEqualShareAndDrainsTheOldOnesNomadStops) {
  JobDeploymentView v = CanaryView(DeploymentStatus::kRunning, true, true);
  v.allocations[0].desired_status = "stop";  // Nomad replaces the old version after promotion
  std::vector<model::Problem> problems;
  JobTraffic t = PlanJobTraffic(v, {}, &problems);
  EXPECT_EQ(t.phase, "promoted");
  EXPECT_EQ(t.allocations.at("c1").role, TrafficRole::kStable);
  EXPECT_EQ(t.allocations.at("s1").role, TrafficRole::kExcluded);
  EXPECT_EQ(t.allocations.at("s1").reason, "allocation desired status stop");
  ServiceTraffic s = Apply(t, {"c1", "s1", "s2", "s3"});
  EXPECT_FALSE(s.split.has_value());
  EXPECT_THAT(Allocs(s.cluster), ElementsAre("c1", "s2", "s3"));
}

TEST(NomadTraffic, ASuccessfulDeploymentMakesCanariesOrdinary) {
  std::vector<model::Problem> problems;
  JobTraffic t = PlanJobTraffic(CanaryView(DeploymentStatus::kSuccessful, false, true), {}, &problems);
  EXPECT_EQ(t.phase, "successful");
  EXPECT_EQ(t.allocations.at("c1").role, TrafficRole::kStable);
  EXPECT_FALSE(Apply(t, {"c1", "s1"}).split.has_value());
}

TEST(NomadTraffic, AFailedOrCancelledDeploymentGivesItsCanariesNothing) {
  for (DeploymentStatus st : {DeploymentStatus::kFailed, DeploymentStatus::kCancelled}) {
    std::vector<model::Problem> problems;
    JobTraffic t = PlanJobTraffic(CanaryView(st, false, true), {}, &problems);
    EXPECT_EQ(t.phase, DeploymentStatusName(st));
    EXPECT_EQ(t.allocations.at("c1").role, TrafficRole::kExcluded);
    EXPECT_THAT(t.allocations.at("c1").reason, HasSubstr(std::string(DeploymentStatusName(st)) + " deployment d2"));
    ServiceTraffic s = Apply(t, {"c1", "s1", "s2", "s3"});
    EXPECT_FALSE(s.split.has_value());
    EXPECT_THAT(Allocs(s.cluster), ElementsAre("s1", "s2", "s3"));
  }
}

TEST(NomadTraffic, BlueGreenGivesGreenTheShareUntilPromotionThenEverything) {
  JobDeploymentView v;
  v.job = WebJob(/*count=*/2, /*canary=*/2);
  v.deployment = Dep(DeploymentStatus::kRunning, false, {"g1", "g2"}, 2, 2);
  v.allocations = {Alloc("b1", "d1", false, true), Alloc("b2", "d1", false, true), Alloc("g1", "d2", true, true),
                   Alloc("g2", "d2", true, true)};
  std::vector<model::Problem> problems;
  JobTraffic before = PlanJobTraffic(v, {}, &problems);
  EXPECT_EQ(before.phase, "blue-green");
  ServiceTraffic s = Apply(before, {"b1", "b2", "g1", "g2"});
  ASSERT_TRUE(s.split.has_value());
  EXPECT_THAT(Allocs(s.split->canary), ElementsAre("g1", "g2"));
  EXPECT_THAT(Allocs(s.split->stable), ElementsAre("b1", "b2"));

  v.deployment->task_groups["frontend"].promoted = true;
  v.allocations[0].desired_status = v.allocations[1].desired_status = "stop";
  JobTraffic after = PlanJobTraffic(v, {}, &problems);
  ServiceTraffic s2 = Apply(after, {"b1", "b2", "g1", "g2"});
  EXPECT_FALSE(s2.split.has_value());
  EXPECT_THAT(Allocs(s2.cluster), ElementsAre("g1", "g2"));
  EXPECT_THAT(problems, IsEmpty());
}

TEST(NomadTraffic, TheGroupsCanaryWeightMetaWinsOverTheJobsAndABadOneIsReported) {
  JobDeploymentView v = CanaryView(DeploymentStatus::kRunning, false, true);
  v.job.meta[kCanaryWeightJobMeta] = "25";
  std::vector<model::Problem> problems;
  EXPECT_EQ(PlanJobTraffic(v, {}, &problems).allocations.at("c1").canary_weight, 25u);
  v.job.groups[0].meta[kCanaryWeightJobMeta] = "40";
  EXPECT_EQ(PlanJobTraffic(v, {}, &problems).allocations.at("c1").canary_weight, 40u);
  EXPECT_THAT(problems, IsEmpty());
  v.job.groups[0].meta[kCanaryWeightJobMeta] = "40%";
  JobTraffic t = PlanJobTraffic(v, {.default_canary_weight = 5}, &problems);
  EXPECT_EQ(t.allocations.at("c1").canary_weight, 25u);  // the job's value is next
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "nomad job web (default) group frontend meta tern.canary_weight");
  EXPECT_THAT(problems[0].message, HasSubstr("'40%' is not a whole percent in 0..100"));
  v.job.meta.clear();
  problems.clear();
  EXPECT_EQ(PlanJobTraffic(v, {.default_canary_weight = 5}, &problems).allocations.at("c1").canary_weight, 5u);
  // The weight reaches the split.
  v.job.groups[0].meta[kCanaryWeightJobMeta] = "30";
  ServiceTraffic s = Apply(PlanJobTraffic(v, {}, &problems), {"c1", "s1"});
  ASSERT_TRUE(s.split.has_value());
  EXPECT_EQ(s.split->routes[1].action.clusters[1].weight, 30u);
  EXPECT_EQ(s.split->routes[1].action.clusters[0].weight, 70u);
}

TEST(NomadTraffic, FailingOrPendingNomadChecksTakeAnAllocationOutCanaryOrNot) {
  JobDeploymentView v = CanaryView(DeploymentStatus::kRunning, false, true);
  v.checks["s1"] = {CheckResult{.id = "k1", .check = "alive", .mode = CheckMode::kHealthiness, .status = CheckStatus::kFailure}};
  v.checks["s2"] = {CheckResult{.id = "k2", .check = "ready", .mode = CheckMode::kReadiness, .status = CheckStatus::kPending}};
  v.checks["s3"] = {CheckResult{.id = "k3", .check = "alive", .status = CheckStatus::kSuccess}};
  v.checks["c1"] = {CheckResult{.id = "k4", .check = "ready", .mode = CheckMode::kReadiness, .status = CheckStatus::kFailure}};
  std::vector<model::Problem> problems;
  JobTraffic t = PlanJobTraffic(v, {}, &problems);
  EXPECT_EQ(t.allocations.at("s1").reason, "Nomad healthiness check 'alive' failing");
  EXPECT_EQ(t.allocations.at("s2").reason, "Nomad readiness check 'ready' pending");
  EXPECT_EQ(t.allocations.at("s3").role, TrafficRole::kStable);
  EXPECT_EQ(t.allocations.at("c1").role, TrafficRole::kExcluded);
  ServiceTraffic s = Apply(t, {"c1", "s1", "s2", "s3"});
  EXPECT_FALSE(s.split.has_value());
  EXPECT_THAT(Allocs(s.cluster), ElementsAre("s3"));
}

TEST(NomadTraffic, ADeploymentNamingAnAllocationThatDoesNotExistIsReportedAndChangesNothingElse) {
  JobDeploymentView v = CanaryView(DeploymentStatus::kRunning, false, true);
  std::vector<model::Problem> clean;
  const JobTraffic expected = PlanJobTraffic(v, {}, &clean);
  v.deployment->task_groups["frontend"].placed_canaries.push_back("ghost");
  std::vector<model::Problem> problems;
  JobTraffic t = PlanJobTraffic(v, {}, &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "nomad job web (default) deployment d2 group frontend");
  EXPECT_THAT(problems[0].message, HasSubstr("allocation ghost"));
  EXPECT_EQ(t, expected);
}

TEST(NomadTraffic, PlacedCanariesCountEvenWhenTheAllocationsCanaryFlagIsNotSetYet) {
  JobDeploymentView v = CanaryView(DeploymentStatus::kRunning, false, true);
  v.allocations[3].deployment_status->canary = false;
  std::vector<model::Problem> problems;
  EXPECT_EQ(PlanJobTraffic(v, {}, &problems).allocations.at("c1").role, TrafficRole::kCanary);
}

TEST(NomadTraffic, ACanaryOfAnOlderDeploymentIsOrdinary) {
  JobDeploymentView v = CanaryView(DeploymentStatus::kRunning, false, true);
  v.allocations[0].deployment_status->canary = true;  // s1 was a canary of d1, promoted long ago
  std::vector<model::Problem> problems;
  EXPECT_EQ(PlanJobTraffic(v, {}, &problems).allocations.at("s1").role, TrafficRole::kStable);
}

TEST(NomadTraffic, OnlyCanariesLeftMeansNoSplitAndAnUnknownAllocationIsStable) {
  std::vector<model::Problem> problems;
  JobTraffic t = PlanJobTraffic(CanaryView(DeploymentStatus::kRunning, false, true), {}, &problems);
  ServiceTraffic only = Apply(t, {"c1"});
  EXPECT_FALSE(only.split.has_value());
  EXPECT_THAT(Allocs(only.cluster), ElementsAre("c1"));
  ServiceTraffic unknown = Apply(t, {"c1", "zz"});  // zz: registered, allocation not read yet
  ASSERT_TRUE(unknown.split.has_value());
  EXPECT_THAT(Allocs(unknown.split->stable), ElementsAre("zz"));
}

}  // namespace
}  // namespace tern::sources::nomad
