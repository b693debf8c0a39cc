// `tern audit verify` on every damaged variant of a real trail: each single-bit flip and each
// truncation of the file is either caught (tampered, or a torn last line) or, for a cut exactly at
// a line boundary, a shorter trail that verifies; it never crashes and never calls a damaged
// trail intact.
#include "server/audit_verify.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "server/audit_log.h"
#include "support/process.h"

namespace tern::server::audit {
namespace {

using Outcome = VerifyResult::Outcome;

std::string Trail(const std::string& dir) {
  const std::string path = dir + "/audit.jsonl";
  auto log = AuditLog::Open({.path = path});
  EXPECT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 4; ++i) {
    xds::ProxyEvent e;
    e.kind = i % 2 ? xds::ProxyEvent::Kind::kNack : xds::ProxyEvent::Kind::kAck;
    e.node_id = "envoy-" + std::to_string(i);
    e.error = "bad \"quoted\" \\ detail";
    (*log)->RecordProxy(e);
  }
  (*log)->Close();
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Outcome VerifyBytes(const std::string& dir, const std::string& bytes) {
  // Thousands of variants: in memory (/dev/shm) where there is one, not on a shared disk.
  static const std::string scratch = std::filesystem::is_directory("/dev/shm")
                                         ? "/dev/shm/tern-audit-verify-" + std::to_string(getpid()) + ".jsonl"
                                         : dir + "/damaged.jsonl";
  const std::string& path = scratch;
  struct Cleanup {
    ~Cleanup() { std::filesystem::remove(scratch); }
  };
  static Cleanup cleanup;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return VerifyAuditFiles({path}, {}).outcome;
}

TEST(AuditVerifyTest, EveryBitFlipIsCaught) {
  testing::TempDir dir;
  const std::string good = Trail(dir.path());
  ASSERT_EQ(VerifyBytes(dir.path(), good), Outcome::kOk);
  ASSERT_GT(good.size(), 500u);
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit : {0, 5}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_NE(VerifyBytes(dir.path(), bad), Outcome::kOk) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(AuditVerifyTest, ATruncatedTrailIsTornUnlessCutAtALineEnd) {
  testing::TempDir dir;
  const std::string good = Trail(dir.path());
  for (size_t n = 1; n < good.size(); ++n) {
    const Outcome o = VerifyBytes(dir.path(), good.substr(0, n));
    // A whole record that only lacks its newline is still a record.
    if (good[n - 1] == '\n' || good[n] == '\n') EXPECT_EQ(o, Outcome::kOk) << n;
    else EXPECT_EQ(o, Outcome::kTorn) << n;
  }
}

}  // namespace
}  // namespace tern::server::audit
