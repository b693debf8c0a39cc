// The Nomad decoders read answers shaped exactly as Nomad's service API documentation shows them
// (https://developer.hashicorp.com/nomad/api-docs/services), plus fields a newer Nomad might add;
// a malformed answer is an error naming the endpoint and the JSON path.
#include "sources/nomad/decoders.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tern::sources::nomad {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// GET /v1/services?namespace=* as documented, with a second namespace.
constexpr char kServices[] = R"([
  {
    "Namespace": "default",
    "Services": [
      { "ServiceName": "example-cache-redis", "Tags": ["cache", "db"] }
    ]
  },
  {
    "Namespace": "platform",
    "Services": [
      { "ServiceName": "example-cache-redis", "Tags": null },
      { "ServiceName": "api", "Tags": [], "SomethingNew": {"x": 1} }
    ]
  }
])";

// GET /v1/service/example-cache-redis as documented: one registration per allocation.
constexpr char kRegistrations[] = R"([
  {
    "Address": "127.0.0.1",
    "AllocID": "177160af-26f6-619f-9c9f-5e46d1104395",
    "CreateIndex": 14,
    "Datacenter": "dc1",
    "ID": "_nomad-task-177160af-26f6-619f-9c9f-5e46d1104395-redis-example-cache-redis-db",
    "JobID": "example",
    "ModifyIndex": 24,
    "Namespace": "default",
    "NodeID": "7b3f4a4b-2d1b-b7c9-5cb5-1ba0d8a0fcb4",
    "Port": 29702,
    "ServiceName": "example-cache-redis",
    "Tags": ["db", "cache"]
  },
  {
    "Address": "10.0.0.7",
    "AllocID": "bb0b6a17-5c0b-4f4e-8c5a-1a8d5a1b9c2e",
    "CreateIndex": 30,
    "Datacenter": "dc2",
    "ID": "_nomad-task-bb0b6a17-5c0b-4f4e-8c5a-1a8d5a1b9c2e-redis-example-cache-redis-db",
    "JobID": "example",
    "ModifyIndex": 30,
    "Namespace": "default",
    "NodeID": "0f4c2e5d-5f3e-4b1a-9d6e-2c7a8b9d0e1f",
    "Port": 31000,
    "ServiceName": "example-cache-redis",
    "Tags": null
  }
])";

constexpr char kListEp[] = "/v1/services?namespace=*";
constexpr char kServiceEp[] = "/v1/service/example-cache-redis?namespace=default";

TEST(NomadServiceList, ReadsEveryNamespaceAndItsServices) {
  auto list = DecodeServiceList(kServices, kListEp);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_THAT(list->at({"default", "example-cache-redis"}), ElementsAre("cache", "db"));
  EXPECT_TRUE(list->at({"platform", "example-cache-redis"}).empty()) << "null tags are no tags";
  EXPECT_TRUE(list->contains({"platform", "api"})) << "unknown fields are ignored";
}

TEST(NomadServiceList, NoServicesIsAnEmptyList) {
  for (const char* body : {"[]", "null", R"([{"Namespace": "default", "Services": null}])"}) {
    auto list = DecodeServiceList(body, kListEp);
    ASSERT_TRUE(list.ok()) << body << ": " << list.status();
    EXPECT_TRUE(list->empty()) << body;
  }
}

TEST(NomadRegistrations, ReadsEveryFieldTernUses) {
  auto regs = DecodeRegistrations(kRegistrations, kServiceEp);
  ASSERT_TRUE(regs.ok()) << regs.status();
  ASSERT_EQ(regs->size(), 2u);
  const Registration& r = (*regs)[0];
  EXPECT_EQ(r.id, "_nomad-task-177160af-26f6-619f-9c9f-5e46d1104395-redis-example-cache-redis-db");
  EXPECT_EQ(r.service, "example-cache-redis");
  EXPECT_EQ(r.namespace_name, "default");
  EXPECT_EQ(r.node_id, "7b3f4a4b-2d1b-b7c9-5cb5-1ba0d8a0fcb4");
  EXPECT_EQ(r.datacenter, "dc1");
  EXPECT_EQ(r.job_id, "example");
  EXPECT_EQ(r.alloc_id, "177160af-26f6-619f-9c9f-5e46d1104395");
  EXPECT_THAT(r.tags, ElementsAre("db", "cache"));
  EXPECT_EQ(r.address, "127.0.0.1");
  EXPECT_EQ(r.port, 29702u);
  EXPECT_EQ(r.create_index, 14u);
  EXPECT_EQ(r.modify_index, 24u);
  EXPECT_TRUE((*regs)[1].tags.empty());
}

TEST(NomadRegistrations, AnUnknownServiceIsAnEmptyList) {
  auto regs = DecodeRegistrations("[]", "/v1/service/nope");
  ASSERT_TRUE(regs.ok());
  EXPECT_TRUE(regs->empty());
}

TEST(NomadDecoders, MalformedAnswersNameTheEndpointAndThePath) {
  struct Case {
    const char* body;
    const char* want;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"[{\"Namespace\": \"default\", \"Services\": [", "/v1/service/example-cache-redis?namespace=default: malformed JSON"},
           {"{\"ID\": \"x\"}", "expected a list"},
           {R"([{"ID": "a", "ServiceName": "s", "Address": "1.2.3.4", "Port": "80"}])", "[0].Port: expected an integer in 0..65535"},
           {R"([{"ID": "a", "ServiceName": "s", "Address": "1.2.3.4", "Port": 70000}])", "[0].Port: expected an integer in 0..65535"},
           {R"([{"ID": "a", "ServiceName": "s", "Port": 80}])", "[0].Address: missing"},
           {R"([{"ServiceName": "s", "Address": "1.2.3.4", "Port": 80}])", "[0].ID: missing"},
           {R"([{"ID": "a", "ServiceName": "s", "Address": "1.2.3.4", "Port": 80, "Tags": [1]}])", "[0].Tags[0]: expected a string"},
           {R"([{"ID": "a", "ServiceName": "s", "Address": "1.2.3.4", "Port": 80, "ModifyIndex": -1}])", "[0].ModifyIndex: expected a non-negative integer"},
           {"[3]", "[0]: expected an object"},
       }) {
    auto regs = DecodeRegistrations(c.body, kServiceEp);
    ASSERT_FALSE(regs.ok()) << c.body;
    EXPECT_THAT(std::string(regs.status().message()), HasSubstr(c.want)) << c.body;
    EXPECT_THAT(std::string(regs.status().message()), HasSubstr(kServiceEp));
  }
  auto list = DecodeServiceList(R"([{"Namespace": "default", "Services": [{"Tags": ["a"]}]}])", kListEp);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(std::string(list.status().message()), "/v1/services?namespace=*: [0].Services[0].ServiceName: missing");
  list = DecodeServiceList(R"([{"Namespace": 7}])", kListEp);
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(std::string(list.status().message()), HasSubstr("[0].Namespace: expected a string"));
}

TEST(NomadMapping, EachServiceIsAClusterOfPassingEndpoints) {
  NomadView view;
  view.services = *DecodeServiceList(kServices, kListEp);
  view.registrations[{"default", "example-cache-redis"}] = *DecodeRegistrations(kRegistrations, kServiceEp);
  view.registrations[{"platform", "api"}] = *DecodeRegistrations(
      R"([{"ID": "p1", "ServiceName": "api", "Namespace": "platform", "Address": "10.1.0.1", "Port": 8080}])",
      "/v1/service/api?namespace=platform");
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(view, &problems);
  EXPECT_TRUE(problems.empty());
  // platform/example-cache-redis was listed but not read yet: it is not in the fragment.
  ASSERT_EQ(w.clusters.size(), 2u);
  const model::Cluster& redis = w.clusters.at("example-cache-redis");
  ASSERT_EQ(redis.endpoints.size(), 2u);
  const model::Endpoint& e = redis.endpoints[0];
  EXPECT_EQ(e.address, "127.0.0.1");
  EXPECT_EQ(e.port, 29702u);
  EXPECT_EQ(e.health, model::Health::kPassing);
  EXPECT_EQ(e.weight, 1u);
  EXPECT_EQ(e.metadata.at("alloc_id"), "177160af-26f6-619f-9c9f-5e46d1104395");
  EXPECT_EQ(e.metadata.at("job_id"), "example");
  EXPECT_THAT(e.tags, ElementsAre("db", "cache"));
  EXPECT_TRUE(w.clusters.contains("platform/api")) << "outside the default namespace: <namespace>/<service>";
}

TEST(NomadMapping, AServiceNoLongerListedIsRemovedAndStrayRegistrationsAreReported) {
  NomadView view;
  view.registrations[{"default", "gone"}] = *DecodeRegistrations(
      R"([{"ID": "g", "ServiceName": "gone", "Address": "10.0.0.1", "Port": 80}])", "/v1/service/gone");
  view.services[{"default", "web"}] = {};
  view.registrations[{"default", "web"}] = *DecodeRegistrations(
      R"([{"ID": "w", "ServiceName": "web", "Address": "10.0.0.2", "Port": 80},
          {"ID": "x", "ServiceName": "other", "Address": "10.0.0.3", "Port": 80}])", "/v1/service/web");
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(view, &problems);
  EXPECT_FALSE(w.clusters.contains("gone"));
  ASSERT_EQ(w.clusters.at("web").endpoints.size(), 1u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].ToString(), HasSubstr("registration x is for default/other"));
}

TEST(NomadMapping, ACanaryDeploymentGetsItsShareUntilPromoted) {
  NomadView view;
  view.canary = {.tag = "canary", .weight = 20};
  view.services[{"default", "greeter"}] = {"canary"};
  const char* deploying = R"([
    {"ID": "a", "ServiceName": "greeter", "Address": "10.0.0.1", "Port": 80, "Tags": ["v1"]},
    {"ID": "b", "ServiceName": "greeter", "Address": "10.0.0.2", "Port": 80, "Tags": ["v2", "canary"]}])";
  view.registrations[{"default", "greeter"}] = *DecodeRegistrations(deploying, "/v1/service/greeter");
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(view, &problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_TRUE(w.clusters.contains("greeter-canary"));
  ASSERT_EQ(w.clusters.at("greeter-canary").endpoints.size(), 1u);
  EXPECT_EQ(w.clusters.at("greeter-canary").endpoints[0].address, "10.0.0.2");
  EXPECT_EQ(w.clusters.at("greeter-stable").endpoints[0].address, "10.0.0.1");
  ASSERT_TRUE(w.service_routes.contains("greeter"));
  const auto& split = w.service_routes.at("greeter").routes.back().action.clusters;
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(split[0].weight + split[1].weight, 100u);

  // Promoted: Nomad re-registers the allocation without the canary tag; one plain cluster again.
  view.registrations[{"default", "greeter"}] = *DecodeRegistrations(R"([
    {"ID": "a", "ServiceName": "greeter", "Address": "10.0.0.1", "Port": 80, "Tags": ["v1"]},
    {"ID": "b", "ServiceName": "greeter", "Address": "10.0.0.2", "Port": 80, "Tags": ["v2"]}])", "/v1/service/greeter");
  w = BuildWorld(view, &problems);
  EXPECT_FALSE(w.clusters.contains("greeter-canary"));
  EXPECT_FALSE(w.service_routes.contains("greeter"));
  EXPECT_EQ(w.clusters.at("greeter").endpoints.size(), 2u);
}

TEST(NomadPaths, CarryNamespaceAndRegionEscaped) {
  EXPECT_EQ(ServiceListPath("", ""), "/v1/services");
  EXPECT_EQ(ServiceListPath("*", "eu"), "/v1/services?namespace=*&region=eu");
  EXPECT_EQ(ServicePath({"default", "my svc"}, ""), "/v1/service/my%20svc?namespace=default");
}

}  // namespace
}  // namespace tern::sources::nomad
