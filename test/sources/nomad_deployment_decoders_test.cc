// The decoders of Nomad's jobs, deployments, allocations, allocation checks and event stream read
// answers shaped as Nomad's API documentation shows them (fields, types and nesting transcribed
// from the pages cited at each payload; the JSON itself is written here), plus fields a newer
// Nomad might add; a malformed answer is an error naming the endpoint and the JSON path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sources/nomad/deployments.h"
#include "sources/nomad/event_stream.h"

namespace tern::sources::nomad {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// GET /v1/job/:job_id (https://developer.hashicorp.com/nomad/api-docs/jobs#read-job): the job's
// Meta, job-level Update and TaskGroups with their own Count, Meta and Update.
constexpr char kJob[] = R"({
  "ID": "web", "Name": "web", "Namespace": "default", "Type": "service", "Version": 3,
  "ModifyIndex": 812, "Meta": {"team": "payments", "tern.canary_weight": "20"},
  "Update": {"Stagger": 30000000000, "MaxParallel": 1, "Canary": 1, "AutoRevert": true},
  "TaskGroups": [
    {"Name": "frontend", "Count": 3, "Meta": {"tern.canary_weight": "5"},
     "Update": {"MaxParallel": 1, "Canary": 3, "AutoPromote": false}, "Tasks": [{"Name": "server"}]},
    {"Name": "worker", "Count": 2, "Meta": null, "Update": null, "Services": null}
  ],
  "Datacenters": ["dc1"], "SomethingNew": {"x": 1}
})";

TEST(NomadJobDecoder, ReadsMetaAndEachGroupsCountCanaryAndMeta) {
  auto job = DecodeJob(kJob, "/v1/job/web");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->id, "web");
  EXPECT_EQ(job->version, 3u);
  EXPECT_EQ(job->modify_index, 812u);
  EXPECT_EQ(job->meta.at(kCanaryWeightJobMeta), "20");
  ASSERT_EQ(job->groups.size(), 2u);
  EXPECT_EQ(job->groups[0].name, "frontend");
  EXPECT_EQ(job->groups[0].count, 3u);
  EXPECT_EQ(job->groups[0].canary, 3u);  // the group's own update block
  EXPECT_EQ(job->groups[0].meta.at(kCanaryWeightJobMeta), "5");
  EXPECT_EQ(job->groups[1].canary, 1u);  // the job's update block
  EXPECT_TRUE(job->groups[1].meta.empty());
}

TEST(NomadJobDecoder, NamesTheEndpointAndPathOfAWrongType) {
  EXPECT_THAT(DecodeJob(R"({"ID": "web", "TaskGroups": [{"Name": "g", "Meta": {"k": 1}}]})", "/v1/job/web")
                  .status().message(),
              HasSubstr("/v1/job/web: TaskGroups[0].Meta.k: expected a string"));
  EXPECT_THAT(DecodeJob(R"({"ID": "web", "Update": {"Canary": -1}})", "/v1/job/web").status().message(),
              HasSubstr("/v1/job/web: Update.Canary: expected a non-negative integer"));
  EXPECT_THAT(DecodeJob(R"({"ID": "web", "TaskGroups": {}})", "/v1/job/web").status().message(),
              HasSubstr("TaskGroups: expected a list"));
  EXPECT_THAT(DecodeJob(R"({"ID": "web", )", "/v1/job/web").status().message(), HasSubstr("malformed JSON"));
  EXPECT_THAT(DecodeJob("[]", "/v1/job/web").status().message(), HasSubstr("expected an object"));
  EXPECT_THAT(DecodeJob("{}", "/v1/job/web").status().message(), HasSubstr("ID: missing"));
}

// GET /v1/job/:job_id/deployment (https://developer.hashicorp.com/nomad/api-docs/jobs#read-job-s-most-recent-deployment
// and .../api-docs/deployments#read-deployment): a running canary deployment waiting for promotion.
constexpr char kDeployment[] = R"({
  "ID": "70638f62-5c19-193e-30d6-f9d6e689ab8e", "Namespace": "default", "JobID": "web",
  "JobVersion": 3, "JobModifyIndex": 812, "JobSpecModifyIndex": 812, "JobCreateIndex": 7,
  "IsMultiregion": false,
  "TaskGroups": {
    "frontend": {
      "AutoRevert": true, "AutoPromote": false, "ProgressDeadline": 600000000000,
      "RequireProgressBy": "2026-12-01T04:00:00Z", "Promoted": false,
      "PlacedCanaries": ["a1", "a2"], "DesiredCanaries": 2, "DesiredTotal": 3,
      "PlacedAllocs": 2, "HealthyAllocs": 1, "UnhealthyAllocs": 0
    },
    "worker": {"Promoted": false, "PlacedCanaries": null, "DesiredCanaries": 0, "DesiredTotal": 2}
  },
  "Status": "running", "StatusDescription": "Deployment is running but requires manual promotion",
  "CreateIndex": 813, "ModifyIndex": 820
})";

TEST(NomadDeploymentDecoder, ReadsStatusAndEveryGroupsCanaryState) {
  auto d = DecodeJobDeployment(kDeployment, "/v1/job/web/deployment");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->has_value());
  const Deployment& dep = **d;
  EXPECT_EQ(dep.id, "70638f62-5c19-193e-30d6-f9d6e689ab8e");
  EXPECT_EQ(dep.job_id, "web");
  EXPECT_EQ(dep.job_version, 3u);
  EXPECT_EQ(dep.status, DeploymentStatus::kRunning);
  EXPECT_EQ(dep.status_description, "Deployment is running but requires manual promotion");
  EXPECT_EQ(dep.modify_index, 820u);
  const DeploymentGroup& g = dep.task_groups.at("frontend");
  EXPECT_FALSE(g.promoted);
  EXPECT_TRUE(g.auto_revert);
  EXPECT_THAT(g.placed_canaries, ElementsAre("a1", "a2"));
  EXPECT_EQ(g.desired_canaries, 2u);
  EXPECT_EQ(g.desired_total, 3u);
  EXPECT_EQ(g.healthy_allocs, 1u);
  EXPECT_THAT(dep.task_groups.at("worker").placed_canaries, IsEmpty());
}

TEST(NomadDeploymentDecoder, NullIsNoDeploymentAndEveryDocumentedStatusIsKnown) {
  auto none = DecodeJobDeployment("null", "/v1/job/web/deployment");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (const char* s : {"running", "successful", "failed", "cancelled", "paused", "pending", "blocked", "unblocking",
                        "initializing"}) {
    auto d = DecodeJobDeployment(std::string(R"({"ID": "d", "JobID": "web", "Status": ")") + s + "\"}", "e");
    ASSERT_TRUE(d.ok()) << s;
    EXPECT_NE((*d)->status, DeploymentStatus::kUnknown) << s;
    EXPECT_EQ(DeploymentStatusName((*d)->status), s);
  }
  // A status a newer Nomad may add is kept as text, not an error.
  auto d = DecodeJobDeployment(R"({"ID": "d", "JobID": "web", "Status": "rolling-sideways"})", "e");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)->status, DeploymentStatus::kUnknown);
  EXPECT_EQ((*d)->status_text, "rolling-sideways");
}

TEST(NomadDeploymentDecoder, NamesTheGroupAndFieldOfAWrongType) {
  EXPECT_THAT(DecodeJobDeployment(R"({"ID": "d", "JobID": "w", "Status": "running",
                                      "TaskGroups": {"frontend": {"Promoted": "yes"}}})",
                                  "/v1/job/w/deployment")
                  .status().message(),
              HasSubstr("/v1/job/w/deployment: TaskGroups.frontend.Promoted: expected true or false"));
  EXPECT_THAT(DecodeJobDeployment(R"({"ID": "d", "JobID": "w", "Status": "running",
                                      "TaskGroups": {"g": {"PlacedCanaries": [1]}}})", "e")
                  .status().message(),
              HasSubstr("TaskGroups.g.PlacedCanaries[0]: expected a string"));
  EXPECT_THAT(DecodeJobDeployment(R"({"ID": "d", "JobID": "w"})", "e").status().message(), HasSubstr("Status: missing"));
  EXPECT_THAT(DecodeJobDeployment(R"([1])", "e").status().message(), HasSubstr("expected an object"));
  EXPECT_THAT(DecodeJobDeployment("{\"ID\": \"d\"", "e").status().message(), HasSubstr("malformed JSON"));
}

// GET /v1/deployment/allocations/:id and GET /v1/job/:id/allocations
// (https://developer.hashicorp.com/nomad/api-docs/deployments#list-allocations-for-deployment,
// .../api-docs/jobs#list-job-allocations): allocation stubs with DeploymentStatus.
constexpr char kAllocations[] = R"([
  {"ID": "a1", "EvalID": "e1", "Name": "web.frontend[0]", "Namespace": "default", "NodeID": "n1",
   "JobID": "web", "JobVersion": 3, "TaskGroup": "frontend", "DesiredStatus": "run",
   "DesiredDescription": "", "ClientStatus": "running", "ClientDescription": "Tasks are running",
   "DeploymentID": "70638f62", "DeploymentStatus": {"Healthy": true, "Canary": true,
   "Timestamp": "2026-12-01T03:40:00.123Z", "ModifyIndex": 818},
   "TaskStates": {"server": {"State": "running"}}, "CreateIndex": 814, "ModifyIndex": 818},
  {"ID": "a2", "JobID": "web", "JobVersion": 3, "TaskGroup": "frontend", "DesiredStatus": "run",
   "ClientStatus": "running", "DeploymentID": "70638f62",
   "DeploymentStatus": {"Healthy": null, "Canary": true, "Timestamp": "0001-01-01T00:00:00Z", "ModifyIndex": 0},
   "ModifyIndex": 815},
  {"ID": "b1", "JobID": "web", "JobVersion": 2, "TaskGroup": "frontend", "DesiredStatus": "run",
   "ClientStatus": "running", "DeploymentID": "", "DeploymentStatus": null, "ModifyIndex": 40}
])";

TEST(NomadAllocationsDecoder, ReadsDeploymentHealthAsTrueFalseOrNotYetDecided) {
  auto a = DecodeAllocations(kAllocations, "/v1/deployment/allocations/70638f62");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 3u);
  EXPECT_EQ((*a)[0].id, "a1");
  EXPECT_EQ((*a)[0].task_group, "frontend");
  EXPECT_EQ((*a)[0].client_status, "running");
  EXPECT_EQ((*a)[0].desired_status, "run");
  EXPECT_EQ((*a)[0].job_version, 3u);
  ASSERT_TRUE((*a)[0].deployment_status.has_value());
  EXPECT_EQ((*a)[0].deployment_status->healthy, std::optional<bool>(true));
  EXPECT_TRUE((*a)[0].deployment_status->canary);
  EXPECT_EQ((*a)[0].deployment_status->modify_index, 818u);
  EXPECT_EQ((*a)[1].deployment_status->healthy, std::nullopt);
  EXPECT_FALSE((*a)[2].deployment_status.has_value());
  auto none = DecodeAllocations("null", "e");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(NomadAllocationsDecoder, NamesTheAllocationAndFieldOfAWrongType) {
  EXPECT_THAT(DecodeAllocations(R"([{"ID": "a1", "DeploymentStatus": {"Healthy": "yes"}}])", "/v1/job/web/allocations")
                  .status().message(),
              HasSubstr("/v1/job/web/allocations: [0].DeploymentStatus.Healthy: expected true, false or null"));
  EXPECT_THAT(DecodeAllocations(R"([{"ID": "a1"}, {"ID": 7}])", "e").status().message(), HasSubstr("[1].ID: expected a string"));
  EXPECT_THAT(DecodeAllocations(R"({"ID": "a1"})", "e").status().message(), HasSubstr("expected a list"));
  EXPECT_THAT(DecodeAllocations(R"([{"ID": "a1"}, )", "e").status().message(), HasSubstr("malformed JSON"));
}

// GET /v1/client/allocation/:alloc_id/checks (https://developer.hashicorp.com/nomad/api-docs/client
// #read-allocation-checks; the same map `nomad alloc checks -json` prints): check ID → result.
constexpr char kChecks[] = R"({
  "9810e90177a4c21ce3bfe04dc7da6131": {
    "Check": "alive", "Group": "web.frontend[0]", "ID": "9810e90177a4c21ce3bfe04dc7da6131",
    "Mode": "healthiness", "Output": "nomad: tcp ok", "Service": "web", "Status": "success",
    "StatusCode": 0, "Task": "", "Timestamp": 1733024400
  },
  "0aa3b0c2f4e1d6b7a8c9d0e1f2a3b4c5": {
    "Check": "ready", "Group": "web.frontend[0]", "ID": "0aa3b0c2f4e1d6b7a8c9d0e1f2a3b4c5",
    "Mode": "readiness", "Output": "HTTP 503", "Service": "web", "Status": "failure",
    "StatusCode": 503, "Task": "server", "Timestamp": 1733024401, "NewField": [1]
  }
})";

TEST(NomadChecksDecoder, ReadsEveryCheckSortedById) {
  auto c = DecodeAllocationChecks(kChecks, "/v1/client/allocation/a1/checks");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].id, "0aa3b0c2f4e1d6b7a8c9d0e1f2a3b4c5");
  EXPECT_EQ((*c)[0].mode, CheckMode::kReadiness);
  EXPECT_EQ((*c)[0].status, CheckStatus::kFailure);
  EXPECT_EQ((*c)[0].status_code, 503);
  EXPECT_EQ((*c)[0].task, "server");
  EXPECT_EQ((*c)[1].check, "alive");
  EXPECT_EQ((*c)[1].service, "web");
  EXPECT_EQ((*c)[1].status, CheckStatus::kSuccess);
  EXPECT_EQ((*c)[1].timestamp, 1733024400);
  auto none = DecodeAllocationChecks("{}", "e");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(NomadChecksDecoder, AnUnknownStatusOrModeIsAnErrorBecausePassCannotBeTold) {
  EXPECT_THAT(DecodeAllocationChecks(R"({"c1": {"Mode": "healthiness", "Status": "warning"}})",
                                     "/v1/client/allocation/a1/checks").status().message(),
              HasSubstr("/v1/client/allocation/a1/checks: c1.Status: expected success, failure or pending, got 'warning'"));
  EXPECT_THAT(DecodeAllocationChecks(R"({"c1": {"Mode": "liveness", "Status": "success"}})", "e").status().message(),
              HasSubstr("c1.Mode: expected healthiness or readiness"));
  EXPECT_THAT(DecodeAllocationChecks(R"({"c1": {"Mode": "healthiness", "Status": "success", "StatusCode": "200"}})", "e")
                  .status().message(),
              HasSubstr("c1.StatusCode: expected an integer"));
  EXPECT_THAT(DecodeAllocationChecks(R"([])", "e").status().message(), HasSubstr("expected an object of check results"));
}

// GET /v1/event/stream (https://developer.hashicorp.com/nomad/api-docs/events): NDJSON frames of
// {"Index", "Events": [{"Topic", "Type", "Key", "Namespace", "FilterKeys", "Index", "Payload"}]}
// and heartbeats {}.
const std::string kServiceFrame =
    R"({"Index":901,"Events":[{"Topic":"Service","Type":"ServiceRegistration","Key":"web",)"
    R"("Namespace":"default","FilterKeys":["web"],"Index":901,"Payload":{"Service":{"ID":"_nomad-task-a1-server-web-http",)"
    R"("ServiceName":"web","Namespace":"default","NodeID":"n1","Datacenter":"dc1","JobID":"web","AllocID":"a1",)"
    R"("Tags":["v3"],"Address":"10.0.0.5","Port":23001,"CreateIndex":901,"ModifyIndex":901}}}]})";
const std::string kDeploymentFrame =
    R"({"Index":902,"Events":[{"Topic":"Deployment","Type":"DeploymentPromotion","Key":"70638f62",)"
    R"("Namespace":"default","FilterKeys":["web"],"Index":902,"Payload":{"Deployment":{"ID":"70638f62","JobID":"web",)"
    R"("Status":"running","TaskGroups":{"frontend":{"Promoted":true,"PlacedCanaries":["a1"]}}}}},)"
    R"({"Topic":"Node","Type":"NodeDrain","Key":"n1","Index":902,"Payload":{"Node":{"ID":"n1"}}}]})";
const std::string kAllocationFrame =
    R"({"Index":903,"Events":[{"Topic":"Allocation","Type":"AllocationUpdated","Key":"a2","Namespace":"default",)"
    R"("Index":903,"Payload":{"Allocation":{"ID":"a2","JobID":"web","TaskGroup":"frontend","ClientStatus":"running",)"
    R"("DesiredStatus":"run","DeploymentStatus":{"Healthy":false,"Canary":true}}}}]})";

TEST(NomadEventStream, DecodesServiceDeploymentAndAllocationEventsAndPassesOthersThroughAsUnknown) {
  auto s = DecodeEventFrame(kServiceFrame, "/v1/event/stream");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->index, 901u);
  ASSERT_EQ(s->events.size(), 1u);
  EXPECT_EQ(s->events[0].kind, EventKind::kServiceRegistration);
  ASSERT_TRUE(s->events[0].service.has_value());
  EXPECT_EQ(s->events[0].service->alloc_id, "a1");
  EXPECT_EQ(s->events[0].service->port, 23001u);

  auto d = DecodeEventFrame(kDeploymentFrame, "/v1/event/stream");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->events.size(), 2u);
  EXPECT_EQ(d->events[0].kind, EventKind::kDeploymentPromotion);
  EXPECT_TRUE(d->events[0].deployment->task_groups.at("frontend").promoted);
  EXPECT_EQ(d->events[1].kind, EventKind::kUnknown);
  EXPECT_EQ(d->events[1].topic, "Node");
  EXPECT_EQ(d->events[1].type, "NodeDrain");

  auto a = DecodeEventFrame(kAllocationFrame, "/v1/event/stream");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->events[0].kind, EventKind::kAllocationUpdated);
  EXPECT_EQ(a->events[0].allocation->deployment_status->healthy, std::optional<bool>(false));

  auto hb = DecodeEventFrame("{}", "/v1/event/stream");
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->heartbeat);
  EXPECT_TRUE(hb->events.empty());
}

TEST(NomadEventStream, AMalformedPayloadTernNeedsNamesTheEventAndField) {
  EXPECT_THAT(DecodeEventFrame(R"({"Index":5,"Events":[{"Topic":"Service","Type":"ServiceRegistration","Index":5,
                                   "Payload":{"Service":{"ID":"x","ServiceName":"web","Address":"1.2.3.4","Port":"80"}}}]})",
                               "/v1/event/stream").status().message(),
              HasSubstr("/v1/event/stream: Events[0].Payload.Service.Port: expected an integer in 0..65535"));
  EXPECT_THAT(DecodeEventFrame(R"({"Index":5,"Events":[{"Topic":"Deployment","Type":"DeploymentStatusUpdate","Index":5}]})",
                               "e").status().message(),
              HasSubstr("Events[0].Payload: missing"));
  EXPECT_THAT(DecodeEventFrame(R"({"Index":"5"})", "e").status().message(), HasSubstr("Index: expected a non-negative integer"));
  EXPECT_THAT(DecodeEventFrame(R"({"Index":5,"Events":{}})", "e").status().message(), HasSubstr("Events: expected a list"));
  EXPECT_THAT(DecodeEventFrame(R"([1,2])", "e").status().message(), HasSubstr("expected an object"));
  // An unknown type with any payload is not an error.
  EXPECT_TRUE(DecodeEventFrame(R"({"Index":5,"Events":[{"Topic":"Job","Type":"JobRegistered","Payload":7}]})", "e").ok());
}

TEST(NomadEventStreamParser, FramesSplitAtEveryByteBoundaryComeOutWholeAndInOrder) {
  const std::string body = kServiceFrame + "\n{}\n" + kDeploymentFrame + "\r\n\n" + kAllocationFrame + "\n";
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{64}, body.size()}) {
    EventStreamParser p("/v1/event/stream");
    std::vector<EventFrame> frames;
    for (size_t i = 0; i < body.size(); i += chunk) {
      auto got = p.Feed(std::string_view(body).substr(i, chunk));
      ASSERT_TRUE(got.ok()) << "chunk " << chunk << ": " << got.status();
      for (auto& f : *got) frames.push_back(std::move(f));
    }
    ASSERT_EQ(frames.size(), 4u) << "chunk " << chunk;
    EXPECT_EQ(frames[0].index, 901u);
    EXPECT_TRUE(frames[1].heartbeat);
    EXPECT_EQ(frames[2].index, 902u);
    EXPECT_EQ(frames[3].index, 903u);
    EXPECT_EQ(p.last_index(), 903u);
    EXPECT_EQ(p.pending_bytes(), 0u);
    EXPECT_TRUE(p.Finish().ok());
  }
}

TEST(NomadEventStreamParser, ABrokenLineNamesItsLineAndOffsetAndStopsTheParserUntilReset) {
  EventStreamParser p("/v1/event/stream");
  const std::string first = kServiceFrame + "\n";
  auto ok = p.Feed(first);
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 1u);
  auto bad = p.Feed("{}\n{\"Index\": 902, \"Events\": [\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("line 3 (byte " + std::to_string(first.size() + 3) + ")"));
  EXPECT_THAT(bad.status().message(), HasSubstr("malformed JSON"));
  EXPECT_TRUE(p.failed());
  EXPECT_FALSE(p.Feed("{}\n").ok());  // refuses more until Reset
  p.Reset();
  auto after = p.Feed(kAllocationFrame + "\n");
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].index, 903u);
}

TEST(NomadEventStreamParser, AStreamCutMidFrameIsATruncatedFrame) {
  EventStreamParser p("/v1/event/stream");
  auto got = p.Feed(kServiceFrame + "\n" + kDeploymentFrame.substr(0, 40));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 1u);
  EXPECT_EQ(p.pending_bytes(), 40u);
  absl::Status end = p.Finish();
  EXPECT_FALSE(end.ok());
  EXPECT_THAT(end.message(), HasSubstr("line 2"));
  EXPECT_THAT(end.message(), HasSubstr("truncated frame"));
}

TEST(NomadEventStreamParser, AnEndlessLineIsRefusedAtTheLimit) {
  EventStreamParser p("/v1/event/stream", 1024);
  ASSERT_TRUE(p.Feed(std::string(1000, 'x')).ok());
  auto over = p.Feed(std::string(100, 'x'));
  ASSERT_FALSE(over.ok());
  EXPECT_THAT(over.status().message(), HasSubstr("longer than 1024 bytes"));
}

TEST(NomadEventStreamParser, NonUtf8BytesAreAnErrorNotACrash) {
  EventStreamParser p("/v1/event/stream");
  auto got = p.Feed("{\"Index\": 1, \"Events\": [{\"Topic\": \"caf\xE9\"}]}\n");
  EXPECT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("line 1 (byte 0)"));
}

TEST(NomadPaths, EscapeIdsAndCarryNamespaceAndRegion) {
  EXPECT_EQ(JobDeploymentPath("web app", "prod", ""), "/v1/job/web%20app/deployment?namespace=prod");
  EXPECT_EQ(DeploymentAllocationsPath("d1", "", "eu"), "/v1/deployment/allocations/d1?region=eu");
  EXPECT_EQ(AllocationChecksPath("a1", "", ""), "/v1/client/allocation/a1/checks");
  EXPECT_EQ(JobAllocationsPath("web", "", ""), "/v1/job/web/allocations");
  EXPECT_EQ(JobPath("web", "", ""), "/v1/job/web");
  EXPECT_EQ(EventStreamPath(42, "*", ""),
            "/v1/event/stream?topic=Service&topic=Deployment&topic=Allocation&topic=Job&index=42&namespace=*");
}

}  // namespace
}  // namespace tern::sources::nomad
