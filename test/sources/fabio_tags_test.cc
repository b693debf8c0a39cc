// Fabio `urlprefix-` tags: every option parses as Fabio documents it, a malformed tag is an error
// that says what is wrong (and, through BuildFabioRoutes, names the service, instance and tag),
// and the tags of passing instances become a gateway's routes, longest prefix first.
#include "sources/tags/fabio.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tern::sources::tags {
namespace {

using ::testing::HasSubstr;
using PathKind = model::RouteMatch::PathKind;

TEST(FabioTag, HostlessPrefix) {
  auto r = ParseFabioTag("urlprefix-/a");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->host, "");
  EXPECT_EQ(r->path, "/a");
  EXPECT_EQ(r->protocol, model::Protocol::kHttp);
  EXPECT_FALSE(r->Rewrite());
}

TEST(FabioTag, HostAndEveryOption) {
  auto r = ParseFabioTag("urlprefix-api.example.com/v1/users strip=/v1 prepend=/internal proto=grpc weight=0.25 register=x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->host, "api.example.com");
  EXPECT_EQ(r->path, "/v1/users");
  EXPECT_EQ(*r->strip, "/v1");
  EXPECT_EQ(*r->prepend, "/internal");
  EXPECT_EQ(r->protocol, model::Protocol::kGrpc);
  EXPECT_DOUBLE_EQ(*r->weight, 0.25);
  EXPECT_EQ(*r->Rewrite(), "/internal/users");
}

TEST(FabioTag, Redirects) {
  auto keep = ParseFabioTag("urlprefix-/old redirect=301,https://new.example.com$path");
  ASSERT_TRUE(keep.ok()) << keep.status();
  EXPECT_EQ(keep->redirect->code, 301u);
  EXPECT_EQ(keep->redirect->scheme, "https");
  EXPECT_EQ(keep->redirect->host, "new.example.com");
  EXPECT_EQ(keep->redirect->path, "") << "$path keeps the request's path";

  auto fixed = ParseFabioTag("urlprefix-/old redirect=308,http://example.com:8080/new");
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->redirect->code, 308u);
  EXPECT_EQ(fixed->redirect->host, "example.com:8080");
  EXPECT_EQ(fixed->redirect->path, "/new");

  auto relative = ParseFabioTag("urlprefix-/x redirect=302,/elsewhere");
  ASSERT_TRUE(relative.ok()) << relative.status();
  EXPECT_EQ(relative->redirect->host, "");
  EXPECT_EQ(relative->redirect->path, "/elsewhere");
}

TEST(FabioTag, TcpPort) {
  auto r = ParseFabioTag("urlprefix-:3306 proto=tcp");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tcp_port, 3306u);
  EXPECT_EQ(r->protocol, model::Protocol::kTcp);
}

TEST(FabioTag, MalformedTagsSayWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"urlprefix-", "empty"},
      {"urlprefix-example.com", "has no path"},
      {"urlprefix-/a weight=abc", "weight=abc"},
      {"urlprefix-/a weight=0", "weight=0"},
      {"urlprefix-/a weight=1.5", "(0, 1]"},
      {"urlprefix-/a strip=/b", "strip=/b is not a prefix of the path /a"},
      {"urlprefix-/a strip=b", "starting with /"},
      {"urlprefix-/a proto=ftp", "proto=ftp"},
      {"urlprefix-/a proto=https", "not supported"},
      {"urlprefix-/a proto=tcp", "needs a port route"},
      {"urlprefix-:99999 proto=tcp", "not a port"},
      {"urlprefix-:3306", "needs proto=tcp"},
      {"urlprefix-/a redirect=200,https://x", "redirect code '200'"},
      {"urlprefix-/a redirect=301", "CODE,URL"},
      {"urlprefix-/a redirect=301,https://x/new$path", "a path before $path"},
      {"urlprefix-/a redirect=301,https://x weight=0.5", "a redirect takes no weight"},
      {"urlprefix-/a allow=ip:10.0.0.0/8", "allow= is not supported"},
      {"urlprefix-/a host=dst", "host= is not supported"},
      {"urlprefix-/a bogus=1", "unknown option 'bogus'"},
      {"urlprefix-/a strip", "is not key=value"},
      {"urlprefix-/a weight=0.1 weight=0.2", "given twice"},
      {"urlprefix-b@d!/a", "host 'b@d!' has"},
  };
  for (const auto& [tag, want] : cases) {
    auto r = ParseFabioTag(tag);
    EXPECT_FALSE(r.ok()) << tag;
    if (!r.ok()) {
      EXPECT_THAT(std::string(r.status().message()), HasSubstr(want)) << tag;
    }
  }
}

model::Endpoint Ep(const std::string& id, uint32_t port, std::vector<std::string> tags) {
  return {.id = id, .address = "127.0.0.1", .port = port, .tags = std::move(tags)};
}

const model::Listener& Http(const FabioWorld& w) { return w.gateways.at(0).listeners.at(0); }

TEST(FabioRoutes, LongestPrefixFirstHostlessUnderStarAndStripBecomesRewrite) {
  std::vector<TaggedService> services = {
      {.name = "a", .origin = "consul service a", .endpoints = {Ep("a1", 1, {"urlprefix-/a"})}},
      {.name = "ab", .origin = "consul service ab", .endpoints = {Ep("ab1", 2, {"urlprefix-/a/b strip=/a"})}},
      {.name = "b", .origin = "consul service b", .endpoints = {Ep("b1", 3, {"urlprefix-/b strip=/b", "primary"})}},
      {.name = "h", .origin = "consul service h", .endpoints = {Ep("h1", 4, {"urlprefix-shop.example.com/"})}},
  };
  std::vector<model::Problem> problems;
  FabioWorld w = BuildFabioRoutes(services, {.gateways = {"fabio"}, .port = 9999}, &problems);
  EXPECT_TRUE(problems.empty()) << problems.front().ToString();
  ASSERT_EQ(w.gateways.size(), 1u);
  EXPECT_EQ(w.gateways[0].name, "fabio");
  const model::Listener& l = Http(w);
  EXPECT_EQ(l.name, "http_9999");
  EXPECT_EQ(l.port, 9999u);
  ASSERT_EQ(l.virtual_hosts.size(), 2u);
  EXPECT_THAT(l.virtual_hosts[0].domains, ::testing::ElementsAre("shop.example.com", "shop.example.com:9999"));
  const auto& any = l.virtual_hosts[1];
  EXPECT_THAT(any.domains, ::testing::ElementsAre("*"));
  // /a/b (rewritten to /b), then /b/ and /b (strip=/b: both rewritten to /), then /a.
  ASSERT_EQ(any.routes.size(), 4u);
  EXPECT_EQ(any.routes[0].match.path, "/a/b");
  EXPECT_EQ(*any.routes[0].action.prefix_rewrite, "/b");
  EXPECT_EQ(any.routes[0].action.clusters[0].cluster, "ab~fabio~/a/b");
  EXPECT_EQ(any.routes[1].match.path, "/b/");
  EXPECT_EQ(any.routes[1].match.path_kind, PathKind::kPrefix);
  EXPECT_EQ(*any.routes[1].action.prefix_rewrite, "/");
  EXPECT_EQ(any.routes[2].match.path, "/b");
  EXPECT_EQ(any.routes[2].match.path_kind, PathKind::kExact);
  EXPECT_EQ(*any.routes[2].action.prefix_rewrite, "/");
  EXPECT_EQ(any.routes[3].match.path, "/a");
  EXPECT_FALSE(any.routes[3].action.prefix_rewrite);
  EXPECT_EQ(w.clusters.at("b~fabio~/b").endpoints.size(), 1u);
  EXPECT_EQ(w.clusters.at("a~fabio~/a").protocol, model::Protocol::kHttp);
}

TEST(FabioRoutes, WeightSplitsBetweenTheTaggedInstancesAndTheRest) {
  std::vector<TaggedService> services = {{.name = "x", .origin = "consul service x", .protocol = model::Protocol::kGrpc,
                                          .endpoints = {Ep("x1", 1, {"urlprefix-/x weight=0.2"}), Ep("x2", 2, {}),
                                                        Ep("x3", 3, {"other"})}}};
  std::vector<model::Problem> problems;
  FabioWorld w = BuildFabioRoutes(services, {.gateways = {"fabio"}}, &problems);
  ASSERT_TRUE(problems.empty());
  const auto& route = Http(w).virtual_hosts.at(0).routes.at(0);
  ASSERT_EQ(route.action.clusters.size(), 2u);
  EXPECT_EQ(route.action.clusters[0].cluster, "x~fabio~/x~rest");
  EXPECT_EQ(route.action.clusters[0].weight, 8000u);
  EXPECT_EQ(route.action.clusters[1].cluster, "x~fabio~/x~w2000");
  EXPECT_EQ(route.action.clusters[1].weight, 2000u);
  EXPECT_EQ(w.clusters.at("x~fabio~/x~rest").endpoints.size(), 2u);
  EXPECT_EQ(w.clusters.at("x~fabio~/x~w2000").endpoints.size(), 1u);
  EXPECT_EQ(w.clusters.at("x~fabio~/x~w2000").protocol, model::Protocol::kGrpc) << "the service's protocol";
  // A proxyless client of x follows the same split for paths under /x.
  ASSERT_EQ(w.service_routes.at("x").size(), 1u);
  EXPECT_EQ(w.service_routes.at("x")[0].action.clusters, route.action.clusters);
}

TEST(FabioRoutes, UnweightedTaggedInstancesShareWhatTheWeightedOnesLeave) {
  std::vector<TaggedService> services = {{.name = "x", .origin = "consul service x",
                                          .endpoints = {Ep("x1", 1, {"urlprefix-/x weight=0.1"}),
                                                        Ep("x2", 2, {"urlprefix-/x"}), Ep("x3", 3, {"urlprefix-/x"}),
                                                        Ep("x4", 4, {})}}};
  std::vector<model::Problem> problems;
  FabioWorld w = BuildFabioRoutes(services, {.gateways = {"fabio"}}, &problems);
  const auto& route = Http(w).virtual_hosts.at(0).routes.at(0);
  ASSERT_EQ(route.action.clusters.size(), 2u);
  EXPECT_EQ(route.action.clusters[0].cluster, "x~fabio~/x");
  EXPECT_EQ(route.action.clusters[0].weight, 9000u);
  EXPECT_EQ(w.clusters.at("x~fabio~/x").endpoints.size(), 2u) << "untagged x4 gets nothing, as with Fabio";
}

TEST(FabioRoutes, RedirectAndTcp) {
  std::vector<TaggedService> services = {
      {.name = "old", .origin = "consul service old", .endpoints = {Ep("o1", 1, {"urlprefix-/old redirect=301,https://new.example.com$path"})}},
      {.name = "db", .origin = "consul service db", .endpoints = {Ep("d1", 5432, {"urlprefix-:5432 proto=tcp"})}},
  };
  std::vector<model::Problem> problems;
  FabioWorld w = BuildFabioRoutes(services, {.gateways = {"fabio", "fabio2"}}, &problems);
  ASSERT_TRUE(problems.empty()) << problems.front().ToString();
  ASSERT_EQ(w.gateways.size(), 2u);
  const auto& route = Http(w).virtual_hosts.at(0).routes.at(0);
  ASSERT_TRUE(route.action.redirect);
  EXPECT_EQ(route.action.redirect->host, "new.example.com");
  EXPECT_TRUE(route.action.clusters.empty());
  ASSERT_EQ(w.gateways[0].listeners.size(), 2u);
  EXPECT_EQ(w.gateways[0].listeners[1].name, "tcp_5432");
  EXPECT_EQ(w.gateways[0].listeners[1].tcp_cluster, "db~fabio~:5432");
  EXPECT_EQ(w.clusters.at("db~fabio~:5432").protocol, model::Protocol::kTcp);
}

TEST(FabioRoutes, AMalformedTagIsAProblemNamingServiceInstanceAndTagAndAffectsOnlyItsRoute) {
  std::vector<TaggedService> services = {
      {.name = "a", .origin = "consul service a", .endpoints = {Ep("a1", 1, {"urlprefix-/a weight=lots"}), Ep("a2", 2, {"urlprefix-/a2"})}},
      {.name = "b", .origin = "consul service b", .endpoints = {Ep("b1", 3, {"urlprefix-/b"})}},
  };
  std::vector<model::Problem> problems;
  FabioWorld w = BuildFabioRoutes(services, {.gateways = {"fabio"}}, &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "consul service a instance a1 tag 'urlprefix-/a weight=lots'");
  EXPECT_THAT(problems[0].message, HasSubstr("weight=lots"));
  const auto& routes = Http(w).virtual_hosts.at(0).routes;
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].match.path, "/a2");
  EXPECT_EQ(routes[1].match.path, "/b");
}

TEST(FabioRoutes, ConflictingOptionsForOneRouteKeepTheFirst) {
  std::vector<TaggedService> services = {
      {.name = "a", .origin = "consul service a", .endpoints = {Ep("a1", 1, {"urlprefix-/p strip=/p"})}},
      {.name = "b", .origin = "consul service b", .endpoints = {Ep("b1", 2, {"urlprefix-/p"})}},
  };
  std::vector<model::Problem> problems;
  FabioWorld w = BuildFabioRoutes(services, {.gateways = {"fabio"}}, &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].origin, HasSubstr("instance b1"));
  EXPECT_THAT(problems[0].message, HasSubstr("already defined with other options"));
  EXPECT_FALSE(w.clusters.count("b~fabio~/p"));
}

TEST(FabioRoutes, TwoServicesOnOnePathShareItByInstanceCount) {
  std::vector<TaggedService> services = {
      {.name = "a", .origin = "consul service a", .endpoints = {Ep("a1", 1, {"urlprefix-/p"})}},
      {.name = "b", .origin = "consul service b", .endpoints = {Ep("b1", 2, {"urlprefix-/p"}), Ep("b2", 3, {"urlprefix-/p"})}},
  };
  std::vector<model::Problem> problems;
  FabioWorld w = BuildFabioRoutes(services, {.gateways = {"fabio"}}, &problems);
  const auto& c = Http(w).virtual_hosts.at(0).routes.at(0).action.clusters;
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].weight + c[1].weight, 10000u);
  EXPECT_NEAR(c[0].weight * 2.0, c[1].weight, 2) << c[0].weight << " vs " << c[1].weight;
}

TEST(FabioRoutes, NoGatewayNoRoutesButTheGatewayExistsWhenConfigured) {
  std::vector<model::Problem> problems;
  FabioWorld w = BuildFabioRoutes({}, {.gateways = {"fabio"}}, &problems);
  ASSERT_EQ(w.gateways.size(), 1u);
  EXPECT_TRUE(Http(w).virtual_hosts.empty());
}

}  // namespace
}  // namespace tern::sources::tags
