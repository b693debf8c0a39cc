// The audit trail as an auditor reads it after a real run: a proxy's connect, its ACK, its NACK
// and its disconnect are records; the trail is signed; `tern audit verify --public-key` passes on
// it and, after each kind of tampering, fails naming the line (exit 1) without crashing.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "server/audit_chain.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using std::chrono::milliseconds;
using testing::RawXdsClient;
using testing::ReadLines;
using testing::RunCommand;
using testing::WriteLines;

// The per-type CDS service: on ADS a new CDS would wait for the proxy's EDS (tern's ADS ordering).
constexpr char kCds[] = "/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters";
constexpr char kClusterUrl[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

const char kV1[] = R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 9001 } ]
)";
const char kV2[] = R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 9001 } ]
  - name: api
    endpoints: [ { address: 127.0.0.1, port: 9100 } ]
)";

std::string Kind(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  return j.is_object() && j.contains("kind") && j["kind"].is_string() ? j["kind"].get<std::string>() : "";
}

// What a forger with write access but without the private key can do: rewrite the lines from
// `from` on (0-based) so that every prev and hash is right again, checkpoints' head_hash too.
std::vector<std::string> Rechain(std::vector<std::string> lines, size_t from) {
  std::string prev;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string body, hash;
    if (!server::audit::SplitLine(lines[i], &body, &hash)) {
      ADD_FAILURE() << "not a record: " << lines[i];
      return lines;
    }
    if (i >= from) {
      auto set = [&](const std::string& key, const std::string& value) {
        const std::string marker = ",\"" + key + "\":\"";
        size_t p = body.rfind(marker);
        if (p == std::string::npos) return;
        size_t start = p + marker.size(), end = body.find('"', start);
        body.replace(start, end - start, value);
      };
      set("prev", prev);
      if (Kind(lines[i]) == "checkpoint") set("head_hash", prev);
      lines[i] = server::audit::SealLine(body, &hash);
    }
    prev = hash;
  }
  return lines;
}

class AuditProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RunCommand({"openssl", "genpkey", "-algorithm", "ed25519", "-out", dir_.path() + "/key.pem"}, dir_.path() + "/k1.log");
    RunCommand({"openssl", "pkey", "-in", dir_.path() + "/key.pem", "-pubout", "-out", dir_.path() + "/pub.pem"},
        dir_.path() + "/k2.log");
    ASSERT_TRUE(testing::WriteFile(dir_.path() + "/services.yaml", kV1).ok());
  }

  // `tern audit verify FILES --public-key pub.pem`.
  testing::CommandResult Verify(const std::vector<std::string>& files) {
    std::vector<std::string> args = {"audit", "verify"};
    args.insert(args.end(), files.begin(), files.end());
    args.push_back("--public-key");
    args.push_back(dir_.path() + "/pub.pem");
    auto r = testing::RunTern(args, dir_.path() + "/verify-" + std::to_string(++runs_) + ".log");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::CommandResult{};
  }

  // A copy of the log with `lines`, verified: it must fail with exit 1 naming `expect`.
  void ExpectCaught(const std::string& name, const std::vector<std::string>& lines, const std::string& expect) {
    const std::string path = dir_.path() + "/" + name + ".jsonl";
    WriteLines(path, lines);
    auto r = Verify({path});
    EXPECT_EQ(r.exit_code, 1) << name << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(name + ".jsonl:" + expect), std::string::npos) << name << ": " << r.err;
  }

  testing::TempDir dir_;
  int runs_ = 0;
};

TEST_F(AuditProxyTest, AProxysConnectAckNackAndDisconnectAreSignedRecordsAndEveryTamperingIsCaught) {
  auto tern = testing::TernServer::Start(
      {.dir = dir_.path(),
       .files = {"services.yaml"},
       .extra_config = "audit:\n  path: audit.jsonl\n  signing_key_file: key.pem\n  checkpoint_every: 3\n"
                       "  copy_to: stdout\n"});
  ASSERT_TRUE(tern.ok()) << tern.status();
  const std::string log = dir_.path() + "/audit.jsonl";
  {
    RawXdsClient envoy((*tern)->xds_address(), kCds);
    ASSERT_TRUE(envoy.Send(RawXdsClient::Request(kClusterUrl, {"web", "api"}, "", "", "edge", "envoy-7")));
    auto first = envoy.Next();
    ASSERT_TRUE(first.has_value());
    // The ACK, then the same ACK again (as a proxy does when its subscriptions change): one record.
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(envoy.Send(RawXdsClient::Request(kClusterUrl, {"web", "api"}, first->version_info(), first->nonce(), "edge",
                                                   "envoy-7")));
    }
    ASSERT_TRUE(testing::WriteFileAtomic(dir_.path() + "/services.yaml", kV2).ok());
    auto second = envoy.Next();
    ASSERT_TRUE(second.has_value()) << testing::ReadFile(log).value_or("") << (*tern)->process().LogTail();
    auto nack = RawXdsClient::Request(kClusterUrl, {"web", "api"}, first->version_info(), second->nonce(), "edge", "envoy-7");
    nack.mutable_error_detail()->set_code(3);
    nack.mutable_error_detail()->set_message("cluster api: unknown field \"x\"");
    ASSERT_TRUE(envoy.Send(nack));
    EXPECT_TRUE(envoy.Quiet(milliseconds(300)));
    envoy.Finish();
  }
  (*tern)->process().Kill();  // SIGTERM: the last records and a final checkpoint

  const std::vector<std::string> lines = ReadLines(log);
  ASSERT_GE(lines.size(), 6u);
  std::vector<nlohmann::json> acks, nacks, connects, disconnects;
  for (const auto& l : lines) {
    auto j = nlohmann::json::parse(l);
    if (j["kind"] == "proxy_connect") connects.push_back(j);
    if (j["kind"] == "proxy_ack") acks.push_back(j);
    if (j["kind"] == "proxy_nack") nacks.push_back(j);
    if (j["kind"] == "proxy_disconnect") disconnects.push_back(j);
  }
  ASSERT_EQ(connects.size(), 1u) << log;
  EXPECT_EQ(connects[0]["node_id"], "envoy-7");
  EXPECT_EQ(connects[0]["node_cluster"], "edge");
  EXPECT_EQ(connects[0]["identity"], "");  // no mTLS here
  EXPECT_EQ(connects[0]["service"], "cds");
  ASSERT_EQ(acks.size(), 1u) << "a re-ACK of the same version is not a new record";
  EXPECT_EQ(acks[0]["type"], "cluster");
  ASSERT_EQ(nacks.size(), 1u);
  EXPECT_EQ(nacks[0]["type"], "cluster");
  EXPECT_NE(nacks[0]["error"].get<std::string>().find("cluster api: unknown field"), std::string::npos);
  EXPECT_EQ(nacks[0]["error_code"], 3);
  EXPECT_FALSE(nacks[0]["nonce"].get<std::string>().empty());
  ASSERT_EQ(disconnects.size(), 1u);
  EXPECT_EQ(disconnects[0]["node_id"], "envoy-7");
  EXPECT_TRUE(disconnects[0]["duration_ms"].is_number_unsigned() || disconnects[0]["duration_ms"].is_number());
  EXPECT_TRUE(disconnects[0]["grpc_status"] == "OK" || disconnects[0]["grpc_status"] == "CANCELLED");
  EXPECT_EQ(Kind(lines.back()), "checkpoint") << "shutdown signs the chain's head";
  // The copy on stdout for shipping: the same lines, in tern's output.
  auto out = testing::ReadFile(dir_.path() + "/tern.log");
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->find(lines[1]), std::string::npos);

  auto ok = Verify({log});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("verified"), std::string::npos) << ok.out;

  // Find a checkpoint that is not the last line, and one record before it to forge.
  size_t cp = 0;
  for (size_t i = 1; i + 1 < lines.size() && !cp; ++i) {
    if (Kind(lines[i]) == "checkpoint") cp = i;
  }
  ASSERT_GT(cp, 1u);

  auto edited = lines;  // one byte
  edited[1][edited[1].find("\"time\":\"") + 9] ^= 1;
  ExpectCaught("edited", edited, "2:");

  auto deleted = lines;
  deleted.erase(deleted.begin() + 2);
  ExpectCaught("deleted", deleted, "3:");

  auto swapped = lines;
  std::swap(swapped[1], swapped[2]);
  ExpectCaught("swapped", swapped, "2:");

  auto recomputed = lines;  // an edit with every hash after it recomputed: only the signature tells
  recomputed[cp - 1].replace(recomputed[cp - 1].find("\"time\":\"") + 8, 4, "1999");
  ExpectCaught("recomputed", Rechain(recomputed, cp - 1), std::to_string(cp + 1) + ":");

  auto cut = lines;  // the first two records gone
  cut.erase(cut.begin(), cut.begin() + 2);
  ExpectCaught("cut", cut, "1:");

  // A forged checkpoint: signed with another key, claiming ours.
  RunCommand({"openssl", "genpkey", "-algorithm", "ed25519", "-out", dir_.path() + "/other.pem"}, dir_.path() + "/k3.log");
  auto other = server::audit::Signer::FromPemFile(dir_.path() + "/other.pem");
  ASSERT_TRUE(other.ok());
  auto j = nlohmann::ordered_json::parse(lines[cp]);
  server::audit::CheckpointClaim claim{j["chain_start_seq"].get<uint64_t>(), j["chain_start_hash"].get<std::string>(),
                                       j["head_seq"].get<uint64_t>(), j["head_hash"].get<std::string>()};
  auto sig = (*other)->Sign(server::audit::CheckpointMessage(claim));
  ASSERT_TRUE(sig.ok());
  auto forged = lines;
  const std::string old_sig = j["signature"].get<std::string>();
  forged[cp].replace(forged[cp].find(old_sig), old_sig.size(), *sig);
  ExpectCaught("forged", Rechain(forged, cp), std::to_string(cp + 1) + ":");

  // Garbage never crashes verify: exit 1, the line named.
  ExpectCaught("garbage", {lines[0], "\xff\xfe{\"seq\":", lines[2]}, "2:");
  std::string body, hash;
  ASSERT_TRUE(server::audit::SplitLine(lines[1], &body, &hash));
  ExpectCaught("wrongtypes", {lines[0], server::audit::SealLine("{\"seq\":\"two\",\"prev\":[1]", &hash)}, "2:");
  ExpectCaught("notobject", {lines[0], server::audit::SealLine("[1,2", &hash)}, "2:");
}

TEST_F(AuditProxyTest, ADeltaStreamsConnectAndAckAreRecordedToo) {
  auto tern = testing::TernServer::Start(
      {.dir = dir_.path(), .files = {"services.yaml"}, .extra_config = "audit:\n  path: audit.jsonl\n"});
  ASSERT_TRUE(tern.ok()) << tern.status();
  {
    RawXdsClient envoy((*tern)->xds_address(), "/envoy.service.cluster.v3.ClusterDiscoveryService/DeltaClusters");
    testing::DeltaDiscoveryRequest req;
    req.mutable_node()->set_id("envoy-d");
    req.mutable_node()->set_cluster("edge");
    req.set_type_url(kClusterUrl);
    req.add_resource_names_subscribe("web");
    ASSERT_TRUE(envoy.Send(req));
    auto resp = envoy.NextDelta();
    ASSERT_TRUE(resp.has_value());
    testing::DeltaDiscoveryRequest ack;
    ack.set_type_url(kClusterUrl);
    ack.set_response_nonce(resp->nonce());
    ASSERT_TRUE(envoy.Send(ack));
    EXPECT_TRUE(envoy.Quiet(milliseconds(300)));
    envoy.Finish();
  }
  (*tern)->process().Kill();
  std::vector<std::string> kinds;
  for (const auto& l : ReadLines(dir_.path() + "/audit.jsonl")) {
    auto j = nlohmann::json::parse(l);
    if (j["kind"] == "config") continue;
    kinds.push_back(j["kind"]);
    EXPECT_EQ(j["protocol"], "delta") << l;
    EXPECT_EQ(j["node_id"], "envoy-d") << l;
    if (j["kind"] == "proxy_ack") {
      EXPECT_FALSE(j["version"].get<std::string>().empty()) << l;
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"proxy_connect", "proxy_ack", "proxy_disconnect"}));
}

}  // namespace
}  // namespace tern
