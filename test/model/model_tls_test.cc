// What the merged world says about secrets: every reference resolves to a secret of the right
// kind, and each problem names the listener or service that made it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/model.h"

namespace tern::model {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Secret Cert(const std::string& name) {
  return {.name = name, .kind = Secret::Kind::kTlsCertificate, .cert_chain_pem = "C", .private_key_pem = "K",
          .origin = "services.yaml:2:5 secrets[0]"};
}
Secret Ca(const std::string& name) {
  return {.name = name, .kind = Secret::Kind::kValidationContext, .trusted_ca_pem = "CA",
          .origin = "services.yaml:3:5 secrets[1]"};
}

World WithTlsListener(ListenerTls tls) {
  World w;
  Listener l;
  l.name = "https";
  l.port = 443;
  l.tls = std::move(tls);
  l.origin = "services.yaml:20:9 gateways[0].listeners[0]";
  w.gateways["edge"] = Gateway{.name = "edge", .listeners = {l}, .origin = "services.yaml:18:5 gateways[0]"};
  return w;
}

std::vector<std::string> Strings(const std::vector<Problem>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.ToString());
  return out;
}

TEST(ModelTlsTest, ListenerWithItsCertificateAndClientCaIsValid) {
  World w = WithTlsListener({.certs = {{.server_names = {"a.example.com"}, .secret = "edge"}},
                             .require_client_cert = true, .client_ca_secret = "ca"});
  w.secrets["edge"] = Cert("edge");
  w.secrets["ca"] = Ca("ca");
  EXPECT_THAT(Validate(w), IsEmpty());
}

TEST(ModelTlsTest, AMissingSecretIsAProblemAtTheListener) {
  World w = WithTlsListener({.certs = {{.secret = "edge"}}});
  EXPECT_THAT(Strings(Validate(w)),
              ElementsAre("services.yaml:20:9 gateways[0].listeners[0]: listener certificate refers to unknown secret 'edge'"));
}

TEST(ModelTlsTest, ACaWhereACertificateIsNeededIsAProblem) {
  World w = WithTlsListener({.certs = {{.secret = "ca"}}});
  w.secrets["ca"] = Ca("ca");
  EXPECT_THAT(Strings(Validate(w)),
              ElementsAre("services.yaml:20:9 gateways[0].listeners[0]: listener certificate needs a certificate "
                          "secret, but 'ca' (services.yaml:3:5 secrets[1]) is a CA"));
}

TEST(ModelTlsTest, RequiringClientCertificatesNeedsACa) {
  World w = WithTlsListener({.certs = {{.secret = "edge"}}, .require_client_cert = true});
  w.secrets["edge"] = Cert("edge");
  EXPECT_THAT(Strings(Validate(w)),
              ElementsAre("services.yaml:20:9 gateways[0].listeners[0]: require_client_cert needs a client CA"));
}

TEST(ModelTlsTest, OneServerNameCannotHaveTwoCertificates) {
  World w = WithTlsListener({.certs = {{.server_names = {"a.example.com"}, .secret = "edge"},
                                       {.server_names = {"a.example.com"}, .secret = "edge"},
                                       {.secret = "edge"}, {.secret = "edge"}}});
  w.secrets["edge"] = Cert("edge");
  EXPECT_THAT(Strings(Validate(w)),
              ElementsAre("services.yaml:20:9 gateways[0].listeners[0]: server name 'a.example.com' is given to two certificates",
                          "services.yaml:20:9 gateways[0].listeners[0]: only one certificate may leave server_names empty (the default)"));
}

TEST(ModelTlsTest, UpstreamMtlsNeedsACaAndACertificate) {
  World w;
  Cluster api;
  api.name = api.service = "api";
  api.origin = "services.yaml:8:5 services[0]";
  api.tls = UpstreamTls{.ca_secret = "edge", .client_cert_secret = "nope"};
  w.clusters["api"] = api;
  w.secrets["edge"] = Cert("edge");
  EXPECT_THAT(Strings(Validate(w)),
              ElementsAre("services.yaml:8:5 services[0]: upstream TLS CA needs a CA secret, but 'edge' "
                          "(services.yaml:2:5 secrets[0]) is a certificate",
                          "services.yaml:8:5 services[0]: upstream client certificate refers to unknown secret 'nope'"));
  w.clusters["api"].tls = UpstreamTls{};
  EXPECT_THAT(Strings(Validate(w)),
              ElementsAre("services.yaml:8:5 services[0]: upstream TLS needs a CA to verify the upstream's certificate"));
}

TEST(ModelTlsTest, ASecretDefinedByTwoSourcesIsAProblemAndTheFirstWins) {
  World a, b;
  a.secrets["edge"] = Cert("edge");
  b.secrets["edge"] = Cert("edge");
  b.secrets["edge"].origin = "consul connect leaf edge";
  std::vector<Problem> problems;
  World merged = Merge({&a, &b}, &problems);
  EXPECT_EQ(merged.secrets.at("edge").origin, "services.yaml:2:5 secrets[0]");
  EXPECT_THAT(Strings(problems),
              ElementsAre("consul connect leaf edge: secret 'edge' is already defined at services.yaml:2:5 secrets[0]"));
}

TEST(ModelTlsTest, ASecretWithoutPemIsAProblem) {
  World w;
  w.secrets["edge"] = Cert("edge");
  w.secrets["edge"].private_key_pem.clear();
  EXPECT_THAT(Strings(Validate(w)), ElementsAre("services.yaml:2:5 secrets[0]: secret 'edge' has no private key"));
}

}  // namespace
}  // namespace tern::model
