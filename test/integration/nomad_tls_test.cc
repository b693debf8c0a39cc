// nomad.tls through the real `tern validate`: an https:// Nomad address with nomad.tls
// is read over TLS, and a server that does not speak TLS with that CA is a clear error naming
// the Nomad endpoint, not a hang or a crash; the CA and key files never appear in the output.
// (tern-fake-nomad serves plain HTTP only, so a successful TLS read is not tested here; the
// client's TLS options are the Consul source's, tested in its own tests.)
#include <gtest/gtest.h>

#include <chrono>
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

}  // namespace
}  // namespace tern::testing
