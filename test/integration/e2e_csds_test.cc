// CSDS end to end: the real `build/tern serve` on a files world with two gateways, proxies that
// are raw ADS clients (so that the test decides exactly what they ACK and NACK), and a CSDS client
// made from the generated gRPC stub, as an operator's tool would be.
//
// The story: the edge Envoy accepts its clusters but rejects its listeners; the internal Envoy is
// fine. The operator asks tern, over CSDS, what each proxy runs: the edge proxy's clusters are
// SYNCED / ACKED at the version tern served, its listener is in ERROR / NACKED with the proxy's own
// error text. Node matchers pick one proxy or the other; a bad matcher is refused and changes
// nothing. /debug/proxies tells the same story.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

#include "common/type_urls.h"
#include "envoy/service/status/v3/csds.grpc.pb.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

namespace csds = envoy::service::status::v3;
using envoy::admin::v3::ClientResourceStatus;

const std::string kCds(kClusterType), kLds(kListenerType);
constexpr char kNackText[] = "Error adding/updating listener(s) http: unknown filter 'envoy.filters.http.bogus'";

const csds::ClientConfig* ConfigOf(const csds::ClientStatusResponse& r, const std::string& node_id) {
  for (const auto& c : r.config()) {
    if (c.node().id() == node_id) return &c;
  }
  return nullptr;
}

std::vector<const csds::ClientConfig::GenericXdsConfig*> OfType(const csds::ClientConfig& c, const std::string& url) {
  std::vector<const csds::ClientConfig::GenericXdsConfig*> out;
  for (const auto& g : c.generic_xds_configs()) {
    if (g.type_url() == url) out.push_back(&g);
  }
  return out;
}

std::vector<std::string> NodeIds(const csds::ClientStatusResponse& r) {
  std::vector<std::string> out;
  for (const auto& c : r.config()) out.push_back(c.node().id());
  std::sort(out.begin(), out.end());
  return out;
}

csds::ClientStatusRequest ByNodeId(const std::function<void(envoy::type::matcher::v3::StringMatcher*)>& set) {
  csds::ClientStatusRequest req;
  set(req.add_node_matchers()->mutable_node_id());
  return req;
}

class CsdsTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), kWorld).ok());
    ASSERT_NO_FATAL_FAILURE(StartTern({.files = {"services.yaml"}}));
    stub_ = csds::ClientStatusDiscoveryService::NewStub(
        grpc::CreateChannel(tern_->xds_address(), grpc::InsecureChannelCredentials()));

    // The edge Envoy (with node metadata): ACKs CDS, NACKs LDS.
    edge_ = std::make_unique<RawXdsClient>(tern_->xds_address(), kAdsMethod);
    auto first = RawXdsClient::Request(kCds, {}, "", "", "edge", "edge-envoy-1");
    auto& md = *first.mutable_node()->mutable_metadata()->mutable_fields();
    md["zone"].set_string_value("eu-west-1a");
    md["team"].set_string_value("payments");
    first.mutable_node()->set_user_agent_name("envoy");
    first.mutable_node()->set_user_agent_version("1.28.0");
    ASSERT_TRUE(edge_->Send(first));
    auto cds = edge_->Next();
    ASSERT_TRUE(cds) << "no CDS response";
    cds_version_ = cds->version_info();
    cds_count_ = cds->resources_size();
    ASSERT_GE(cds_count_, 1);
    ASSERT_TRUE(edge_->Send(RawXdsClient::Request(kCds, {}, cds_version_, cds->nonce(), "edge", "edge-envoy-1")));
    ASSERT_TRUE(edge_->Send(RawXdsClient::Request(kLds, {}, "", "", "edge", "edge-envoy-1")));
    auto lds = edge_->Next();
    ASSERT_TRUE(lds) << "no LDS response";
    lds_version_ = lds->version_info();
    before_nack_ = std::chrono::system_clock::now();
    auto nack = RawXdsClient::Request(kLds, {}, "", lds->nonce(), "edge", "edge-envoy-1");
    nack.mutable_error_detail()->set_code(3);
    nack.mutable_error_detail()->set_message(kNackText);
    ASSERT_TRUE(edge_->Send(nack));

    // The internal Envoy: ACKs its clusters.
    internal_ = std::make_unique<RawXdsClient>(tern_->xds_address(), kAdsMethod);
    ASSERT_TRUE(internal_->Send(RawXdsClient::Request(kCds, {}, "", "", "internal", "internal-envoy-7")));
    auto icds = internal_->Next();
    ASSERT_TRUE(icds) << "no CDS response for the internal proxy";
    ASSERT_TRUE(internal_->Send(
        RawXdsClient::Request(kCds, {}, icds->version_info(), icds->nonce(), "internal", "internal-envoy-7")));

    // The ACKs and the NACK are read by tern on its own threads: wait until it has taken them in
    // (a state check, not a timer).
    auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto all = Fetch(csds::ClientStatusRequest());
      if (all.ok() && Settled(*all)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "tern never reported the proxies' ACKs and NACK";
  }

  static bool Settled(const csds::ClientStatusResponse& r) {
    const auto* edge = ConfigOf(r, "edge-envoy-1");
    const auto* internal = ConfigOf(r, "internal-envoy-7");
    if (!edge || !internal) return false;
    auto listeners = OfType(*edge, kLds);
    auto clusters = OfType(*internal, kCds);
    return !listeners.empty() && listeners[0]->config_status() == csds::ERROR && !clusters.empty() &&
           clusters[0]->config_status() == csds::SYNCED;
  }

  absl::StatusOr<csds::ClientStatusResponse> Fetch(const csds::ClientStatusRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(5));
    csds::ClientStatusResponse resp;
    grpc::Status st = stub_->FetchClientStatus(&ctx, req, &resp);
    if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    return resp;
  }

  nlohmann::json AdminJson(const std::string& path) {
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), path);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    auto j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << r->body;
    return j;
  }

  static constexpr char kWorld[] =
      "services:\n"
      "  - name: web\n"
      "    protocol: http\n"
      "    endpoints: [ { address: 127.0.0.1, port: 9001 } ]\n"
      "  - name: api\n"
      "    protocol: http\n"
      "    endpoints: [ { address: 127.0.0.1, port: 9002 } ]\n"
      "gateways:\n"
      "  - name: edge\n"
      "    listeners:\n"
      "      - name: http\n"
      "        protocol: http\n"
      "        address: 127.0.0.1\n"
      "        port: 10000\n"
      "        virtual_hosts:\n"
      "          - name: all\n"
      "            domains: [ \"*\" ]\n"
      "            routes:\n"
      "              - match: { prefix: /api }\n"
      "                service: api\n"
      "              - match: { prefix: / }\n"
      "                service: web\n"
      "  - name: internal\n"
      "    listeners:\n"
      "      - name: http\n"
      "        protocol: http\n"
      "        address: 127.0.0.1\n"
      "        port: 10001\n"
      "        virtual_hosts:\n"
      "          - name: all\n"
      "            domains: [ \"*\" ]\n"
      "            routes:\n"
      "              - match: { prefix: / }\n"
      "                service: api\n";

  std::unique_ptr<csds::ClientStatusDiscoveryService::Stub> stub_;
  std::unique_ptr<RawXdsClient> edge_, internal_;
  std::string cds_version_, lds_version_;
  int cds_count_ = 0;
  std::chrono::system_clock::time_point before_nack_;
};

TEST_F(CsdsTest, AProxyThatNackedListenersIsReportedWithTheError) {
  auto r = Fetch(ByNodeId([](auto* m) { m->set_exact("edge-envoy-1"); }));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->config_size(), 1);
  const auto& edge = r->config(0);
  EXPECT_EQ(edge.node().id(), "edge-envoy-1");
  EXPECT_EQ(edge.node().cluster(), "edge");
  EXPECT_EQ(edge.node().metadata().fields().at("zone").string_value(), "eu-west-1a");
  EXPECT_EQ(edge.node().user_agent_name(), "envoy");

  auto clusters = OfType(edge, kCds);
  ASSERT_EQ(static_cast<int>(clusters.size()), cds_count_);
  for (const auto* c : clusters) {
    SCOPED_TRACE(c->name());
    EXPECT_EQ(c->config_status(), csds::SYNCED);
    EXPECT_EQ(c->client_status(), envoy::admin::v3::ACKED);
    EXPECT_EQ(c->version_info(), cds_version_);
    EXPECT_EQ(c->xds_config().type_url(), kCds);
    EXPECT_FALSE(c->xds_config().value().empty());
    EXPECT_FALSE(c->has_error_state());
    EXPECT_TRUE(c->has_last_updated());
  }

  auto listeners = OfType(edge, kLds);
  ASSERT_EQ(listeners.size(), 1u);
  const auto& l = *listeners[0];
  EXPECT_EQ(l.name(), "http");
  EXPECT_EQ(l.config_status(), csds::ERROR);
  EXPECT_EQ(l.client_status(), envoy::admin::v3::NACKED);
  EXPECT_EQ(l.version_info(), lds_version_);
  ASSERT_TRUE(l.has_error_state());
  EXPECT_EQ(l.error_state().details(), kNackText);
  EXPECT_EQ(l.error_state().version_info(), lds_version_);
  auto nack_at = std::chrono::system_clock::time_point(std::chrono::nanoseconds(
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(l.error_state().last_update_attempt())));
  EXPECT_GE(nack_at, before_nack_ - seconds(1));
  EXPECT_LE(nack_at, std::chrono::system_clock::now());
}

TEST_F(CsdsTest, FetchWithANodeIdMatcherReturnsOnlyThatProxy) {
  auto all = Fetch(csds::ClientStatusRequest());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(NodeIds(*all), (std::vector<std::string>{"edge-envoy-1", "internal-envoy-7"}));

  auto internal = Fetch(ByNodeId([](auto* m) { m->set_exact("internal-envoy-7"); }));
  ASSERT_TRUE(internal.ok()) << internal.status();
  EXPECT_EQ(NodeIds(*internal), (std::vector<std::string>{"internal-envoy-7"}));
  const auto* c = ConfigOf(*internal, "internal-envoy-7");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(OfType(*c, kLds).empty()) << "the internal proxy never asked for listeners";
  for (const auto* g : OfType(*c, kCds)) EXPECT_EQ(g->config_status(), csds::SYNCED) << g->name();

  auto none = Fetch(ByNodeId([](auto* m) { m->set_exact("no-such-envoy"); }));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->config_size(), 0);
}

TEST_F(CsdsTest, AStreamAnswersEachRequestWithItsOwnMatchers) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
  auto stream = stub_->StreamClientStatus(&ctx);

  // First: by node id prefix, case-insensitive.
  auto by_prefix = ByNodeId([](auto* m) {
    m->set_prefix("INTERNAL-");
    m->set_ignore_case(true);
  });
  ASSERT_TRUE(stream->Write(by_prefix));
  csds::ClientStatusResponse first;
  ASSERT_TRUE(stream->Read(&first));
  EXPECT_EQ(NodeIds(first), (std::vector<std::string>{"internal-envoy-7"}));

  // Then: by node metadata (zone matches a regex).
  csds::ClientStatusRequest by_zone;
  auto* sm = by_zone.add_node_matchers()->add_node_metadatas();
  sm->add_path()->set_key("zone");
  sm->mutable_value()->mutable_string_match()->mutable_safe_regex()->set_regex("eu-west-[0-9][a-z]");
  ASSERT_TRUE(stream->Write(by_zone));
  csds::ClientStatusResponse second;
  ASSERT_TRUE(stream->Read(&second));
  EXPECT_EQ(NodeIds(second), (std::vector<std::string>{"edge-envoy-1"}));

  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(CsdsTest, ABadRegexIsRejectedAndChangesNothing) {
  auto before = Fetch(csds::ClientStatusRequest());
  ASSERT_TRUE(before.ok()) << before.status();

  auto bad = Fetch(ByNodeId([](auto* m) { m->mutable_safe_regex()->set_regex("edge-(envoy"); }));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("node_matchers[0].node_id.safe_regex.regex"), std::string::npos)
      << bad.status();
  EXPECT_NE(bad.status().message().find("edge-(envoy"), std::string::npos) << bad.status();

  // On a stream too: the stream ends with the same error.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
    auto stream = stub_->StreamClientStatus(&ctx);
    ASSERT_TRUE(stream->Write(ByNodeId([](auto* m) { m->mutable_safe_regex()->set_regex("("); })));
    csds::ClientStatusResponse ignored;
    EXPECT_FALSE(stream->Read(&ignored));
    grpc::Status st = stream->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("safe_regex"), std::string::npos) << st.error_message();
  }

  // The proxies' streams are untouched: same proxies, same statuses.
  auto after = Fetch(csds::ClientStatusRequest());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(NodeIds(*after), NodeIds(*before));
  EXPECT_TRUE(Settled(*after));
}

TEST_F(CsdsTest, AProxyWithOversizedMetadataIsListedWithoutIt) {
  RawXdsClient big(tern_->xds_address(), kAdsMethod);
  auto first = RawXdsClient::Request(kCds, {}, "", "", "edge", "edge-envoy-big");
  (*first.mutable_node()->mutable_metadata()->mutable_fields())["blob"].set_string_value(std::string(32 * 1024, 'x'));
  ASSERT_TRUE(big.Send(first));
  ASSERT_TRUE(big.Next()) << "no CDS response";

  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  const csds::ClientConfig* c = nullptr;
  absl::StatusOr<csds::ClientStatusResponse> r;
  while (!c && std::chrono::steady_clock::now() < deadline) {
    r = Fetch(ByNodeId([](auto* m) { m->set_exact("edge-envoy-big"); }));
    ASSERT_TRUE(r.ok()) << r.status();
    c = ConfigOf(*r, "edge-envoy-big");
    if (!c) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->node().cluster(), "edge");
  EXPECT_FALSE(c->node().has_metadata());
  EXPECT_FALSE(OfType(*c, kCds).empty()) << "its clusters are reported all the same";
}

TEST_F(CsdsTest, DebugProxiesShowsTheSameStatusesWithNodeMetadataAndNackTime) {
  auto proxies = AdminJson("/debug/proxies?resources=true");
  ASSERT_TRUE(proxies.is_array()) << proxies.dump();
  const nlohmann::json* edge = nullptr;
  for (const auto& p : proxies) {
    if (p.value("node_id", "") == "edge-envoy-1") edge = &p;
  }
  ASSERT_NE(edge, nullptr) << proxies.dump(2);
  EXPECT_EQ((*edge)["node_metadata"].value("zone", ""), "eu-west-1a");
  EXPECT_EQ((*edge)["user_agent"], "envoy/1.28.0");

  const auto& listener = (*edge)["types"]["listener"];
  EXPECT_EQ(listener["status"], "ERROR");
  EXPECT_EQ(listener["last_nack"], kNackText);
  EXPECT_EQ(listener["version_nacked"], lds_version_);
  EXPECT_FALSE(listener["last_nack_at"].get<std::string>().empty());
  ASSERT_EQ(listener["resources"].size(), 1u) << listener.dump(2);
  EXPECT_EQ(listener["resources"][0]["name"], "http");
  EXPECT_EQ(listener["resources"][0]["client_status"], "NACKED");

  const auto& cluster = (*edge)["types"]["cluster"];
  EXPECT_EQ(cluster["status"], "SYNCED");
  ASSERT_EQ(static_cast<int>(cluster["resources"].size()), cds_count_);
  for (const auto& r : cluster["resources"]) {
    EXPECT_EQ(r["config_status"], "SYNCED");
    EXPECT_EQ(r["client_status"], "ACKED");
    EXPECT_EQ(r["version"], cds_version_);
  }
}

}  // namespace
}  // namespace tern::testing
