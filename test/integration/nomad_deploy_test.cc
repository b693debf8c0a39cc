// The deployment files under deploy/, checked as far as this machine allows (no Nomad, Vault or
// systemd running here):
// - the tern.yaml that deploy/nomad/tern.nomad.hcl renders (its template stanza), with Nomad's
//   runtime values and test addresses (a real Consul agent, the fake Nomad) substituted and test
//   certificates and tokens where Vault would put them, passes `tern validate` and then serves:
//   /readyz (the job's Consul check) answers without a token, /debug/* only with the admin token;
// - deploy/tern.yaml, the sample /etc/tern/tern.yaml of the systemd unit, passes `tern validate`
//   with its paths moved into a temp dir;
// - deploy/systemd/tern.service passes `systemd-analyze verify` without a single warning.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "integration/consul_agent.h"
#include "integration/nomad_fake.h"
#include "support/certs.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

std::string DeployFile(const std::string& rel) { return std::string(TERN_SOURCE_DIR) + "/deploy/" + rel; }

// The heredoc of the template stanza whose destination is `destination`.
std::string TemplateData(const std::string& hcl, const std::string& destination) {
  size_t at = hcl.find("destination = \"" + destination + "\"");
  if (at == std::string::npos) return "";
  size_t open = hcl.find("<<EOH\n", at);
  size_t close = hcl.find("\nEOH\n", open);
  if (open == std::string::npos || close == std::string::npos) return "";
  return hcl.substr(open + 6, close + 1 - (open + 6));
}

absl::Status Write(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  return WriteFile(path, content);
}

class DeployTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log_dir_ = new TempDir();
    auto c = ConsulAgent::Start(log_dir_->path());
    ASSERT_TRUE(c.ok()) << c.status();
    consul_ = c->release();
  }
  static void TearDownTestSuite() {
    delete consul_;
    consul_ = nullptr;
    delete log_dir_;
  }

  // Certificates where Vault and Consul would put them: tern's xDS certificate signed by a CA.
  void WriteCerts(const std::string& cert, const std::string& key, const std::string& ca,
                  const std::string& consul_ca) {
    Pem ca_pem = MakeCa("tern test CA");
    Pem leaf = MakeCert({.common_name = "tern-xds.service.consul", .dns_sans = {"tern-xds.service.consul"}}, ca_pem);
    ASSERT_TRUE(Write(cert, leaf.cert).ok());
    ASSERT_TRUE(Write(key, leaf.key).ok());
    ASSERT_TRUE(Write(ca, ca_pem.cert).ok());
    ASSERT_TRUE(Write(consul_ca, MakeCa("consul test CA").cert).ok());
  }

  CommandResult Validate(const std::string& config) {
    auto r = RunTern({"validate", "--config", config}, dir_.File(absl::StrCat("validate-", runs_++, ".out")), seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }

  static TempDir* log_dir_;
  static ConsulAgent* consul_;
  TempDir dir_;
  int runs_ = 0;
};
TempDir* DeployTest::log_dir_ = nullptr;
ConsulAgent* DeployTest::consul_ = nullptr;

TEST_F(DeployTest, TheNomadJobRendersATernYamlThatValidatesAndServes) {
  auto hcl = ReadFile(DeployFile("nomad/tern.nomad.hcl"));
  ASSERT_TRUE(hcl.ok()) << hcl.status();
  std::string yaml = TemplateData(*hcl, "local/tern.yaml");
  ASSERT_FALSE(yaml.empty()) << "no template stanza renders local/tern.yaml";
  for (const char* stanza : {"update {", "resources {", "check {", "path     = \"/readyz\"", "provider = \"consul\"",
                             "destination = \"secrets/tls/tern.pem\"", "destination = \"secrets/tls/tern-key.pem\""}) {
    EXPECT_NE(hcl->find(stanza), std::string::npos) << stanza;
  }

  // Nomad's runtime values. An expression the test does not know fails the test, so that a
  // change to the template is looked at here.
  const int xds_port = FreePort(), admin_port = FreePort();
  const std::map<std::string, std::string> runtime = {
      {"env \"NOMAD_PORT_xds\"", std::to_string(xds_port)},
      {"env \"NOMAD_IP_admin\"", "127.0.0.1"},
      {"env \"NOMAD_PORT_admin\"", std::to_string(admin_port)},
      {"env \"attr.unique.network.ip-address\"", "10.0.0.7"},
  };
  std::string rendered;
  std::regex expr(R"(\{\{\s*(.*?)\s*\}\})");
  size_t last = 0;
  for (auto it = std::sregex_iterator(yaml.begin(), yaml.end(), expr); it != std::sregex_iterator(); ++it) {
    rendered += yaml.substr(last, it->position() - last);
    auto v = runtime.find((*it)[1].str());
    if (v == runtime.end()) ADD_FAILURE() << "template expression the test does not know: " << (*it)[0];
    else rendered += v->second;
    last = it->position() + it->length();
  }
  rendered += yaml.substr(last);

  // Test addresses for the agents on 10.0.0.7 (Consul and Nomad over http here).
  auto nomad = FakeNomad::Start(dir_.path(), "nomad-acl-token");
  ASSERT_TRUE(nomad.ok()) << nomad.status();
  rendered = absl::StrReplaceAll(rendered, {{"https://10.0.0.7:8501", consul_->address()},
                                            {"https://10.0.0.7:4646", (*nomad)->address()},
                                            {"0.0.0.0:", "127.0.0.1:"},
                                            {"/var/lib/tern/", dir_.path() + "/state/"}});
  SCOPED_TRACE("rendered tern.yaml:\n" + rendered);
  ASSERT_EQ(rendered.find("10.0.0.7"), std::string::npos);
  const std::string task = dir_.File("task");
  ASSERT_TRUE(Write(task + "/local/tern.yaml", rendered).ok());
  fs::create_directories(dir_.path() + "/state");
  WriteCerts(task + "/secrets/tls/tern.pem", task + "/secrets/tls/tern-key.pem", task + "/secrets/tls/ca.pem",
             task + "/secrets/tls/consul-ca.pem");
  ASSERT_TRUE(Write(task + "/secrets/consul-token", "consul-acl-token\n").ok());
  ASSERT_TRUE(Write(task + "/secrets/nomad-token", "nomad-acl-token\n").ok());
  ASSERT_TRUE(Write(task + "/secrets/admin-token", "admin-token-from-vault\n").ok());

  CommandResult v = Validate(task + "/local/tern.yaml");
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("ok:"), std::string::npos) << v.out << v.err;

  // As the job runs it: `tern serve --config local/tern.yaml` from the task directory.
  SubprocessOptions sp;
  sp.argv = {TernBinaryPath(), "serve", "--config", "local/tern.yaml"};
  sp.cwd = task;
  sp.log_path = dir_.File("serve.log");
  auto serve = Subprocess::Start(sp);
  ASSERT_TRUE(serve.ok()) << serve.status();
  absl::Status ready = WaitForHttp200("127.0.0.1", admin_port, "/readyz", seconds(30));
  ASSERT_TRUE(ready.ok()) << ready << "\n" << (*serve)->LogTail();
  auto refused = HttpGet("127.0.0.1", admin_port, "/debug/sources");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 401);
  auto sources = HttpGet("127.0.0.1", admin_port, "/debug/sources", {{"Authorization", "Bearer admin-token-from-vault"}});
  ASSERT_TRUE(sources.ok());
  EXPECT_EQ(sources->status, 200);
  EXPECT_NE(sources->body.find("\"name\": \"consul\""), std::string::npos) << sources->body;
  EXPECT_NE(sources->body.find("\"name\": \"nomad\""), std::string::npos) << sources->body;
  EXPECT_TRUE(fs::exists(dir_.path() + "/state/audit.jsonl"));
  EXPECT_GT((*nomad)->Requests(), 0);
}

TEST_F(DeployTest, TheSampleEtcTernYamlValidates) {
  auto yaml = ReadFile(DeployFile("tern.yaml"));
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  const std::string root = dir_.path();
  std::string moved = absl::StrReplaceAll(
      *yaml, {{"/etc/tern/", root + "/etc/tern/"},
              {"/run/credentials/tern.service/", root + "/credentials/"},
              {"/var/lib/tern/", root + "/state/"},
              {"https://consul.service.consul:8501", consul_->address()},
              {"0.0.0.0:18000", absl::StrCat("127.0.0.1:", FreePort())},
              {"127.0.0.1:19000", absl::StrCat("127.0.0.1:", FreePort())}});
  SCOPED_TRACE("tern.yaml:\n" + moved);
  ASSERT_TRUE(Write(root + "/etc/tern/tern.yaml", moved).ok());
  ASSERT_TRUE(Write(root + "/etc/tern/services.yaml",
                    "services:\n  - name: web\n    endpoints: [ { address: 127.0.0.1, port: 9001 } ]\n")
                  .ok());
  WriteCerts(root + "/etc/tern/tls/tern.pem", root + "/credentials/tern-key.pem", root + "/etc/tern/tls/ca.pem",
             root + "/etc/tern/tls/consul-ca.pem");
  ASSERT_TRUE(Write(root + "/credentials/admin-token", "admin-token\n").ok());
  ASSERT_TRUE(Write(root + "/credentials/consul-token", "consul-token\n").ok());
  fs::create_directories(root + "/state");

  CommandResult v = Validate(root + "/etc/tern/tern.yaml");
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("ok:"), std::string::npos) << v.out << v.err;
}

TEST_F(DeployTest, TheSystemdUnitPassesSystemdAnalyzeVerify) {
  if (!fs::exists("/usr/bin/systemd-analyze") && !fs::exists("/bin/systemd-analyze")) {
    GTEST_SKIP() << "systemd-analyze is not installed";
  }
  auto unit = ReadFile(DeployFile("systemd/tern.service"));
  ASSERT_TRUE(unit.ok()) << unit.status();
  for (const char* line : {"ExecStart=/usr/local/bin/tern serve --config /etc/tern/tern.yaml", "NoNewPrivileges=yes",
                           "ProtectSystem=strict", "DynamicUser=yes", "Restart=on-failure"}) {
    EXPECT_NE(unit->find(line), std::string::npos) << line;
  }
  // verify checks that ExecStart's program exists: point it at the binary built here.
  const std::string path = dir_.File("tern.service");
  ASSERT_TRUE(WriteFile(path, absl::StrReplaceAll(*unit, {{"/usr/local/bin/tern", TernBinaryPath()}})).ok());
  SubprocessOptions sp;
  sp.argv = {"systemd-analyze", "verify", path};
  sp.log_path = dir_.File("verify.log");
  auto p = Subprocess::Start(sp);
  ASSERT_TRUE(p.ok()) << p.status();
  auto code = (*p)->Wait(seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << (*p)->Log();
  // An unknown or misspelt key is only a warning (exit 0): any output at all fails the test.
  EXPECT_EQ((*p)->Log(), "") << "systemd-analyze verify warned";
}

}  // namespace
}  // namespace tern::testing
