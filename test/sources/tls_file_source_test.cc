// services.yaml secrets and TLS settings, from the decoder's view (pure: which files it names) and
// from the file source's (reads the PEM, checks it with OpenSSL, follows rotations).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "sources/file/file_source.h"
#include "sources/file/yaml_decoder.h"
#include "support/certs.h"
#include "support/process.h"

namespace tern::sources {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
using tern::testing::MakeCa;
using tern::testing::MakeCert;
using tern::testing::Pem;

const char* kTlsYaml = R"(secrets:
  - { name: edge-cert, cert_file: certs/edge.crt, key_file: certs/edge.key }
  - { name: ca, ca_file: certs/ca.pem }
services:
  - name: api
    tls: { sni: api.internal, ca: ca, client_cert: edge-cert, verify_sans: [api.internal] }
    endpoints: [ { address: 10.0.0.1, port: 443 } ]
gateways:
  - name: edge
    listeners:
      - port: 8443
        tls:
          certs:
            - { server_names: [shop.example.com], secret: edge-cert }
            - { secret: edge-cert }
          require_client_cert: true
          client_ca: ca
        virtual_hosts: [ { routes: [ { service: api } ] } ]
)";

TEST(TlsYamlTest, DecoderNamesTheFilesAndLeavesThePemToTheSource) {
  std::vector<model::Problem> problems;
  auto d = file::DecodeServicesFile(kTlsYaml, "services.yaml", &problems);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->secret_files.size(), 2u);
  EXPECT_EQ(d->secret_files[0].secret, "edge-cert");
  EXPECT_EQ(d->secret_files[0].cert_file, "certs/edge.crt");
  EXPECT_EQ(d->secret_files[0].key_file, "certs/edge.key");
  EXPECT_EQ(d->secret_files[0].origin, "services.yaml:2:5 secrets[0]");
  EXPECT_EQ(d->secret_files[1].ca_file, "certs/ca.pem");

  const model::Secret& cert = d->world.secrets.at("edge-cert");
  EXPECT_EQ(cert.kind, model::Secret::Kind::kTlsCertificate);
  EXPECT_TRUE(cert.cert_chain_pem.empty());
  EXPECT_EQ(d->world.secrets.at("ca").kind, model::Secret::Kind::kValidationContext);

  const auto& l = d->world.gateways.at("edge").listeners.at(0);
  ASSERT_TRUE(l.tls.has_value());
  ASSERT_EQ(l.tls->certs.size(), 2u);
  EXPECT_EQ(l.tls->certs[0].server_names, std::vector<std::string>{"shop.example.com"});
  EXPECT_TRUE(l.tls->certs[1].server_names.empty());
  EXPECT_TRUE(l.tls->require_client_cert);
  EXPECT_EQ(l.tls->client_ca_secret, "ca");
  EXPECT_EQ(l.tls->alpn, (std::vector<std::string>{"h2", "http/1.1"}));

  const auto& api = d->world.clusters.at("api");
  ASSERT_TRUE(api.tls.has_value());
  EXPECT_EQ(api.tls->sni, "api.internal");
  EXPECT_EQ(api.tls->ca_secret, "ca");
  EXPECT_EQ(api.tls->client_cert_secret, "edge-cert");
  EXPECT_EQ(api.tls->verify_sans, std::vector<std::string>{"api.internal"});
}

std::vector<std::string> ProblemsOf(const std::string& text) {
  std::vector<model::Problem> problems;
  EXPECT_FALSE(file::DecodeServicesFile(text, "services.yaml", &problems).ok()) << text;
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.ToString());
  return out;
}

TEST(TlsYamlTest, ASecretIsACertificateOrACaNotBothNorHalfOfOne) {
  EXPECT_THAT(ProblemsOf("secrets:\n  - { name: x, cert_file: a.crt, key_file: a.key, ca_file: ca.pem }\n"),
              ElementsAre("services.yaml:2:5 secrets[0]: a secret is either a certificate (cert_file, key_file) or a CA (ca_file), not both"));
  EXPECT_THAT(ProblemsOf("secrets:\n  - { name: x, cert_file: a.crt }\n"),
              ElementsAre("services.yaml:2:5 secrets[0].key_file: a certificate secret needs both cert_file and key_file"));
  EXPECT_THAT(ProblemsOf("secrets:\n  - { name: x }\n"),
              ElementsAre("services.yaml:2:5 secrets[0]: a secret needs cert_file and key_file, or ca_file"));
  EXPECT_THAT(ProblemsOf("secrets:\n  - { name: x, ca_file: a.pem }\n  - { name: x, ca_file: b.pem }\n"),
              ElementsAre("services.yaml:3:5 secrets[1]: secret 'x' is already defined at services.yaml:2:5 secrets[0]"));
}

TEST(TlsYamlTest, TlsFieldsAreCheckedLikeEveryOtherKey) {
  EXPECT_THAT(ProblemsOf("gateways:\n  - name: edge\n    listeners:\n      - port: 443\n        tls: { require_client_cert: true, certs: [ { secret: c } ] }\n"),
              ElementsAre(HasSubstr("tls.require_client_cert: require_client_cert needs client_ca")));
  EXPECT_THAT(ProblemsOf("gateways:\n  - name: edge\n    listeners:\n      - port: 443\n        tls: { certs: [] }\n"),
              ElementsAre(HasSubstr("tls.certs: a TLS listener needs at least one certificate")));
  EXPECT_THAT(ProblemsOf("services:\n  - name: api\n    tls: { sni: a, client_crt: x, ca: c }\n"),
              ElementsAre("services.yaml:3:20 services[0].tls.client_crt: unknown key"));
  EXPECT_THAT(ProblemsOf("services:\n  - name: api\n    tls: { sni: a }\n"),
              ElementsAre(HasSubstr("services[0].tls.ca: ")));
}

// Records what the source tells the core.
class Sink : public UpdateSink {
 public:
  struct Event {
    bool update = false;
    FragmentPtr fragment;
    std::string reason;
    std::vector<model::Problem> problems;
  };
  void OnUpdate(const std::string&, FragmentPtr f, std::string reason) override { Push({true, std::move(f), std::move(reason), {}}); }
  void OnError(const std::string&, std::vector<model::Problem> p) override { Push({false, nullptr, "", std::move(p)}); }
  void OnDelta(const std::string&, model::WorldDelta, std::string) override {
    ADD_FAILURE() << "the file source hands over whole fragments";
  }
  std::optional<Event> Next(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
    Event e = std::move(events_.front());
    events_.erase(events_.begin());
    return e;
  }

 private:
  void Push(Event e) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

std::string Joined(const std::vector<model::Problem>& ps) {
  std::string out;
  for (const auto& p : ps) out += p.ToString() + "\n";
  return out;
}

// Key material must never be part of a problem. The base64 body line of a PEM key is enough
// to recognise it.
std::string KeyBody(const std::string& key_pem) {
  const size_t start = key_pem.find('\n') + 1;
  return key_pem.substr(start, key_pem.find('\n', start) - start);
}

class TlsFileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir(dir_.File("certs").c_str(), 0700);
    ca_ = MakeCa("tern test CA");
    edge_ = MakeCert({.common_name = "shop.example.com", .dns_sans = {"shop.example.com"}}, ca_);
    WriteCert(edge_);
    ASSERT_TRUE(tern::testing::WriteFile(dir_.File("certs/ca.pem"), ca_.cert).ok());
    ASSERT_TRUE(tern::testing::WriteFile(dir_.File("services.yaml"), kTlsYaml).ok());
  }
  void WriteCert(const Pem& pem) {
    ASSERT_TRUE(tern::testing::WriteFileAtomic(dir_.File("certs/edge.crt"), pem.cert).ok());
    ASSERT_TRUE(tern::testing::WriteFileAtomic(dir_.File("certs/edge.key"), pem.key).ok());
  }
  std::unique_ptr<FileSource> Source() {
    return std::make_unique<FileSource>("files", std::vector<std::string>{dir_.File("services.yaml")},
                                        FileSource::Options{.poll_interval = 20ms});
  }

  tern::testing::TempDir dir_;
  Pem ca_, edge_;
};

TEST_F(TlsFileSourceTest, SecretsCarryThePemReadFromTheirFiles) {
  auto source = Source();
  auto f = source->SyncOnce(nullptr);
  ASSERT_TRUE(f.ok()) << f.status();
  const model::Secret& cert = (*f)->secrets.at("edge-cert");
  EXPECT_EQ(cert.cert_chain_pem, edge_.cert);
  EXPECT_EQ(cert.private_key_pem, edge_.key);
  EXPECT_EQ((*f)->secrets.at("ca").trusted_ca_pem, ca_.cert);
  EXPECT_TRUE(model::Validate(**f).empty());
}

TEST_F(TlsFileSourceTest, RewritingTheCertificateAndKeyIsAnUpdateOfTheSameSecret) {
  auto source = Source();
  Sink sink;
  ASSERT_TRUE(source->SyncOnce(nullptr).ok());
  source->Start(sink);
  const Pem rotated = MakeCert({.common_name = "shop.example.com", .dns_sans = {"shop.example.com"}}, ca_);
  WriteCert(rotated);
  auto e = sink.Next();
  ASSERT_TRUE(e.has_value()) << "no update after rotation";
  // Both files may be seen in one read, or the certificate first: then the pair does not match
  // for a moment, which is refused, and the key's arrival completes the rotation.
  while (e && !e->update) e = sink.Next();
  ASSERT_TRUE(e.has_value());
  EXPECT_THAT(e->reason, HasSubstr("certs/edge."));
  const model::Secret& cert = e->fragment->secrets.at("edge-cert");
  EXPECT_EQ(cert.cert_chain_pem, rotated.cert);
  EXPECT_EQ(cert.private_key_pem, rotated.key);
  source->Stop();
}

TEST_F(TlsFileSourceTest, AKeyThatDoesNotMatchIsRefusedNamingBothFiles) {
  auto source = Source();
  Sink sink;
  ASSERT_TRUE(source->SyncOnce(nullptr).ok());
  source->Start(sink);
  const Pem other = MakeCert({.common_name = "other"}, ca_);
  ASSERT_TRUE(tern::testing::WriteFileAtomic(dir_.File("certs/edge.key"), other.key).ok());
  auto e = sink.Next();
  ASSERT_TRUE(e.has_value());
  ASSERT_FALSE(e->update);
  EXPECT_EQ(Joined(e->problems), dir_.File("services.yaml") +
                                     ":2:5 secrets[0]: certs/edge.key: private key does not match certs/edge.crt\n");
  EXPECT_THAT(Joined(e->problems), Not(HasSubstr(KeyBody(other.key))));
  EXPECT_THAT(source->status().last_error, HasSubstr("private key does not match"));
  source->Stop();
}

TEST_F(TlsFileSourceTest, MalformedPemAndMissingFilesAreProblemsNamingTheFile) {
  ASSERT_TRUE(tern::testing::WriteFile(dir_.File("certs/ca.pem"), "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n").ok());
  ASSERT_TRUE(tern::testing::WriteFile(dir_.File("certs/edge.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
  std::vector<model::Problem> problems;
  EXPECT_FALSE(Source()->SyncOnce(&problems).ok());
  EXPECT_THAT(Joined(problems), HasSubstr("secrets[0]: certs/edge.key: not a valid PEM private key"));
  EXPECT_THAT(Joined(problems), HasSubstr("secrets[1]: certs/ca.pem: not a valid PEM certificate"));

  ::unlink(dir_.File("certs/ca.pem").c_str());
  problems.clear();
  EXPECT_FALSE(Source()->SyncOnce(&problems).ok());
  EXPECT_THAT(Joined(problems), HasSubstr("secrets[1]: certs/ca.pem (" + dir_.File("certs/ca.pem") +
                                          "): cannot read file: No such file or directory"));
}

TEST_F(TlsFileSourceTest, AKeyInTheCertificateFileIsRefusedSoItCannotLeakAsACertificate) {
  ASSERT_TRUE(tern::testing::WriteFile(dir_.File("certs/edge.crt"), edge_.cert + edge_.key).ok());
  std::vector<model::Problem> problems;
  EXPECT_FALSE(Source()->SyncOnce(&problems).ok());
  EXPECT_THAT(Joined(problems), HasSubstr("certs/edge.crt: contains a private key"));
  EXPECT_THAT(Joined(problems), Not(HasSubstr(KeyBody(edge_.key))));
}

}  // namespace
}  // namespace tern::sources
