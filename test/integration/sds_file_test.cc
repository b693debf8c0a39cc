// SDS from PEM files, end to end: the real `build/tern serve` reads a services.yaml whose gateway
// terminates TLS with a certificate from files; a raw ADS client subscribes to the secret the way
// Envoy does. The operator rotates the certificate, breaks it in three ways (each refused, naming
// the file, while the last good secret keeps being served), and looks at it with `tern render`,
// which never shows the private key. Finally the served certificate and key are put behind
// `openssl s_server` and `openssl s_client` verifies the chain against the CA.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/type_urls.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "support/certs.h"
#include "support/http_get.h"
#include "support/probe.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"
#include "support/xds_bootstrap.h"

namespace tern::testing {
namespace {

using envoy::extensions::transport_sockets::tls::v3::Secret;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecretName[] = "shop-cert";
constexpr char kServerName[] = "shop.example.com";

const std::string kSecretTypeUrl(kSecretType);

// The base64 body's first line identifies a PEM key without printing it anywhere.
std::string KeyBody(const std::string& key_pem) {
  const size_t start = key_pem.find('\n') + 1;
  return key_pem.substr(start, key_pem.find('\n', start) - start);
}

struct Served {
  std::string version;
  Secret secret;
};

class SdsFileTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkdir(dir_.File("certs").c_str(), 0700), 0);
    ca_ = MakeCa("tern sds test CA");
    cert_ = NewLeaf();
    WriteCertAndKey(cert_);
    ASSERT_TRUE(WriteFileAtomic(dir_.File("certs/ca.pem"), ca_.cert).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), kServicesYaml).ok());
    // TernTest shows tern's log on failure; it must not hold key material either (checked
    // below), so printing it cannot leak.
    StartTern({.files = {"services.yaml"}, .extra_config = "audit: { path: audit.jsonl }\n"});
  }

  Pem NewLeaf() { return MakeCert({.common_name = kServerName, .dns_sans = {kServerName}}, ca_); }

  void WriteCertAndKey(const Pem& pem) {
    ASSERT_TRUE(WriteFileAtomic(dir_.File("certs/shop.crt"), pem.cert).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_.File("certs/shop.key"), pem.key).ok());
  }

  // A new ADS stream of a proxy in `node_cluster` that asks for the shop certificate; the first
  // response, or nullopt when none comes.
  std::optional<Served> Subscribe(RawXdsClient& client, const std::string& node_cluster = "edge") {
    if (!client.Send(RawXdsClient::Request(kSecretTypeUrl, {kSecretName}, "", "", node_cluster, "envoy-1"))) {
      return std::nullopt;
    }
    return NextSecret(client);
  }

  std::optional<Served> NextSecret(RawXdsClient& client, milliseconds timeout = seconds(5)) {
    auto r = client.Next(timeout);
    if (!r || r->resources_size() != 1) return std::nullopt;
    Served s;
    s.version = r->version_info();
    if (!r->resources(0).UnpackTo(&s.secret)) return std::nullopt;
    last_nonce_ = r->nonce();
    return s;
  }

  void Ack(RawXdsClient& client, const std::string& version) {
    ASSERT_TRUE(client.Send(RawXdsClient::Request(kSecretTypeUrl, {kSecretName}, version, last_nonce_, "edge", "envoy-1")));
  }

  // Waits until /debug/sources shows an error and returns it.
  std::string AwaitSourceError() {
    const auto deadline = Clock::now() + seconds(10);
    while (Clock::now() < deadline) {
      auto r = HttpGet("127.0.0.1", tern_->admin_port(), "/debug/sources");
      if (r.ok()) {
        auto j = nlohmann::json::parse(r->body, nullptr, false);
        for (const auto& s : j) {
          if (s.is_object() && s.contains("last_error") && s["last_error"].is_string() &&
              !s["last_error"].get<std::string>().empty()) {
            return s["last_error"].get<std::string>();
          }
        }
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    return "";
  }

  // A broken edit: refused naming `file_mention`; a new stream still gets the last good secret.
  void ExpectRefusedAndOldSecretKept(const std::string& file_mention, const std::string& what) {
    RawXdsClient before(tern_->xds_address(), kAdsMethod);
    auto good = Subscribe(before);
    ASSERT_TRUE(good.has_value());

    const std::string error = AwaitSourceError();
    ASSERT_FALSE(error.empty()) << "tern did not report the broken files";
    EXPECT_THAT(error, HasSubstr(file_mention));
    EXPECT_THAT(error, HasSubstr(what));
    EXPECT_THAT(error, Not(HasSubstr(KeyBody(cert_.key))));

    RawXdsClient after(tern_->xds_address(), kAdsMethod);
    auto still = Subscribe(after);
    ASSERT_TRUE(still.has_value());
    EXPECT_EQ(still->version, good->version);
    EXPECT_EQ(still->secret.tls_certificate().certificate_chain().inline_bytes(), cert_.cert);
    EXPECT_TRUE(tern_->process().Running());
  }

  static constexpr char kServicesYaml[] = R"(secrets:
  - { name: shop-cert, cert_file: certs/shop.crt, key_file: certs/shop.key }
  - { name: shop-ca, ca_file: certs/ca.pem }
services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 8080 } ]
gateways:
  - name: edge
    listeners:
      - name: https
        port: 8443
        tls:
          certs: [ { server_names: [shop.example.com], secret: shop-cert } ]
        virtual_hosts: [ { domains: ["*"], routes: [ { service: web } ] } ]
  - name: backoffice
    listeners:
      - name: http
        port: 8080
        virtual_hosts: [ { domains: ["*"], routes: [ { service: web } ] } ]
)";

  Pem ca_, cert_;
  std::string last_nonce_;
};

TEST_F(SdsFileTest, TheGatewaysSdsSubscriptionReceivesTheCertificateFromTheFiles) {
  RawXdsClient client(tern_->xds_address(), kAdsMethod);
  auto s = Subscribe(client);
  ASSERT_TRUE(s.has_value()) << "no secret served";
  EXPECT_EQ(s->secret.name(), kSecretName);
  EXPECT_EQ(s->secret.tls_certificate().certificate_chain().inline_bytes(), cert_.cert);
  EXPECT_TRUE(s->secret.tls_certificate().private_key().inline_bytes() == cert_.key)
      << "the served key is not the file's (not printed)";
}

TEST_F(SdsFileTest, AnotherGatewayAndProxylessClientsNeverReceiveIt) {
  for (const std::string node_cluster : {"backoffice", "proxyless"}) {
    RawXdsClient client(tern_->xds_address(), kAdsMethod);
    ASSERT_TRUE(client.Send(RawXdsClient::Request(kSecretTypeUrl, {kSecretName}, "", "", node_cluster, "x-1")));
    auto r = client.Next(milliseconds(700));
    if (r) {
      EXPECT_EQ(r->resources_size(), 0) << node_cluster << " was sent the secret";
    }
  }
}

TEST_F(SdsFileTest, RewritingTheFilesPushesTheNewSecretUnderTheSameNameWithinOneSecond) {
  RawXdsClient client(tern_->xds_address(), kAdsMethod);
  auto first = Subscribe(client);
  ASSERT_TRUE(first.has_value());
  Ack(client, first->version);

  const Pem rotated = NewLeaf();
  const auto start = Clock::now();
  WriteCertAndKey(rotated);
  std::optional<Served> next;
  while (Clock::now() - start < seconds(3)) {
    next = NextSecret(client, seconds(3));
    if (!next || next->secret.tls_certificate().certificate_chain().inline_bytes() == rotated.cert) break;
  }
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  ASSERT_TRUE(next.has_value()) << "no push after rotation";
  EXPECT_EQ(next->secret.name(), kSecretName);
  EXPECT_NE(next->version, first->version);
  EXPECT_EQ(next->secret.tls_certificate().certificate_chain().inline_bytes(), rotated.cert);
  EXPECT_TRUE(next->secret.tls_certificate().private_key().inline_bytes() == rotated.key);
  EXPECT_LT(took, milliseconds(1000)) << "rotation took " << took.count() << " ms";
  std::cerr << "rotation pushed after " << took.count() << " ms\n";

  // The audit log records the rotation (the secret's name and the file) but no key material.
  std::string audit;
  for (auto wait = Clock::now() + seconds(5); Clock::now() < wait; std::this_thread::sleep_for(milliseconds(50))) {
    auto a = ReadFile(dir_.File("audit.jsonl"));
    if (a.ok() && a->find("certs/shop.") != std::string::npos) {
      audit = *a;
      break;
    }
  }
  EXPECT_THAT(audit, HasSubstr(kSecretName));
  EXPECT_FALSE(audit.find(KeyBody(rotated.key)) != std::string::npos) << "the audit log holds the key";
  EXPECT_FALSE(audit.find(KeyBody(cert_.key)) != std::string::npos) << "the audit log holds the key";
}

TEST_F(SdsFileTest, MalformedCertificateIsRefusedAndTheOldSecretKeepsServing) {
  ASSERT_TRUE(WriteFileAtomic(dir_.File("certs/shop.crt"),
                              "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n").ok());
  ExpectRefusedAndOldSecretKept("certs/shop.crt", "not a valid PEM certificate");
}

TEST_F(SdsFileTest, AKeyThatDoesNotMatchIsRefusedAndTheOldSecretKeepsServing) {
  const Pem other = NewLeaf();
  ASSERT_TRUE(WriteFileAtomic(dir_.File("certs/shop.key"), other.key).ok());
  ExpectRefusedAndOldSecretKept("certs/shop.key: private key does not match certs/shop.crt", "");
  EXPECT_THAT(tern_->process().Log(), Not(HasSubstr(KeyBody(other.key))));
}

TEST_F(SdsFileTest, AMissingFileIsRefusedAndTheOldSecretKeepsServing) {
  ASSERT_EQ(::unlink(dir_.File("certs/shop.key").c_str()), 0);
  ExpectRefusedAndOldSecretKept("certs/shop.key", "cannot read file");
}

TEST_F(SdsFileTest, RenderDebugOutputAndLogsNeverShowThePrivateKey) {
  const std::string body = KeyBody(cert_.key);
  auto r = RunTern({"render", "--config", tern_->config_path(), "--node-cluster", "edge", "--type", "all"},
                   dir_.File("render.out"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  EXPECT_THAT(r->out, HasSubstr(kSecretName));
  EXPECT_THAT(r->out, HasSubstr("[redacted]"));
  EXPECT_FALSE(r->out.find(body) != std::string::npos) << "render printed the private key";
  EXPECT_FALSE(r->err.find(body) != std::string::npos) << "render logged the private key";

  auto d = HttpGet("127.0.0.1", tern_->admin_port(), "/debug/resources?node_cluster=edge&type=secret");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->status, 200);
  EXPECT_THAT(d->body, HasSubstr(kSecretName));
  EXPECT_FALSE(d->body.find(body) != std::string::npos) << "/debug/resources showed the private key";

  EXPECT_FALSE(tern_->process().Log().find(body) != std::string::npos) << "tern logged the private key";
}

// The certificate tern serves works: a TLS server set up from the very secret a proxy received
// is verified by a client that trusts only the CA, for the listener's server name.
TEST_F(SdsFileTest, TheServedCertificateCompletesAVerifiedTlsHandshake) {
  RawXdsClient client(tern_->xds_address(), kAdsMethod);
  auto s = Subscribe(client);
  ASSERT_TRUE(s.has_value());
  const std::string cert = dir_.File("served.crt"), key = dir_.File("served.key");
  ASSERT_TRUE(WriteFile(cert, s->secret.tls_certificate().certificate_chain().inline_bytes()).ok());
  ASSERT_TRUE(WriteFile(key, s->secret.tls_certificate().private_key().inline_bytes()).ok());
  ::chmod(key.c_str(), 0600);

  const int port = FreePort();
  auto server = Subprocess::Start({.argv = {"openssl", "s_server", "-www", "-accept", absl::StrCat("127.0.0.1:", port),
                                            "-cert", cert, "-key", key},
                                   .log_path = dir_.File("s_server.log")});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->WaitForLine("^ACCEPT", seconds(10)).ok()) << (*server)->LogTail();

  auto verify = Subprocess::Start(
      {.argv = {"sh", "-c",
                absl::StrCat("openssl s_client -connect 127.0.0.1:", port, " -CAfile ", dir_.File("certs/ca.pem"),
                             " -verify_return_error -servername ", kServerName, " -verify_hostname ", kServerName,
                             " </dev/null")},
       .log_path = dir_.File("s_client.log")});
  ASSERT_TRUE(verify.ok()) << verify.status();
  auto code = (*verify)->Wait(seconds(15));
  ASSERT_TRUE(code.ok()) << code.status();
  const std::string log = (*verify)->Log();
  // "Verify return code: 0 (ok)" alone is also printed when no certificate arrived at all.
  EXPECT_THAT(log, HasSubstr(absl::StrCat("subject=CN = ", kServerName))) << (*verify)->LogTail(3000);
  EXPECT_THAT(log, HasSubstr("Verification: OK"));
  EXPECT_THAT(log, HasSubstr("Verify return code: 0 (ok)")) << (*verify)->LogTail(3000);
  EXPECT_EQ(*code, 0);
  (*server)->Kill();
}


// Issue 4: "a gRPC xDS client keeps working across the rotation". A proxyless gRPC client calls
// `web` through tern (its own xDS stream, the mesh view) round after round while the gateway's
// certificate files are rewritten five times; every round succeeds, and the gateway's SDS
// subscriber sees each new certificate under the same name with a new version.
TEST_F(SdsFileTest, AGrpcXdsClientKeepsWorkingWhileTheCertificateRotates) {
  auto backend = StartTestBackend("web-1", dir_.path());
  ASSERT_TRUE(backend.ok()) << backend.status();
  std::string yaml = kServicesYaml;
  const std::string old_endpoint = "    endpoints: [ { address: 127.0.0.1, port: 8080 } ]\n";
  ASSERT_NE(yaml.find(old_endpoint), std::string::npos);
  yaml.replace(yaml.find(old_endpoint), old_endpoint.size(),
               absl::StrCat("    protocol: grpc\n    endpoints: [ { address: 127.0.0.1, port: ", backend->grpc_port,
                            " } ]\n"));
  ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), yaml).ok());
  const std::string port_text = absl::StrCat("\"portValue\":", backend->grpc_port);
  const auto deadline = Clock::now() + seconds(10);
  bool moved = false;
  while (!moved && Clock::now() < deadline) {
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), "/debug/resources?node_cluster=proxyless&type=endpoint");
    moved = r.ok() && (r->body.find(port_text) != std::string::npos ||
                       r->body.find(absl::StrCat("\"portValue\": ", backend->grpc_port)) != std::string::npos);
    if (!moved) std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(moved) << "web's endpoint did not move to the test backend";

  auto bootstrap = WriteXdsBootstrap(dir_.path(), {.server_uri = tern_->xds_address(), .node_id = "probe-1",
                                                   .node_cluster = "proxyless"});
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  ProbeOptions o{.target = "xds:///web", .bootstrap_path = *bootstrap, .calls = 20};
  o.rounds = 100000;
  o.round_interval_ms = 20;
  o.log_path = dir_.File("probe.log");
  auto probe = StartProbe(o);
  ASSERT_TRUE(probe.ok()) << probe.status();
  ASSERT_TRUE((*probe)->WaitForLine(R"("ok":20)", seconds(20)).ok()) << (*probe)->LogTail();
  const size_t rounds_before = ParseProbeOutput((*probe)->Log()).size();

  RawXdsClient client(tern_->xds_address(), kAdsMethod);
  auto current = Subscribe(client);
  ASSERT_TRUE(current.has_value());
  Ack(client, current->version);
  std::set<std::string> versions = {current->version};
  constexpr int kRotations = 5;
  for (int i = 0; i < kRotations; ++i) {
    const Pem rotated = NewLeaf();
    const auto start = Clock::now();
    WriteCertAndKey(rotated);
    std::optional<Served> next;
    while (Clock::now() - start < seconds(3)) {
      next = NextSecret(client, seconds(3));
      if (!next) break;
      Ack(client, next->version);
      if (next->secret.tls_certificate().certificate_chain().inline_bytes() == rotated.cert) break;
    }
    ASSERT_TRUE(next.has_value()) << "rotation " << i << ": no push";
    EXPECT_EQ(next->secret.name(), kSecretName);
    EXPECT_EQ(next->secret.tls_certificate().certificate_chain().inline_bytes(), rotated.cert) << "rotation " << i;
    EXPECT_TRUE(versions.insert(next->version).second) << "rotation " << i << " reused a version";
    std::cerr << "rotation " << i << " pushed after "
              << std::chrono::duration_cast<milliseconds>(Clock::now() - start).count() << " ms\n";
    std::this_thread::sleep_for(milliseconds(300));  // let the client run rounds between rotations
  }
  // A few more rounds after the last rotation.
  const size_t rounds_at_end = ParseProbeOutput((*probe)->Log()).size();
  for (auto wait = Clock::now() + seconds(5);
       Clock::now() < wait && ParseProbeOutput((*probe)->Log()).size() < rounds_at_end + 5;) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  (*probe)->Kill();

  const auto rounds = ParseProbeOutput((*probe)->Log());
  ASSERT_GT(rounds.size(), rounds_at_end + 4) << "the client stopped reporting";
  long calls = 0;
  for (size_t i = rounds_before; i < rounds.size(); ++i) {
    EXPECT_EQ(rounds[i].failed, 0) << "round " << i << ": " << ToString(rounds[i]);
    EXPECT_EQ(rounds[i].ok, 20) << "round " << i << ": " << ToString(rounds[i]);
    calls += rounds[i].ok;
  }
  std::cerr << (rounds.size() - rounds_before) << " rounds, " << calls << " calls, 0 failed across " << kRotations
            << " rotations\n";
  EXPECT_EQ(versions.size(), static_cast<size_t>(kRotations + 1));
}

}  // namespace
}  // namespace tern::testing
