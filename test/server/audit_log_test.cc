// AuditLog's proxy records from the writer's side: every write attempt is reported to the
// metrics hook (on_write), a write that fails is counted and leaves no trace in the chain, and
// events that overflow the queue are counted and the gap itself becomes a record.
#include "server/audit_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace tern::server
