// `tern bootstrap`, run as the real binary. Its Envoy bootstrap must be a v3 Bootstrap that Envoy
// would load: the YAML is read with yaml-cpp, turned into JSON, parsed with protobuf's JSON parser
// into envoy.config.bootstrap.v3.Bootstrap (unknown fields are an error, as in Envoy) and checked
// against the protos' validation rules. Its gRPC bootstrap (--grpc) is handed to a real proxyless
// gRPC client, which makes calls through `tern serve` with it.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "support/http_get.h"
#include "support/probe.h"
#include "support/process.h"
#include "support/tern_process.h"
#include "translate/pgv_validator.h"

namespace tern::testing {
namespace {

using envoy::config::bootstrap::v3::Bootstrap;
using envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext;

// YAML → JSON the way Envoy reads YAML: a quoted scalar is a string; a plain one is a bool, null
// or number when it looks like one, else a string.
nlohmann::json ToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = ToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : n) a.push_back(ToJson(e));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "false") return s == "true";
      if (s == "null" || s == "~") return nullptr;
      if (std::regex_match(s, std::regex("-?[0-9]+"))) return std::stoll(s);
      if (std::regex_match(s, std::regex("-?[0-9]*\\.[0-9]+"))) return std::stod(s);
      return s;
    }
    default:
      return nullptr;
  }
}

// What Envoy does with the file: YAML → proto (unknown fields refused) → validation rules.
absl::StatusOr<Bootstrap> LoadEnvoyBootstrap(const std::string& yaml_text) {
  // The Any types the bootstrap may carry must be in the generated pool.
  UpstreamTlsContext force_tls_link;
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions force_http_link;
  (void)force_tls_link;
  (void)force_http_link;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("not YAML: ") + e.what());
  }
  Bootstrap b;
  auto st = google::protobuf::util::JsonStringToMessage(ToJson(root).dump(), &b);
  if (!st.ok()) return absl::InvalidArgumentError("not an envoy.config.bootstrap.v3.Bootstrap: " + st.ToString());
  std::vector<std::string> violations = translate::ValidateResource(b);
  if (!violations.empty()) {
    std::string all;
    for (const auto& v : violations) all += v + "\n";
    return absl::InvalidArgumentError("validation rules: " + all);
  }
  return b;
}

class BootstrapTest : public ::testing::Test {
 protected:
  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), "bootstrap");
    auto r = RunTern(args, dir_.File(absl::StrCat("bootstrap-", runs_++, ".out")), std::chrono::seconds(20));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }
  TempDir dir_;
  int runs_ = 0;
};

TEST_F(BootstrapTest, EnvoyBootstrapIsAValidV3BootstrapPointingAtTernOverAds) {
  CommandResult r = Run({"--node-cluster", "edge", "--node-id", "edge-1", "--xds", "tern.internal:18000",
                         "--metadata", "zone=eu-west-1a", "--metadata", "team=platform ops", "--admin-port", "9902"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto b = LoadEnvoyBootstrap(r.out);
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << r.out;
  EXPECT_EQ(b->node().id(), "edge-1");
  EXPECT_EQ(b->node().cluster(), "edge");
  EXPECT_EQ(b->node().metadata().fields().at("zone").string_value(), "eu-west-1a");
  EXPECT_EQ(b->node().metadata().fields().at("team").string_value(), "platform ops");
  EXPECT_EQ(b->admin().address().socket_address().port_value(), 9902u);
  ASSERT_EQ(b->dynamic_resources().ads_config().grpc_services_size(), 1);
  EXPECT_EQ(b->dynamic_resources().ads_config().grpc_services(0).envoy_grpc().cluster_name(), "tern_xds");
  EXPECT_TRUE(b->dynamic_resources().cds_config().has_ads());
  EXPECT_TRUE(b->dynamic_resources().lds_config().has_ads());
  ASSERT_EQ(b->static_resources().clusters_size(), 1);
  const auto& c = b->static_resources().clusters(0);
  EXPECT_EQ(c.name(), "tern_xds");
  EXPECT_EQ(c.type(), envoy::config::cluster::v3::Cluster::STRICT_DNS);  // a host name: resolved by DNS
  const auto& sa = c.load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address();
  EXPECT_EQ(sa.address(), "tern.internal");
  EXPECT_EQ(sa.port_value(), 18000u);
  EXPECT_FALSE(c.has_transport_socket()) << "plaintext unless asked";

  // The check above can fail: the same file with a zero connect timeout breaks Envoy's rules.
  std::string broken = std::regex_replace(r.out, std::regex("connect_timeout: 1s"), "connect_timeout: 0s");
  ASSERT_NE(broken, r.out);
  auto bad = LoadEnvoyBootstrap(broken);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("connect_timeout"), std::string::npos) << bad.status();
}

TEST_F(BootstrapTest, EnvoyBootstrapOverMutualTlsVerifiesTernsName) {
  CommandResult r = Run({"--node-cluster", "edge", "--node-id", "edge-1", "--xds", "10.0.0.5:18000", "--tls-ca",
                         "/etc/envoy/tern-ca.pem", "--tls-cert", "/etc/envoy/edge.pem", "--tls-key",
                         "/etc/envoy/edge-key.pem", "--tls-server-name", "xds.tern.internal"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto b = LoadEnvoyBootstrap(r.out);
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << r.out;
  const auto& c = b->static_resources().clusters(0);
  EXPECT_EQ(c.type(), envoy::config::cluster::v3::Cluster::STATIC);
  ASSERT_TRUE(c.has_transport_socket());
  EXPECT_EQ(c.transport_socket().name(), "envoy.transport_sockets.tls");
  UpstreamTlsContext tls;
  ASSERT_TRUE(c.transport_socket().typed_config().UnpackTo(&tls));
  EXPECT_EQ(tls.sni(), "xds.tern.internal");
  const auto& ctx = tls.common_tls_context();
  ASSERT_EQ(ctx.tls_certificates_size(), 1);
  EXPECT_EQ(ctx.tls_certificates(0).certificate_chain().filename(), "/etc/envoy/edge.pem");
  EXPECT_EQ(ctx.tls_certificates(0).private_key().filename(), "/etc/envoy/edge-key.pem");
  EXPECT_EQ(ctx.validation_context().trusted_ca().filename(), "/etc/envoy/tern-ca.pem");
  ASSERT_EQ(ctx.validation_context().match_typed_subject_alt_names_size(), 1);
  EXPECT_EQ(ctx.validation_context().match_typed_subject_alt_names(0).matcher().exact(), "xds.tern.internal");

  // TLS to an IP without a server name: the IP must be in tern's certificate, no SNI is sent.
  CommandResult ip = Run({"--node-cluster", "edge", "--node-id", "edge-1", "--xds", "10.0.0.5:18000", "--tls-ca",
                          "/etc/envoy/tern-ca.pem"});
  ASSERT_EQ(ip.exit_code, 0) << ip.err;
  auto bi = LoadEnvoyBootstrap(ip.out);
  ASSERT_TRUE(bi.ok()) << bi.status() << "\n" << ip.out;
  UpstreamTlsContext tls_ip;
  ASSERT_TRUE(bi->static_resources().clusters(0).transport_socket().typed_config().UnpackTo(&tls_ip));
  EXPECT_EQ(tls_ip.sni(), "");
  EXPECT_EQ(tls_ip.common_tls_context().tls_certificates_size(), 0);
  const auto& san = tls_ip.common_tls_context().validation_context().match_typed_subject_alt_names(0);
  EXPECT_EQ(san.san_type(), envoy::extensions::transport_sockets::tls::v3::SubjectAltNameMatcher::IP_ADDRESS);
  EXPECT_EQ(san.matcher().exact(), "10.0.0.5");
}

// Values are data, never structure: quotes, newlines and YAML syntax in a node id or metadata come
// back exactly as given.
TEST_F(BootstrapTest, HostileValuesStayValues) {
  const std::string id = "edge-1\"\n  cluster: evil # {x: [y]}";
  const std::string value = "a: b\n- c\t\\ \"d\" ü";
  CommandResult r = Run({"--node-cluster", "edge", "--node-id", id, "--metadata", "k=" + value});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto b = LoadEnvoyBootstrap(r.out);
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << r.out;
  EXPECT_EQ(b->node().id(), id);
  EXPECT_EQ(b->node().cluster(), "edge");
  EXPECT_EQ(b->node().metadata().fields().at("k").string_value(), value);

  CommandResult g = Run({"--grpc", "--node-cluster", "edge", "--node-id", id, "--metadata", "k=" + value});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  auto j = nlohmann::json::parse(g.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << g.out;
  EXPECT_EQ(j["node"]["id"], id);
  EXPECT_EQ(j["node"]["metadata"]["k"], value);
}

TEST_F(BootstrapTest, BadOptionsAreRefusedWithTheirName) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"--metadata", "zone"}, "--metadata 'zone' is not KEY=VALUE"},
      {{"--metadata", "=x"}, "--metadata '=x' is not KEY=VALUE"},
      {{"--metadata", "a=1", "--metadata", "a=2"}, "key 'a' is given twice"},
      {{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, "needs --tls-ca"},
      {{"--tls-ca", "ca.pem", "--tls-cert", "c.pem"}, "needs both --tls-cert and --tls-key"},
      {{"--xds", "tern.internal"}, "--xds 'tern.internal' is not host:port"},
      {{"--xds", "tern.internal:99999"}, "is not host:port"},
      {{"--tls-ca", "ca-\xff.pem"}, "--tls-ca is not valid UTF-8"},
      {{"--metadata", "k=\xff"}, "--metadata 1 is not valid UTF-8"},
      {{"--grpc", "--tls-ca", "ca.pem", "--tls-server-name", "x"}, "--tls-server-name is not supported with --grpc"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--node-cluster", "edge", "--node-id", "edge-1"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    SCOPED_TRACE(c.expected);
    CommandResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << "nothing half-written on stdout";
  }
}

// gRFC A65: xDS over (m)TLS in the gRPC bootstrap. No client installed here implements it (gRPC C++
// 1.51 and grpc-js-xds 1.14 know only "insecure" and "google_default"), so only its shape is checked.
TEST_F(BootstrapTest, GrpcBootstrapOverTlsUsesTheA65CredentialsType) {
  CommandResult r = Run({"--grpc", "--node-cluster", "mesh", "--node-id", "svc-1", "--xds", "xds.tern.internal:18000",
                         "--tls-ca", "/etc/tern/ca.pem", "--tls-cert", "/etc/tern/c.pem", "--tls-key", "/etc/tern/k.pem"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  const auto& server = j["xds_servers"][0];
  EXPECT_EQ(server["server_uri"], "xds.tern.internal:18000");
  ASSERT_EQ(server["channel_creds"].size(), 1u) << "no silent fallback to plaintext";
  EXPECT_EQ(server["channel_creds"][0]["type"], "tls");
  EXPECT_EQ(server["channel_creds"][0]["config"]["ca_certificate_file"], "/etc/tern/ca.pem");
  EXPECT_EQ(server["channel_creds"][0]["config"]["certificate_file"], "/etc/tern/c.pem");
  EXPECT_EQ(server["channel_creds"][0]["config"]["private_key_file"], "/etc/tern/k.pem");
}

// The --grpc bootstrap, as printed, is what a real proxyless gRPC client (gRPC C++ xDS resolver)
// starts from: it connects to `tern serve`, resolves xds:///greeter and its calls reach the backend.
TEST_F(BootstrapTest, GrpcBootstrapIsUsedByARealClientThroughTernServe) {
  auto backend = StartTestBackend("greeter-1", dir_.path());
  ASSERT_TRUE(backend.ok()) << backend.status();
  ASSERT_TRUE(WriteFile(dir_.File("services.yaml"),
                        absl::StrCat("services:\n  - name: greeter\n    protocol: grpc\n"
                                     "    endpoints: [ { address: 127.0.0.1, port: ",
                                     backend->grpc_port, " } ]\n"))
                  .ok());
  auto tern = TernServer::Start({.dir = dir_.path(), .files = {"services.yaml"}});
  ASSERT_TRUE(tern.ok()) << tern.status();

  CommandResult r = Run({"--grpc", "--node-cluster", "mesh", "--node-id", "probe-from-bootstrap", "--xds",
                         (*tern)->xds_address(), "--metadata", "zone=z1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WriteFile(dir_.File("grpc-bootstrap.json"), r.out).ok());

  auto probe = RunProbe({.client = ProbeClient::kGrpcCpp, .target = "xds:///greeter",
                         .bootstrap_path = dir_.File("grpc-bootstrap.json"), .calls = 20,
                         .log_path = dir_.File("probe.log")});
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->ok, 20) << ToString(*probe);
  EXPECT_EQ(probe->count("greeter-1"), 20) << ToString(*probe);
}

}  // namespace
}  // namespace tern::testing
