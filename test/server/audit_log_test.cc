// AuditLog's proxy records from the writer's side: every write attempt is reported to the
// metrics hook (on_write), a write that fails is counted and leaves no trace in the chain, and
// events that overflow the queue are counted and the gap itself becomes a record.
#include "server/audit_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "server/audit_verify.h"
#include "support/process.h"

namespace tern::server {
namespace {

namespace fs = std::filesystem;

xds::ProxyEvent Event(xds::ProxyEvent::Kind kind) {
  xds::ProxyEvent e;
  e.kind = kind;
  e.node_id = "envoy-1";
  e.node_cluster = "edge";
  e.type = ResourceType::kCluster;
  e.version = "v1";
  return e;
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(AuditLogWriterTest, EveryWriteAttemptIsReportedAndAFailedOneLeavesTheChainIntact) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/audit.jsonl";
  std::vector<std::pair<std::string, bool>> writes;
  std::mutex mu;
  auto log = AuditLog::Open({.path = path, .on_write = [&](std::string_view kind, bool ok) {
                               std::lock_guard<std::mutex> l(mu);
                               writes.emplace_back(std::string(kind), ok);
                             }});
  ASSERT_TRUE(log.ok()) << log.status();

  (*log)->RecordProxy(Event(xds::ProxyEvent::Kind::kConnect));
  (*log)->Drain();
  // The disk fills up (a symlink to /dev/full: tests run as root, chmod would not stop a write).
  fs::rename(path, dir.path() + "/kept");
  fs::create_symlink("/dev/full", path);
  (*log)->RecordProxy(Event(xds::ProxyEvent::Kind::kAck));
  (*log)->Drain();
  EXPECT_EQ((*log)->write_failures(), 1u);
  fs::remove(path);
  fs::rename(dir.path() + "/kept", path);
  (*log)->RecordProxy(Event(xds::ProxyEvent::Kind::kNack));
  (*log)->Drain();

  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(writes, (std::vector<std::pair<std::string, bool>>{
                        {"proxy_connect", true}, {"proxy_ack", false}, {"proxy_nack", true}}));
  auto lines = Lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("\"seq\":2,"), std::string::npos) << "the failed record took no seq: " << lines[1];
  auto r = audit::VerifyAuditFiles({path}, {});
  EXPECT_EQ(r.outcome, audit::VerifyResult::Outcome::kOk) << r.message;
}

TEST(AuditLogWriterTest, EventsThatOverflowTheQueueAreCountedAndTheGapIsRecorded) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/audit.jsonl";
  auto log = AuditLog::Open({.path = path, .proxy_queue_limit = 0});
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 3; ++i) (*log)->RecordProxy(Event(xds::ProxyEvent::Kind::kConnect));
  (*log)->Drain();
  EXPECT_EQ((*log)->dropped(), 3u);
  auto lines = Lines(path);
  ASSERT_FALSE(lines.empty());
  size_t counted = 0;
  for (const auto& line : lines) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["kind"], "proxy_dropped") << line;
    counted += j["count"].get<size_t>();
  }
  EXPECT_EQ(counted, 3u);
}

// An Ed25519 private key in PEM at `path`, as `openssl genpkey -algorithm ed25519` writes it.
void WriteSigningKey(const std::string& path) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(key, nullptr);
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  std::fclose(f);
  EVP_PKEY_free(key);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

// tern restarting on a log whose last line is torn and which is already past its rotation size:
// the recovery record, its checkpoint and the rotation are written once each (this recursed until
// the stack overflowed: the checkpoint wrote the recovery record again, whose checkpoint ...).
TEST(AuditLogWriterTest, ARestartOnATornLogAtItsRotationSizeRecordsTheRecoveryOnceAndRotates) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/audit.jsonl";
  const std::string key = dir.path() + "/key.pem";
  WriteSigningKey(key);
  {
    auto log = AuditLog::Open({.path = path, .signing_key_file = key});
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 6; ++i) (*log)->RecordProxy(Event(xds::ProxyEvent::Kind::kAck));
    (*log)->Close();
  }
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << "{\"seq\":99,\"time\":\"2026-12-01T00:00:00.000Z\",\"ki";
  }
  ASSERT_GT(fs::file_size(path), 512u);
  auto log = AuditLog::Open({.path = path, .max_file_bytes = 512, .signing_key_file = key});
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->RecordProxy(Event(xds::ProxyEvent::Kind::kNack));
  (*log)->Close();

  ASSERT_TRUE(fs::exists(path + ".1")) << "the file past its size was rotated";
  size_t recoveries = 0;
  for (const std::string& f : {path + ".1", path}) {
    if (!fs::exists(f)) continue;
    for (const auto& line : Lines(f)) recoveries += line.find("\"kind\":\"recovery\"") != std::string::npos;
  }
  EXPECT_EQ(recoveries, 1u);
  std::vector<std::string> files = {path + ".1"};
  if (fs::exists(path)) files.push_back(path);
  auto r = audit::VerifyAuditFiles(files, {});
  EXPECT_EQ(r.outcome, audit::VerifyResult::Outcome::kOk) << r.message;
}

}  // namespace
}  // namespace tern::server
