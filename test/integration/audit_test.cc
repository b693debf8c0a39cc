// The audit log as an auditor sees it: every configuration change is a record naming what
// changed and why, the chain verifies, and any edit, deletion or reordering is caught by
// `tern audit verify`, which names the first bad line.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/http_get.h"
#include "support/process.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern {
namespace {

const char kV1[] = R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 9001 } ]
)";
const char kV2[] = R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 9001 }, { address: 127.0.0.1, port: 9002 } ]
  - name: api
    endpoints: [ { address: 127.0.0.1, port: 9100 } ]
)";

using testing::ReadLines;
using testing::WriteLines;

TEST(AuditLogTest, EveryChangeIsRecordedWithItsReasonAndTheChainCatchesTampering) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteFile(dir.path() + "/services.yaml", kV1).ok());
  auto tern = testing::TernServer::Start(
      {.dir = dir.path(), .files = {"services.yaml"}, .extra_config = "audit:\n  path: audit.jsonl\n"});
  ASSERT_TRUE(tern.ok()) << tern.status();
  const std::string log = dir.path() + "/audit.jsonl";

  ASSERT_TRUE(testing::WriteFileAtomic(dir.path() + "/services.yaml", kV2).ok());
  std::vector<std::string> lines;
  for (int i = 0; i < 100 && (lines = ReadLines(log)).size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(lines.size(), 2u);
  auto first = nlohmann::json::parse(lines[0]);
  auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(first["reasons"][0], "file: initial sync");
  EXPECT_NE(second["reasons"][0].get<std::string>().find("services.yaml"), std::string::npos) << lines[1];
  bool saw_api_added = false, saw_web_endpoints_changed = false;
  for (const auto& c : second["changes"]) {
    if (c["name"] == "api" && c["type"] == "cluster" && c["action"] == "added") saw_api_added = true;
    if (c["name"] == "web" && c["type"] == "endpoint" && c["action"] == "changed") saw_web_endpoints_changed = true;
  }
  EXPECT_TRUE(saw_api_added) << lines[1];
  EXPECT_TRUE(saw_web_endpoints_changed) << lines[1];

  auto ok = testing::RunTern({"audit", "verify", log}, dir.path() + "/verify.log");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->exit_code, 0) << ok->err;

  // An edited record.
  auto edited = lines;
  edited[0].replace(edited[0].find("initial sync"), 12, "initial SYNC");
  WriteLines(dir.path() + "/edited.jsonl", edited);
  auto r1 = testing::RunTern({"audit", "verify", dir.path() + "/edited.jsonl"}, dir.path() + "/v1.log");
  EXPECT_EQ(r1->exit_code, 1);
  EXPECT_NE(r1->err.find("edited.jsonl:1:"), std::string::npos) << r1->err;

  // A deleted record.
  ASSERT_TRUE(testing::WriteFileAtomic(dir.path() + "/services.yaml", kV1).ok());
  for (int i = 0; i < 100 && (lines = ReadLines(log)).size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(lines.size(), 3u);
  WriteLines(dir.path() + "/deleted.jsonl", {lines[0], lines[2]});
  auto r2 = testing::RunTern({"audit", "verify", dir.path() + "/deleted.jsonl"}, dir.path() + "/v2.log");
  EXPECT_EQ(r2->exit_code, 1);
  EXPECT_NE(r2->err.find("deleted.jsonl:2:"), std::string::npos) << r2->err;

  // Reordered records.
  WriteLines(dir.path() + "/reordered.jsonl", {lines[0], lines[2], lines[1]});
  auto r3 = testing::RunTern({"audit", "verify", dir.path() + "/reordered.jsonl"}, dir.path() + "/v3.log");
  EXPECT_EQ(r3->exit_code, 1);
}

}  // namespace
}  // namespace tern
