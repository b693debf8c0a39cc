// VHDS through the real `build/tern serve` (issue 8, item 4): a services.yaml gateway whose route
// table is served on demand, a raw delta ADS client in the role of its Envoy, and a raw
// state-of-the-world client in the role of a proxyless gRPC client.
//
// The Envoy subscribes to the gateway's route configuration (which names VHDS and carries no
// virtual host) and to virtual hosts by "<route configuration>/<host>": it gets the host it asks
// for; an unknown host is answered at once as unknown (docs/xds.md); a host the operator adds
// reaches it without the route configuration being sent again; a change of one host re-sends that
// host alone, and a host it did not ask for is not sent. The proxyless client keeps getting its routes inline. `tern render` shows the
// virtual hosts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/type_urls.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kDeltaAds[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
constexpr char kDeltaVhds[] = "/envoy.service.route.v3.VirtualHostDiscoveryService/DeltaVirtualHosts";
const std::string kRds(kRouteType);
const std::string kVhds(kVirtualHostType);
const std::string kLds(kListenerType);

struct Host {
  std::string service;
  std::string prefix = "/";
};

// One HTTP service per host, each behind the `edge` gateway's listener `http` as
// "<service>.example.com", served on demand.
std::string ServicesYaml(const std::vector<Host>& hosts) {
  std::string services = "services:\n", vhosts;
  int port = 9001;
  for (const auto& h : hosts) {
    absl::StrAppend(&services, "  - name: ", h.service,
                    "\n    protocol: http\n    endpoints: [ { address: 127.0.0.1, port: ", port++, " } ]\n");
    absl::StrAppend(&vhosts, "          - { name: ", h.service, ", domains: [\"", h.service,
                    ".example.com\"], routes: [ { match: { prefix: \"", h.prefix, "\" }, service: ", h.service,
                    " } ] }\n");
  }
  return absl::StrCat(services,
                      "gateways:\n  - name: edge\n    vhds: on_demand\n    listeners:\n      - name: http\n"
                      "        port: 10000\n        virtual_hosts:\n",
                      vhosts);
}

class E2EVhdsTest : public TernTest {
 protected:
  void SetUp() override {
    hosts_ = {{"web-1"}, {"web-2"}};
    ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), ServicesYaml(hosts_)).ok());
    ASSERT_NO_FATAL_FAILURE(StartTern({.files = {"services.yaml"}}));
    ads_ = std::make_unique<RawXdsClient>(tern_->xds_address(), kDeltaAds);
    vhds_ = std::make_unique<RawXdsClient>(tern_->xds_address(), kDeltaVhds);
  }


  void WriteHosts() { ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), ServicesYaml(hosts_)).ok()); }

  // Sends a delta request of `type` on `stream` subscribing to `names`; the first request of a
  // stream carries the node (an Envoy of `edge`).
  static void Subscribe(RawXdsClient& stream, bool first, const std::string& type, const std::vector<std::string>& names) {
    DeltaDiscoveryRequest req;
    req.set_type_url(type);
    if (first) {
      req.mutable_node()->set_id("envoy-1");
      req.mutable_node()->set_cluster("edge");
    }
    for (const auto& n : names) req.add_resource_names_subscribe(n);
    ASSERT_TRUE(stream.Send(req));
  }

  // The next response on `stream`, ACKed.
  static std::optional<DeltaDiscoveryResponse> NextAcked(RawXdsClient& stream) {
    auto r = stream.NextDelta(seconds(10));
    if (!r) return r;
    DeltaDiscoveryRequest ack;
    ack.set_type_url(r->type_url());
    ack.set_response_nonce(r->nonce());
    if (!stream.Send(ack)) return std::nullopt;
    return r;
  }

  // Polls a fresh VHDS stream until tern serves `service`'s virtual host with `prefix` (so that
  // a file edit is known to be published).
  bool WaitForServedPrefix(const std::string& service, const std::string& prefix) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      RawXdsClient other(tern_->xds_address(), kDeltaVhds);
      DeltaDiscoveryRequest req;
      req.set_type_url(kVhds);
      req.mutable_node()->set_id("envoy-2");
      req.mutable_node()->set_cluster("edge");
      req.add_resource_names_subscribe("http/" + service + ".example.com");
      if (!other.Send(req)) return false;
      auto r = other.NextDelta(seconds(5));
      if (r && r->resources_size() == 1 && r->resources(0).has_resource()) {
        envoy::config::route::v3::VirtualHost vh;
        if (r->resources(0).resource().UnpackTo(&vh) && vh.routes_size() == 1 && vh.routes(0).match().prefix() == prefix) {
          return true;
        }
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }

  std::vector<Host> hosts_;
  std::unique_ptr<RawXdsClient> ads_;   // the Envoy's ADS stream (delta)
  std::unique_ptr<RawXdsClient> vhds_;  // its VHDS stream, as the route configuration tells it
};

envoy::config::route::v3::VirtualHost Unpack(const envoy::service::discovery::v3::Resource& r) {
  envoy::config::route::v3::VirtualHost vh;
  EXPECT_TRUE(r.resource().UnpackTo(&vh)) << r.name();
  return vh;
}

TEST_F(E2EVhdsTest, AnEnvoyGetsTheHostsItAsksForAndOnlyThose) {
  // The route configuration: no virtual host of its own, VHDS on a delta gRPC stream to tern.
  Subscribe(*ads_, true, kRds, {"http"});
  auto rds = NextAcked(*ads_);
  ASSERT_TRUE(rds.has_value());
  ASSERT_EQ(rds->type_url(), kRds);
  ASSERT_EQ(rds->resources_size(), 1);
  envoy::config::route::v3::RouteConfiguration rc;
  ASSERT_TRUE(rds->resources(0).resource().UnpackTo(&rc));
  EXPECT_EQ(rc.name(), "http");
  EXPECT_EQ(rc.virtual_hosts_size(), 0);
  const auto& api = rc.vhds().config_source().api_config_source();
  EXPECT_EQ(api.api_type(), envoy::config::core::v3::ApiConfigSource::DELTA_GRPC);
  ASSERT_EQ(api.grpc_services_size(), 1);
  EXPECT_EQ(api.grpc_services(0).envoy_grpc().cluster_name(), "tern_xds");

  // A known host (with its port, as in a Host header): that virtual host, under the requested alias.
  Subscribe(*vhds_, true, kVhds, {"http/web-1.example.com:10000"});
  auto vhds = NextAcked(*vhds_);
  ASSERT_TRUE(vhds.has_value());
  ASSERT_EQ(vhds->type_url(), kVhds);
  ASSERT_EQ(vhds->resources_size(), 1);
  EXPECT_EQ(vhds->resources(0).name(), "http/web-1");
  EXPECT_THAT(vhds->resources(0).aliases(), ::testing::ElementsAre("http/web-1.example.com:10000"));
  auto vh = Unpack(vhds->resources(0));
  EXPECT_EQ(vh.name(), "http/web-1") << "named like its resource: Envoy keys (and removes) on-demand hosts by name";
  EXPECT_THAT(vh.domains(), ::testing::ElementsAre("web-1.example.com"));
  ASSERT_EQ(vh.routes_size(), 1);
  EXPECT_EQ(vh.routes(0).route().cluster(), "web-1");

  // An unknown host: answered at once, the alias named with no resource.
  Subscribe(*vhds_, false, kVhds, {"http/new.example.com"});
  auto unknown = NextAcked(*vhds_);
  ASSERT_TRUE(unknown.has_value());
  ASSERT_EQ(unknown->type_url(), kVhds);
  ASSERT_EQ(unknown->resources_size(), 1);
  EXPECT_EQ(unknown->resources(0).name(), "http/new.example.com");
  EXPECT_THAT(unknown->resources(0).aliases(), ::testing::ElementsAre("http/new.example.com"));
  EXPECT_FALSE(unknown->resources(0).has_resource());
  // The same subscription on the ADS stream, so that the order of its responses can show that the
  // route configuration is not sent again below.
  Subscribe(*ads_, false, kVhds, {"http/new.example.com"});
  auto unknown_ads = NextAcked(*ads_);
  ASSERT_TRUE(unknown_ads.has_value());
  ASSERT_EQ(unknown_ads->type_url(), kVhds);

  // The operator adds the host: it reaches the Envoy that asked for it. On ADS, one snapshot is
  // sent in ADS order (RDS before VHDS), so a route configuration sent again would arrive first:
  // the next response must be the virtual host.
  hosts_.push_back({"new"});
  WriteHosts();
  auto added = NextAcked(*vhds_);
  ASSERT_TRUE(added.has_value());
  ASSERT_EQ(added->type_url(), kVhds);
  ASSERT_EQ(added->resources_size(), 1);
  EXPECT_EQ(added->resources(0).name(), "http/new");
  EXPECT_THAT(added->resources(0).aliases(), ::testing::ElementsAre("http/new.example.com"));
  EXPECT_THAT(Unpack(added->resources(0)).domains(), ::testing::ElementsAre("new.example.com"));
  auto added_ads = NextAcked(*ads_);
  ASSERT_TRUE(added_ads.has_value());
  EXPECT_EQ(added_ads->type_url(), kVhds) << "the route configuration was sent again";

  // One host changes: that host alone is sent again.
  hosts_[0].prefix = "/v2";
  WriteHosts();
  auto changed = NextAcked(*vhds_);
  ASSERT_TRUE(changed.has_value());
  ASSERT_EQ(changed->type_url(), kVhds);
  ASSERT_EQ(changed->resources_size(), 1);
  EXPECT_EQ(changed->resources(0).name(), "http/web-1");
  EXPECT_EQ(Unpack(changed->resources(0)).routes(0).match().prefix(), "/v2");
  // web-2, which this Envoy did not ask for, changes, and then web-1 again: the next response is
  // web-1's (web-2's would have come first).
  hosts_[1].prefix = "/v2";
  WriteHosts();
  ASSERT_TRUE(WaitForServedPrefix("web-2", "/v2"));
  hosts_[0].prefix = "/v3";
  WriteHosts();
  auto next = NextAcked(*vhds_);
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->type_url(), kVhds);
  ASSERT_EQ(next->resources_size(), 1);
  EXPECT_EQ(next->resources(0).name(), "http/web-1");
  EXPECT_EQ(Unpack(next->resources(0)).routes(0).match().prefix(), "/v3");
  // Whatever else the ADS stream holds by now is no route configuration.
  while (!ads_->Quiet(milliseconds(0))) {
    auto r = ads_->NextDelta(seconds(1));
    ASSERT_TRUE(r.has_value());
    EXPECT_NE(r->type_url(), kRds);
  }

  // The operator removes the host "new": the Envoy that holds it is told to drop it
  // (removed_resources names the virtual host), and its alias is now unknown.
  hosts_.pop_back();
  WriteHosts();
  auto gone = NextAcked(*vhds_);
  ASSERT_TRUE(gone.has_value());
  ASSERT_EQ(gone->type_url(), kVhds);
  EXPECT_THAT(gone->removed_resources(), ::testing::ElementsAre("http/new"));
  ASSERT_EQ(gone->resources_size(), 1);
  EXPECT_EQ(gone->resources(0).name(), "http/new.example.com");
  EXPECT_FALSE(gone->resources(0).has_resource());
}

// A proxyless gRPC client (any node cluster that is not a gateway) never uses VHDS: its route
// configuration carries its virtual host inline.
TEST_F(E2EVhdsTest, ProxylessClientsKeepInlineRoutes) {
  RawXdsClient grpc_client(tern_->xds_address(), kAdsMethod);
  ASSERT_TRUE(grpc_client.Send(RawXdsClient::Request(kLds, {"web-1"}, "", "", "proxyless", "grpc-1")));
  auto lds = grpc_client.Next(seconds(10));
  ASSERT_TRUE(lds.has_value());
  ASSERT_EQ(lds->resources_size(), 1);
  ASSERT_TRUE(grpc_client.Send(RawXdsClient::Request(kRds, {"svc/web-1"}, "", "", "proxyless", "grpc-1")));
  auto rds = grpc_client.Next(seconds(10));
  ASSERT_TRUE(rds.has_value());
  ASSERT_EQ(rds->type_url(), kRds);
  ASSERT_EQ(rds->resources_size(), 1);
  envoy::config::route::v3::RouteConfiguration rc;
  ASSERT_TRUE(rds->resources(0).UnpackTo(&rc));
  EXPECT_EQ(rc.name(), "svc/web-1");
  EXPECT_FALSE(rc.has_vhds());
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  EXPECT_EQ(rc.virtual_hosts(0).routes(0).route().cluster(), "web-1");

  // And the gateway's own listener asks Envoy to fetch hosts on demand.
  Subscribe(*ads_, true, kLds, {"*"});
  auto gw = NextAcked(*ads_);
  ASSERT_TRUE(gw.has_value());
  ASSERT_EQ(gw->resources_size(), 1);
  envoy::config::listener::v3::Listener l;
  ASSERT_TRUE(gw->resources(0).resource().UnpackTo(&l));
  EXPECT_NE(l.SerializeAsString().find("envoy.filters.http.on_demand"), std::string::npos);
}

// `tern render` lists the gateway's virtual hosts; `--type virtual_host` lists them alone.
TEST_F(E2EVhdsTest, RenderShowsTheVirtualHosts) {
  auto r = RunTern({"render", "--config", tern_->config_path(), "--node-cluster", "edge", "--type", "virtual_host"},
                   dir_.File("render.log"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  auto doc = nlohmann::json::parse(r->out);
  ASSERT_EQ(doc["types"].size(), 1u);
  EXPECT_EQ(doc["types"][0]["typeUrl"], kVhds);
  std::vector<std::string> names;
  for (const auto& vh : doc["types"][0]["resources"]) names.push_back(vh["name"]);
  EXPECT_THAT(names, ::testing::ElementsAre("http/web-1", "http/web-2"));
  auto all = RunTern({"render", "--config", tern_->config_path(), "--node-cluster", "edge", "--type", "all"},
                     dir_.File("render-all.log"));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->exit_code, 0) << all->err;
  auto alldoc = nlohmann::json::parse(all->out);
  bool listed = false;
  for (const auto& t : alldoc["types"]) listed = listed || t["typeUrl"] == kVhds;
  EXPECT_TRUE(listed);
}

}  // namespace
}  // namespace tern::testing
