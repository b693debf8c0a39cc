#include "sources/file/yaml_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "sources/file/yaml_reader.h"

namespace tern::sources::file {
namespace {

using ::testing::HasSubstr;

// Decodes `text` expecting failure; returns every problem as "origin: message".
std::vector<std::string> ProblemsOf(const std::string& text) {
  std::vector<model::Problem> problems;
  auto world = DecodeServicesYaml(text, "services.yaml", &problems);
  EXPECT_FALSE(world.ok()) << "expected the decoder to refuse:\n" << text;
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.ToString());
  return out;
}

const char* kValid = R"(services:
  - name: greeter
    protocol: grpc
    connect_timeout: 2s
    lb_policy: least_request
    circuit_breakers: { max_connections: 1000, max_retries: 3 }
    outlier_detection: { consecutive_5xx: 7, interval: 1.5s }
    endpoints:
      - { address: 127.0.0.1, port: 50051, weight: 2, health: warning, zone: a, metadata: { version: "1" }, tags: [blue], id: greeter-1 }
      - { address: 127.0.0.2, port: 50051 }
    routes:
      - match: { prefix: / }
        split: [ { service: greeter, weight: 90 }, { service: api, weight: 10 } ]
  - name: api
    endpoints: [ { address: 10.0.0.1, port: 80 } ]
  - name: db
    protocol: tcp
gateways:
  - name: edge
    listeners:
      - port: 8080
        virtual_hosts:
          - name: web
            domains: ["*"]
            routes:
              - match: { prefix: /api, headers: [ { name: x-canary, exact: "true" } ], query: [ { name: debug, present: true } ], methods: [GET] }
                service: api
                prefix_rewrite: /
                timeout: 5s
                retries: { num_retries: 3, on_connect_failure: true, on_status_codes: [503], retry_on: [reset], per_try_timeout: 1s }
              - match: { exact: /old }
                redirect: { code: 301, host: example.com, path: /new, scheme: https }
      - name: pg
        port: 5432
        protocol: tcp
        service: db
)";

TEST(YamlDecoderTest, AValidFileGivesClustersGatewaysAndServiceRoutes) {
  std::vector<model::Problem> problems;
  auto world = DecodeServicesYaml(kValid, "services.yaml", &problems);
  ASSERT_TRUE(world.ok()) << world.status();
  EXPECT_TRUE(problems.empty());

  ASSERT_EQ(world->clusters.size(), 3u);
  const model::Cluster& greeter = world->clusters.at("greeter");
  EXPECT_EQ(greeter.service, "greeter");
  EXPECT_EQ(greeter.protocol, model::Protocol::kGrpc);
  EXPECT_EQ(greeter.connect_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(greeter.lb_policy, model::LbPolicy::kLeastRequest);
  EXPECT_EQ(greeter.circuit_breakers.max_connections, 1000u);
  EXPECT_FALSE(greeter.circuit_breakers.max_requests.has_value());
  ASSERT_TRUE(greeter.outlier_detection.has_value());
  EXPECT_EQ(greeter.outlier_detection->consecutive_5xx, 7u);
  EXPECT_EQ(greeter.outlier_detection->interval, std::chrono::milliseconds(1500));
  EXPECT_EQ(greeter.outlier_detection->base_ejection_time, std::chrono::milliseconds(30000));
  ASSERT_EQ(greeter.endpoints.size(), 2u);
  EXPECT_EQ(greeter.endpoints[0].id, "greeter-1");
  EXPECT_EQ(greeter.endpoints[0].weight, 2u);
  EXPECT_EQ(greeter.endpoints[0].health, model::Health::kWarning);
  EXPECT_EQ(greeter.endpoints[0].metadata.at("version"), "1");
  EXPECT_EQ(greeter.endpoints[0].tags, std::vector<std::string>{"blue"});
  EXPECT_EQ(greeter.endpoints[1].id, "127.0.0.2:50051");  // a default id still tells instances apart
  EXPECT_EQ(greeter.endpoints[1].weight, 1u);
  EXPECT_EQ(greeter.origin, "services.yaml:2:5 services[0]");

  ASSERT_TRUE(world->service_routes.contains("greeter"));
  const auto& split = world->service_routes.at("greeter").routes.at(0).action.clusters;
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(split[0].cluster, "greeter");
  EXPECT_EQ(split[0].weight, 90u);

  const model::Gateway& edge = world->gateways.at("edge");
  ASSERT_EQ(edge.listeners.size(), 2u);
  const model::Listener& http = edge.listeners[0];
  EXPECT_EQ(http.name, "http_8080");  // the default name says what and where
  EXPECT_EQ(http.address, "0.0.0.0");
  ASSERT_EQ(http.virtual_hosts.size(), 1u);
  const auto& routes = http.virtual_hosts[0].routes;
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].match.path, "/api");
  ASSERT_EQ(routes[0].match.headers.size(), 1u);
  EXPECT_EQ(routes[0].match.headers[0].match.kind, model::StringMatch::Kind::kExact);
  EXPECT_EQ(routes[0].match.headers[0].match.value, "true");
  ASSERT_EQ(routes[0].match.query.size(), 1u);
  EXPECT_EQ(routes[0].match.query[0].match.kind, model::StringMatch::Kind::kPresent);
  EXPECT_EQ(routes[0].match.methods, std::vector<std::string>{"GET"});
  EXPECT_EQ(routes[0].action.clusters.at(0).cluster, "api");
  EXPECT_EQ(routes[0].action.prefix_rewrite, "/");
  EXPECT_EQ(routes[0].action.timeout, std::chrono::milliseconds(5000));
  ASSERT_TRUE(routes[0].action.retry.has_value());
  EXPECT_EQ(routes[0].action.retry->num_retries, 3u);
  EXPECT_EQ(routes[0].action.retry->on_status_codes, std::vector<uint32_t>{503});
  EXPECT_EQ(routes[0].action.retry->per_try_timeout, std::chrono::milliseconds(1000));
  EXPECT_EQ(routes[1].match.path_kind, model::RouteMatch::PathKind::kExact);
  ASSERT_TRUE(routes[1].action.redirect.has_value());
  EXPECT_EQ(routes[1].action.redirect->scheme, "https");
  EXPECT_TRUE(routes[1].action.clusters.empty());
  EXPECT_EQ(edge.listeners[1].protocol, model::Protocol::kTcp);
  EXPECT_EQ(edge.listeners[1].tcp_cluster, "db");

  EXPECT_TRUE(model::Validate(*world).empty());
}

TEST(YamlDecoderTest, AnEmptyFileIsAnEmptyFragment) {
  auto world = DecodeServicesYaml("", "services.yaml", nullptr);
  ASSERT_TRUE(world.ok());
  EXPECT_EQ(*world, model::World{});
}

TEST(YamlDecoderTest, MalformedYamlNamesFileAndLine) {
  auto problems = ProblemsOf("services:\n  - name: a\n    endpoints: [ { address: x\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("services.yaml:"));
  EXPECT_THAT(problems[0], HasSubstr("malformed YAML"));
}

TEST(YamlDecoderTest, AnUnknownKeyIsAnErrorNamingItsPath) {
  auto problems = ProblemsOf(
      "services:\n"
      "  - name: a\n"
      "    conect_timeout: 2s\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "services.yaml:3:5 services[0].conect_timeout: unknown key");
}

// yaml-cpp passes any bytes through; a Latin-1 name would reach protobuf strings (which Envoy
// requires to be UTF-8) and the JSON of /debug and the audit log.
TEST(YamlDecoderTest, TextThatIsNotUtf8IsAnErrorNamingWhereItIs) {
  auto problems = ProblemsOf("services:\n  - name: \"caf\xE9\"\n    endpoints: [ { address: 127.0.0.1, port: 1 } ]\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "services.yaml:2:5 services[0].name: 'caf\xEF\xBF\xBD' is not valid UTF-8 text");
  problems = ProblemsOf("services:\n  - name: web\n    \"\xFF\": 1\n");
  EXPECT_THAT(problems, ::testing::Contains(HasSubstr("services.yaml:3:5 services[0]: key '\xEF\xBF\xBD' is not valid UTF-8 text")));
}

TEST(YamlDecoderTest, PortZeroIsOutOfRange) {
  auto problems = ProblemsOf(
      "gateways:\n"
      "  - name: edge\n"
      "    listeners:\n"
      "      - name: http\n"
      "        port: 0\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("services.yaml:5:9 gateways[0].listeners[0].port: "));
  EXPECT_THAT(problems[0], HasSubstr("out of range 1..65535"));
}

TEST(YamlDecoderTest, ARouteWithTwoDestinationsIsRefused) {
  auto problems = ProblemsOf(
      "gateways:\n"
      "  - name: edge\n"
      "    listeners:\n"
      "      - port: 80\n"
      "        virtual_hosts:\n"
      "          - name: web\n"
      "            routes:\n"
      "              - service: a\n"
      "                redirect: { host: example.com }\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0],
              HasSubstr("services.yaml:8:17 gateways[0].listeners[0].virtual_hosts[0].routes[0]: "));
  EXPECT_THAT(problems[0], HasSubstr("exactly one of service, split, redirect"));
}

TEST(YamlDecoderTest, ABadDurationNamesTheKey) {
  auto problems = ProblemsOf(
      "services:\n"
      "  - name: a\n"
      "    connect_timeout: 5 seconds\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("services.yaml:3:5 services[0].connect_timeout: bad duration"));
}

TEST(YamlDecoderTest, AnUnknownHealthListsTheChoices) {
  auto problems = ProblemsOf(
      "services:\n"
      "  - name: a\n"
      "    endpoints:\n"
      "      - address: 10.0.0.1\n"
      "        port: 80\n"
      "        health: green\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("services.yaml:6:9 services[0].endpoints[0].health: "
                                     "unknown value 'green'"));
  EXPECT_THAT(problems[0], HasSubstr("passing, warning, critical, maintenance"));
}

// A gateway's `vhds` says how its route tables are served (docs/xds.md "Virtual hosts on demand").
TEST(YamlDecoderTest, GatewayVhdsIsAutoInlineOrOnDemand) {
  for (const auto& [line, want] : std::vector<std::pair<std::string, model::VhdsMode>>{
           {"", model::VhdsMode::kAuto},
           {"    vhds: auto\n", model::VhdsMode::kAuto},
           {"    vhds: inline\n", model::VhdsMode::kInline},
           {"    vhds: on_demand\n", model::VhdsMode::kOnDemand}}) {
    std::vector<model::Problem> problems;
    auto world = DecodeServicesYaml("gateways:\n  - name: edge\n" + line + "    listeners: []\n", "services.yaml", &problems);
    ASSERT_TRUE(world.ok()) << (problems.empty() ? "" : problems[0].ToString());
    EXPECT_EQ(world->gateways.at("edge").vhds, want) << line;
  }
  auto problems = ProblemsOf(
      "gateways:\n"
      "  - name: edge\n"
      "    vhds: maybe\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("services.yaml:3:5 gateways[0].vhds: unknown value 'maybe' "
                                     "(expected one of: auto, inline, on_demand)"));
}

TEST(YamlDecoderTest, EveryProblemIsReportedNotJustTheFirst) {
  auto problems = ProblemsOf(
      "services:\n"
      "  - name: a\n"
      "    endpoints: [ { port: 80 }, { address: b, port: 70000, weight: 0 } ]\n"
      "  - name: a\n");
  // missing address, port out of range, weight 0, and the duplicate service.
  EXPECT_EQ(problems.size(), 4u);
  EXPECT_THAT(problems.back(), HasSubstr("service 'a' is already defined at services.yaml:2:5"));
}

TEST(YamlDecoderTest, TcpAndHttpListenerFieldsDoNotMix) {
  auto problems = ProblemsOf(
      "gateways:\n"
      "  - name: edge\n"
      "    listeners:\n"
      "      - { port: 5432, protocol: tcp }\n"
      "      - { port: 80, service: db }\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_THAT(problems[0], HasSubstr("gateways[0].listeners[0].service: is required"));
  EXPECT_THAT(problems[1], HasSubstr("gateways[0].listeners[1].service: only tcp listeners"));
}

TEST(YamlDecoderTest, ARouteToAMissingServiceIsReportedByValidateWithTheRouteOrigin) {
  auto world = DecodeServicesYaml(
      "services:\n"
      "  - name: web\n"
      "gateways:\n"
      "  - name: edge\n"
      "    listeners:\n"
      "      - port: 80\n"
      "        virtual_hosts:\n"
      "          - routes:\n"
      "              - service: wbe\n",
      "services.yaml", nullptr);
  ASSERT_TRUE(world.ok()) << world.status();
  std::vector<model::Problem> problems;
  model::World merged = model::Merge({&*world}, &problems);
  EXPECT_TRUE(problems.empty());
  auto invalid = model::Validate(merged);
  ASSERT_EQ(invalid.size(), 1u);
  EXPECT_EQ(invalid[0].ToString(),
            "services.yaml:9:17 gateways[0].listeners[0].virtual_hosts[0].routes[0]: "
            "route refers to unknown service 'wbe'");
}

TEST(YamlDecoderTest, TheQuickstartDecodesAndValidates) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/examples/quickstart/services.yaml");
  ASSERT_TRUE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  auto world = DecodeServicesYaml(text.str(), "services.yaml", nullptr);
  ASSERT_TRUE(world.ok()) << world.status();
  EXPECT_TRUE(world->gateways.contains("edge"));
  EXPECT_TRUE(world->service_routes.contains("greeter"));
  EXPECT_TRUE(model::Validate(*world).empty());
}

// The example in docs/config.md is what operators copy; it has to be accepted as written.
TEST(YamlDecoderTest, TheDocumentedExampleDecodesAndValidates) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(in.good());
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string doc = buf.str();
  const size_t section = doc.find("## services.yaml");
  ASSERT_NE(section, std::string::npos);
  const size_t begin = doc.find("```yaml\n", section);
  ASSERT_NE(begin, std::string::npos);
  const size_t end = doc.find("```", begin + 8);
  const std::string example = doc.substr(begin + 8, end - begin - 8);
  auto world = DecodeServicesYaml(example, "config.md", nullptr);
  ASSERT_TRUE(world.ok()) << world.status();
  // The file source fills the secrets' PEM from their files; stand-ins do here.
  for (auto& [name, secret] : world->secrets) {
    secret.cert_chain_pem = secret.private_key_pem = secret.trusted_ca_pem = "PEM";
  }
  for (const auto& p : model::Validate(*world)) ADD_FAILURE() << p.ToString();
}

TEST(YamlDecoderTest, DurationsAcceptTheDocumentedForms) {
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("2s"), std::chrono::milliseconds(2000));
  EXPECT_EQ(*ParseDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*ParseDuration("1m"), std::chrono::milliseconds(60000));
  EXPECT_FALSE(ParseDuration("2").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("0.5ms").ok());
  EXPECT_FALSE(ParseDuration("s").ok());
}

}  // namespace
}  // namespace tern::sources::file
