// What an operator sees when the audit log cannot be written. Fail-closed (the default): the
// change is not served, the last audited configuration keeps serving, /readyz says why, and
// everything catches up once the log is writable again. Fail-open: the change is served anyway.
//
// Tests run as root, so chmod cannot make the file unwritable; instead the log's path is made a
// symlink to /dev/full, where every write fails with ENOSPC (a full disk), while the real file is
// kept aside and put back for the recovery.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "support/http_get.h"
#include "support/process.h"
#include "support/tern_process.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const char kV1[] = R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 9001 } ]
)";
const char kV2[] = R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 9001 }, { address: 127.0.0.1, port: 9002 } ]
)";

const char kApi[] = R"(  - name: api
    endpoints: [ { address: 127.0.0.1, port: 9100 } ]
)";

class AuditFailureTest : public ::testing::Test {
 protected:
  void Start(const std::string& on_failure) {
    ASSERT_TRUE(testing::WriteFile(dir_.path() + "/services.yaml", kV1).ok());
    auto t = testing::TernServer::Start({.dir = dir_.path(),
                                         .files = {"services.yaml"},
                                         .extra_config = "audit:\n  path: audit.jsonl\n  on_failure: " + on_failure + "\n"});
    ASSERT_TRUE(t.ok()) << t.status();
    tern_ = std::move(*t);
  }

  // Whether the served endpoints (for any proxy) include port 9002, i.e. kV2 is served.
  bool ServesV2() {
    auto r = testing::HttpGet("127.0.0.1", tern_->admin_port(), "/debug/resources?node_cluster=any&type=endpoint");
    return r.ok() && r->status == 200 && r->body.find("9002") != std::string::npos;
  }

  testing::HttpResponse Readyz() {
    auto r = testing::HttpGet("127.0.0.1", tern_->admin_port(), "/readyz");
    return r.ok() ? *r : testing::HttpResponse{};
  }

  // Polls `pred` every 50 ms for up to 10 s.
  template <typename Pred>
  bool Eventually(Pred pred) {
    for (int i = 0; i < 200; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return pred();
  }

  void BreakTheLog() {
    fs::rename(log_, dir_.path() + "/audit.kept");
    fs::create_symlink("/dev/full", log_);
  }
  void RepairTheLog() {
    fs::remove(log_);
    fs::rename(dir_.path() + "/audit.kept", log_);
  }

  testing::TempDir dir_;
  std::string log_ = dir_.path() + "/audit.jsonl";
  std::unique_ptr<testing::TernServer> tern_;
};

TEST_F(AuditFailureTest, FailClosedHoldsTheChangeBackUntilItsRecordCanBeWritten) {
  ASSERT_NO_FATAL_FAILURE(Start("fail-closed"));
  ASSERT_FALSE(ServesV2());
  BreakTheLog();
  ASSERT_TRUE(testing::WriteFileAtomic(dir_.path() + "/services.yaml", kV2).ok());

  ASSERT_TRUE(Eventually([&] { return Readyz().status == 503; })) << Readyz().body;
  const auto blocked = Readyz();
  EXPECT_NE(blocked.body.find("publish_blocked"), std::string::npos) << blocked.body;
  EXPECT_NE(blocked.body.find("audit log cannot be written"), std::string::npos) << blocked.body;
  EXPECT_NE(blocked.body.find("No space left on device"), std::string::npos) << blocked.body;
  EXPECT_FALSE(ServesV2()) << "a change without its audit record was served";

  RepairTheLog();
  ASSERT_TRUE(Eventually([&] { return Readyz().status == 200; })) << Readyz().body;
  EXPECT_TRUE(ServesV2());
  // The held change is on the record, with the reason that caused it, and the chain verifies.
  std::ifstream in(log_);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 2u);
  auto rec = nlohmann::json::parse(lines[1]);
  EXPECT_NE(rec["reasons"].dump().find("services.yaml"), std::string::npos) << lines[1];
  EXPECT_NE(rec["changes"].dump().find("\"endpoint\""), std::string::npos) << lines[1];
  auto v = testing::RunTern({"audit", "verify", log_}, dir_.path() + "/verify.log");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->exit_code, 0) << v->err;
}

TEST_F(AuditFailureTest, FailOpenServesTheChangeAndStaysReady) {
  ASSERT_NO_FATAL_FAILURE(Start("fail-open"));
  BreakTheLog();
  ASSERT_TRUE(testing::WriteFileAtomic(dir_.path() + "/services.yaml", kV2).ok());
  ASSERT_TRUE(Eventually([&] { return ServesV2(); }));
  EXPECT_EQ(Readyz().status, 200);
  auto log = testing::ReadFile(tern_->process().log_path());
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("config record not written"), std::string::npos);
  // ... and counted where the TernAuditWriteFailures alert looks.
  auto metrics = testing::HttpGet("127.0.0.1", tern_->admin_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics->body, m, std::regex("\ntern_audit_write_failures_total ([0-9.e+]+)")))
      << metrics->body;
  EXPECT_GE(std::stod(m[1]), 1.0);
  // Once writable again, the next record carries the changes the failed one missed.
  RepairTheLog();
  ASSERT_TRUE(testing::WriteFileAtomic(dir_.path() + "/services.yaml", std::string(kV2) + kApi).ok());
  std::vector<std::string> lines;
  ASSERT_TRUE(Eventually([&] {
    std::ifstream in(log_);
    lines.clear();
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines.size() == 2;
  }));
  auto changes = nlohmann::json::parse(lines[1])["changes"];
  bool web_endpoints = false, api_added = false;
  for (const auto& c : changes) {
    if (c["name"] == "web" && c["type"] == "endpoint" && c["action"] == "changed") web_endpoints = true;
    if (c["name"] == "api" && c["type"] == "cluster" && c["action"] == "added") api_added = true;
  }
  EXPECT_TRUE(web_endpoints) << "the change served while the log was down is in the next record: " << lines[1];
  EXPECT_TRUE(api_added) << lines[1];
}

}  // namespace
}  // namespace tern
