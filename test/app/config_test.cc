#include "app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tern::app {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(ConfigTest, TheDefaultStartsAnywhereWithNoSources) {
  const Config c = DefaultConfig();
  EXPECT_EQ(c.xds.address, "127.0.0.1:18000");
  EXPECT_EQ(c.admin.address, "127.0.0.1:19000");
  EXPECT_FALSE(c.consul.has_value());
  EXPECT_FALSE(c.nomad.has_value());
  EXPECT_FALSE(c.audit.has_value());
  EXPECT_TRUE(c.files.empty());
  EXPECT_EQ(c.log.level, "info");
}

TEST(ConfigTest, AnEmptyFileMeansTheDefaults) {
  auto c = ParseConfig("", "tern.yaml", "/etc/tern");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->xds.address, "127.0.0.1:18000");
  EXPECT_TRUE(c->files.empty());
}

TEST(ConfigTest, TheFixedKeysAreRead) {
  auto c = ParseConfig(R"(
xds:    { address: "127.0.0.1:0" }
admin:  { address: "0.0.0.0:9901" }
consul: { address: "http://127.0.0.1:8500" }
nomad:  { address: "http://127.0.0.1:4646" }
files:  [ "services.yaml", "/abs/more.yaml", "../shared/x.yaml" ]
audit:  { path: "audit.jsonl" }
)",
                       "tern.yaml", "/etc/tern");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->xds.address, "127.0.0.1:0");
  EXPECT_EQ(c->admin.address, "0.0.0.0:9901");
  ASSERT_TRUE(c->consul.has_value());
  EXPECT_EQ(c->consul->address, "http://127.0.0.1:8500");
  EXPECT_EQ(c->consul->consistency, "default");
  ASSERT_TRUE(c->nomad.has_value());
  EXPECT_EQ(c->nomad->address, "http://127.0.0.1:4646");
  EXPECT_EQ(c->files, (std::vector<std::string>{"/etc/tern/services.yaml", "/abs/more.yaml",
                                                 "/etc/shared/x.yaml"}));
  ASSERT_TRUE(c->audit.has_value());
  EXPECT_EQ(c->audit->path, "/etc/tern/audit.jsonl");
}

TEST(ConfigTest, TheOptionalSectionsAreRead) {
  auto c = ParseConfig(R"(
xds:
  address: 0.0.0.0:18000
  tls: { cert_file: tls/cert.pem, key_file: tls/key.pem, ca_file: tls/ca.pem, require_client_cert: true }
consul:
  address: 127.0.0.1:8500
  datacenter: dc2
  token_env: CONSUL_HTTP_TOKEN
  consistency: stale
  tls: { ca_file: ca.pem, server_name: consul.service }
nomad: { token_file: nomad.token, namespace: apps, region: eu }
log: { level: debug }
)",
                       "tern.yaml", "/etc/tern");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->xds.tls.has_value());
  EXPECT_EQ(c->xds.tls->cert_file, "/etc/tern/tls/cert.pem");
  EXPECT_TRUE(c->xds.tls->require_client_cert);
  EXPECT_EQ(c->consul->address, "http://127.0.0.1:8500");  // a bare host:port means http
  EXPECT_EQ(c->consul->datacenter, "dc2");
  EXPECT_EQ(c->consul->token_env, "CONSUL_HTTP_TOKEN");
  EXPECT_EQ(c->consul->consistency, "stale");
  EXPECT_EQ(c->consul->tls->server_name, "consul.service");
  EXPECT_EQ(c->nomad->address, "http://127.0.0.1:4646");
  EXPECT_EQ(c->nomad->token_file, "/etc/tern/nomad.token");
  EXPECT_EQ(c->nomad->namespace_name, "apps");
  EXPECT_EQ(c->log.level, "debug");
}

TEST(ConfigTest, AnEmptySectionEnablesASourceWithDefaults) {
  auto c = ParseConfig("consul:\nnomad: {}\n", "tern.yaml", "/etc/tern");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->consul->address, "http://127.0.0.1:8500");
  EXPECT_EQ(c->nomad->address, "http://127.0.0.1:4646");
}

TEST(ConfigTest, NomadTlsIsReadLikeConsulTlsAndItsMistakesNamed) {
  auto c = ParseConfig(R"(
nomad:
  address: https://nomad.service:4646
  canary_weight: 25
  tls: { ca_file: nomad/ca.pem, cert_file: nomad/cert.pem, key_file: /secrets/key.pem, server_name: server.global.nomad }
)",
                       "tern.yaml", "/etc/tern");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->nomad->tls.has_value());
  EXPECT_EQ(c->nomad->address, "https://nomad.service:4646");
  EXPECT_EQ(c->nomad->canary_weight, 25u) << "the deployment canaries' default: no canary_tag needed";
  EXPECT_EQ(c->nomad->tls->ca_file, "/etc/tern/nomad/ca.pem");
  EXPECT_EQ(c->nomad->tls->cert_file, "/etc/tern/nomad/cert.pem");
  EXPECT_EQ(c->nomad->tls->key_file, "/secrets/key.pem");
  EXPECT_EQ(c->nomad->tls->server_name, "server.global.nomad");

  auto bad = ParseConfig("nomad:\n  tls:\n    cert_file: c.pem\n    sever_name: x\n", "tern.yaml", "/etc/tern");
  ASSERT_FALSE(bad.ok());
  const std::string m(bad.status().message());
  EXPECT_THAT(m, HasSubstr("tern.yaml:4:5 nomad.tls.sever_name: unknown key"));
  EXPECT_THAT(m, HasSubstr("nomad.tls.key_file: a client certificate needs both cert_file and key_file"));
}

TEST(ConfigTest, NomadEventStreamIsOnUnlessTurnedOffAndAnythingButABooleanIsNamed) {
  auto on = ParseConfig("nomad: {}\n", "tern.yaml", "/etc/tern");
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->nomad->event_stream) << "the stream triggers the reads by default";
  auto off = ParseConfig("nomad:\n  event_stream: false\n", "tern.yaml", "/etc/tern");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->nomad->event_stream);

  auto bad = ParseConfig("nomad:\n  address: 127.0.0.1:4646\n  event_stream: sometimes\n", "tern.yaml", "/etc/tern");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("tern.yaml:3:3 nomad.event_stream: expected true or false"));
}

TEST(ConfigTest, AnUnknownKeyIsAnErrorWithItsPathAndLine) {
  auto c = ParseConfig("admin: { address: 127.0.0.1:19000 }\nxds:\n  adress: 127.0.0.1:18000\n",
                       "tern.yaml", "/etc/tern");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "tern.yaml:3:3 xds.adress: unknown key");
}

TEST(ConfigTest, EveryMistakeIsListed) {
  auto c = ParseConfig(
      "xds: { address: localhost }\n"
      "log: { level: verbose }\n"
      "consul: { address: ftp://x, token_file: t, token_env: T }\n"
      "files: services.yaml\n",
      "tern.yaml", "/etc/tern");
  ASSERT_FALSE(c.ok());
  const std::string m(c.status().message());
  EXPECT_THAT(m, HasSubstr("tern.yaml:1:8 xds.address: 'localhost' is not host:port"));
  EXPECT_THAT(m, HasSubstr("tern.yaml:2:8 log.level: unknown value 'verbose'"));
  EXPECT_THAT(m, HasSubstr("consul.address: 'ftp://x' is not an http:// or https:// address"));
  EXPECT_THAT(m, HasSubstr("consul.token_env: give either token_file or token_env"));
  EXPECT_THAT(m, HasSubstr("tern.yaml:4:1 files: expected a list"));
}

TEST(ConfigTest, TheAuditKeysAreReadAndTheirMistakesNamed) {
  auto c = ParseConfig(
      "audit:\n  path: a.jsonl\n  signing_key_file: keys/audit.pem\n  checkpoint_every: 50\n"
      "  max_file_bytes: 1048576\n  copy_to: syslog\n  on_failure: fail-open\n  proxy_events: false\n",
      "tern.yaml", "/etc/tern");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->audit->signing_key_file, "/etc/tern/keys/audit.pem");
  EXPECT_EQ(c->audit->checkpoint_every, 50u);
  EXPECT_EQ(c->audit->max_file_bytes, 1048576u);
  EXPECT_EQ(c->audit->copy_to, "syslog");
  EXPECT_FALSE(c->audit->fail_closed);
  EXPECT_FALSE(c->audit->proxy_events);
  auto d = ParseConfig("audit: {}\n", "tern.yaml", "/etc/tern");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->audit->fail_closed) << "fail-closed is the default";
  EXPECT_TRUE(d->audit->proxy_events);

  auto bad = ParseConfig("audit: { on_failure: ignore, copy_to: kafka, checkpoint_every: 10, max_file_bytes: 10 }\n",
                         "tern.yaml", "/etc/tern");
  ASSERT_FALSE(bad.ok());
  const std::string m(bad.status().message());
  EXPECT_THAT(m, HasSubstr("audit.on_failure: unknown value 'ignore'"));
  EXPECT_THAT(m, HasSubstr("audit.copy_to: unknown value 'kafka'"));
  EXPECT_THAT(m, HasSubstr("audit.checkpoint_every: needs signing_key_file"));
  EXPECT_THAT(m, HasSubstr("audit.max_file_bytes"));
}

// consul.watch / consul.sweep_seconds (docs/consul.md "Connections").
TEST(ConfigTest, TheConsulWatchModeIsReadAndItsMistakesNamed) {
  auto d = ParseConfig("consul: {}\n", "tern.yaml", "/etc/tern");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->consul->watch, "auto");
  EXPECT_EQ(d->consul->sweep_seconds, 30u);
  auto c = ParseConfig("consul: { watch: aggregate, sweep_seconds: 120 }\n", "tern.yaml", "/etc/tern");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->consul->watch, "aggregate");
  EXPECT_EQ(c->consul->sweep_seconds, 120u);
  auto bad = ParseConfig("consul:\n  watch: fabio\n  sweep_seconds: 0\n", "tern.yaml", "/etc/tern");
  ASSERT_FALSE(bad.ok());
  const std::string m(bad.status().message());
  EXPECT_THAT(m, HasSubstr("tern.yaml:2:3 consul.watch: unknown value 'fabio'"));
  EXPECT_THAT(m, HasSubstr("tern.yaml:3:3 consul.sweep_seconds: 0 is out of range"));
}

TEST(ConfigTest, LoadConfigResolvesFilesAgainstTheConfigDirectory) {
  const fs::path dir = fs::temp_directory_path() / ("tern_config_" + std::to_string(::getpid()));
  fs::create_directories(dir / "conf");
  const fs::path file = dir / "conf" / "tern.yaml";
  std::ofstream(file) << "files: [services.yaml]\naudit: {}\n";
  auto c = LoadConfig(file.string());
  fs::remove_all(dir);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->files, std::vector<std::string>{(dir / "conf" / "services.yaml").string()});
  EXPECT_EQ(c->audit->path, (dir / "conf" / "audit.jsonl").string());
}

TEST(ConfigTest, TheDocumentedExampleParses) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(in.good());
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string doc = buf.str();
  const size_t begin = doc.find("```yaml\n", doc.find("## tern.yaml"));
  ASSERT_NE(begin, std::string::npos);
  const size_t end = doc.find("```", begin + 8);
  auto c = ParseConfig(doc.substr(begin + 8, end - begin - 8), "config.md", "/etc/tern");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->consul.has_value());
  EXPECT_TRUE(c->nomad.has_value());
  EXPECT_EQ(c->files, std::vector<std::string>{"/etc/tern/services.yaml"});
}

TEST(ConfigTest, TheQuickstartConfigLoads) {
  auto c = LoadConfig(std::string(TERN_SOURCE_DIR) + "/examples/quickstart/tern.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->files.size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(c->files[0]));
}

TEST(ConfigTest, AMissingConfigFileNamesThePath) {
  auto c = LoadConfig("/nonexistent/tern.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("/nonexistent/tern.yaml"));
}

}  // namespace
}  // namespace tern::app
