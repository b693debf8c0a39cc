// nomad.tls through the real `tern validate`: an https:// Nomad address with nomad.tls
// is read over TLS, and a server that does not speak TLS with that CA is a clear error naming
// the Nomad endpoint, not a hang or a crash; the CA and key files never appear in the output.
// A successful read goes through test/tools/tls_terminator.py, a TLS front (Python's ssl module)
// for tern-fake-nomad that requires a client certificate: tern verifies Nomad's certificate
// against nomad.tls.ca_file for nomad.tls.server_name and presents its own.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "integration/nomad_fake.h"
#include "support/certs.h"
#include "support/process.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

TEST(NomadTlsTest, AnHttpsAddressToAServerWithoutTlsIsAClearErrorNamingTheEndpoint) {
  TempDir dir;
  auto nomad = FakeNomad::Start(dir.path());
  ASSERT_TRUE(nomad.ok()) << nomad.status();
  Pem ca = MakeCa("tern test nomad CA");
  ASSERT_TRUE(WriteFile(dir.File("nomad-ca.pem"), ca.cert).ok());
  const std::string https = absl::StrCat("https://127.0.0.1:", (*nomad)->port());
  ASSERT_TRUE(WriteFile(dir.File("tern.yaml"),
                        absl::StrCat("nomad:\n  address: \"", https, "\"\n  tls:\n    ca_file: nomad-ca.pem\n"
                                     "    server_name: server.global.nomad\n")).ok());
  auto r = RunTern({"validate", "--config", dir.File("tern.yaml")}, dir.File("validate.out"), std::chrono::seconds(30));
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string all = r->out + r->err;
  EXPECT_NE(r->exit_code, 0) << all;
  EXPECT_NE(all.find("nomad /v1/services"), std::string::npos) << "the error names the endpoint: " << all;
  // nomad.tls reaches the client: the request goes to the configured server name (connected to
  // the address), over https. (Before, nomad.tls was dropped on the way and the CA never used.)
  EXPECT_NE(all.find(absl::StrCat("https://server.global.nomad:", (*nomad)->port(), "/v1/services")), std::string::npos)
      << "over https, verifying server.global.nomad: " << all;
  EXPECT_EQ(all.find("BEGIN"), std::string::npos) << "no PEM in the output";
  std::cerr << "validate over https to a plain-HTTP Nomad:\n" << all << "\n";

  // The same Nomad over http:// validates: the failure above is TLS, not the fake.
  ASSERT_TRUE(WriteFile(dir.File("plain.yaml"),
                        absl::StrCat("nomad:\n  address: \"", (*nomad)->address(), "\"\n")).ok());
  auto plain = RunTern({"validate", "--config", dir.File("plain.yaml")}, dir.File("plain.out"), std::chrono::seconds(30));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->exit_code, 0) << plain->out << plain->err;
}

TEST(NomadTlsTest, MutualTlsToNomadVerifiesItsNameAndPresentsTernsCertificate) {
  TempDir dir;
  auto nomad = FakeNomad::Start(dir.path());
  ASSERT_TRUE(nomad.ok()) << nomad.status();
  ASSERT_TRUE((*nomad)->Register("alloc-a", "greeter", 9100).ok());
  Pem ca = MakeCa("tern test nomad CA");
  Pem server = MakeCert({.common_name = "nomad", .dns_sans = {"server.global.nomad"}}, ca);
  Pem client = MakeCert({.common_name = "tern"}, ca);
  for (const auto& [file, text] : std::vector<std::pair<std::string, std::string>>{
           {"ca.pem", ca.cert}, {"server.pem", server.cert}, {"server.key", server.key},
           {"client.pem", client.cert}, {"client.key", client.key}}) {
    ASSERT_TRUE(WriteFile(dir.File(file), text).ok());
  }
  auto front = Subprocess::Start({.argv = {"python3", std::string(TERN_SOURCE_DIR) + "/test/tools/tls_terminator.py",
                                           "--cert", dir.File("server.pem"), "--key", dir.File("server.key"),
                                           "--client-ca", dir.File("ca.pem"), "--backend",
                                           std::to_string((*nomad)->port())},
                                  .log_path = dir.File("front.log")});
  ASSERT_TRUE(front.ok()) << front.status();
  ASSERT_TRUE((*front)->WaitForLine("listening on [0-9]+", std::chrono::seconds(10)).ok()) << (*front)->Log();
  std::smatch m;
  const std::string log = (*front)->Log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("listening on ([0-9]+)"))) << log;
  const std::string port = m[1];

  auto validate = [&](const std::string& name, const std::string& tls) {
    EXPECT_TRUE(WriteFile(dir.File(name + ".yaml"),
                          absl::StrCat("nomad:\n  address: \"https://127.0.0.1:", port, "\"\n  tls:\n", tls)).ok());
    auto r = RunTern({"validate", "--config", dir.File(name + ".yaml")}, dir.File(name + ".out"), std::chrono::seconds(30));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  };
  const long before = (*nomad)->PathRequests("/v1/services");
  auto ok = validate("mtls", "    ca_file: ca.pem\n    cert_file: client.pem\n    key_file: client.key\n"
                             "    server_name: server.global.nomad\n");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_GT((*nomad)->PathRequests("/v1/services"), before) << "read through the TLS front";

  // Without tern's certificate the front refuses the handshake; with the wrong name tern refuses
  // Nomad's certificate. Both are errors naming the endpoint, and no PEM is printed.
  auto anonymous = validate("anonymous", "    ca_file: ca.pem\n    server_name: server.global.nomad\n");
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_NE((anonymous.out + anonymous.err).find("nomad /v1/services"), std::string::npos) << anonymous.out << anonymous.err;
  auto wrong_name = validate("wrong-name", "    ca_file: ca.pem\n    cert_file: client.pem\n    key_file: client.key\n"
                                           "    server_name: server.other.nomad\n");
  EXPECT_NE(wrong_name.exit_code, 0);
  for (const auto* r : {&ok, &anonymous, &wrong_name}) {
    EXPECT_EQ((r->out + r->err).find("BEGIN"), std::string::npos) << "no PEM in the output";
  }
}

}  // namespace
}  // namespace tern::testing
