// The audit trail over time: it rotates by size without breaking the chain (verify takes the
// set of files, in any order), and a crash mid-write leaves a torn last line that verify reports
// as a crash artefact (exit 2), not tampering; tern restarting on it sets the torn bytes aside,
// records that it did, and the trail verifies again.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::RunCommand;

std::string Services(int port) {
  return "services:\n  - name: web\n    endpoints: [ { address: 127.0.0.1, port: " + std::to_string(port) + " } ]\n";
}

class AuditRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RunCommand({"openssl", "genpkey", "-algorithm", "ed25519", "-out", dir_.path() + "/key.pem"}, dir_.path() + "/k1.log");
    RunCommand({"openssl", "pkey", "-in", dir_.path() + "/key.pem", "-pubout", "-out", dir_.path() + "/pub.pem"},
        dir_.path() + "/k2.log");
    ASSERT_TRUE(testing::WriteFile(dir_.path() + "/services.yaml", Services(9000)).ok());
  }

  std::unique_ptr<testing::TernServer> StartTern() {
    auto t = testing::TernServer::Start(
        {.dir = dir_.path(),
         .files = {"services.yaml"},
         .extra_config = "audit:\n  path: audit.jsonl\n  signing_key_file: key.pem\n  max_file_bytes: 1024\n"});
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? std::move(*t) : nullptr;
  }

  // audit.jsonl and its rotated files audit.jsonl.1 (the oldest), .2, ..., newest first (verify
  // must not depend on the order it is given them in).
  std::vector<std::string> TrailFiles() {
    std::vector<std::pair<uint64_t, std::string>> numbered;
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      const std::string name = e.path().filename().string();
      if (name == "audit.jsonl") numbered.emplace_back(UINT64_MAX, e.path().string());
      else if (name.rfind("audit.jsonl.", 0) == 0) numbered.emplace_back(std::stoull(name.substr(12)), e.path().string());
    }
    std::sort(numbered.rbegin(), numbered.rend());
    std::vector<std::string> out;
    for (auto& [n, path] : numbered) out.push_back(std::move(path));
    return out;
  }

  size_t Records() {
    size_t n = 0;
    for (const auto& f : TrailFiles()) {
      std::ifstream in(f);
      for (std::string l; std::getline(in, l);) n += !l.empty();
    }
    return n;
  }

  testing::CommandResult Verify(const std::vector<std::string>& files) {
    std::vector<std::string> args = {"audit", "verify"};
    args.insert(args.end(), files.begin(), files.end());
    args.insert(args.end(), {"--public-key", dir_.path() + "/pub.pem"});
    auto r = testing::RunTern(args, dir_.path() + "/verify-" + std::to_string(++runs_) + ".log");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::CommandResult{};
  }

  testing::TempDir dir_;
  int runs_ = 0;
};

TEST_F(AuditRotationTest, TheChainContinuesAcrossRotatedFilesAndATornLastLineIsACrashArtefact) {
  auto tern = StartTern();
  ASSERT_TRUE(tern);
  for (int i = 1; i <= 8; ++i) {
    const size_t before = Records();
    ASSERT_TRUE(testing::WriteFileAtomic(dir_.path() + "/services.yaml", Services(9000 + i)).ok());
    for (int t = 0; t < 200 && Records() == before; ++t) std::this_thread::sleep_for(milliseconds(25));
    ASSERT_GT(Records(), before) << "change " << i << " not recorded";
  }
  tern->process().Kill();
  const std::vector<std::string> files = TrailFiles();
  ASSERT_GE(files.size(), 3u) << "8 records of ~300 bytes at 1024 bytes a file";
  EXPECT_TRUE(fs::exists(dir_.path() + "/audit.jsonl.1"));

  auto all = Verify(files);
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find(std::to_string(files.size()) + " file(s)"), std::string::npos) << all.out;
  // A file from the middle of the trail withheld (neither the oldest nor the newest): the gap is
  // named.
  std::vector<std::string> gap = files;
  gap.erase(gap.end() - 2);
  auto missing = Verify(gap);
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.err.find("a record is missing"), std::string::npos) << missing.err;
  // Only the newest file (audit.jsonl, or the newest rotated one if tern stopped just after a
  // rotation): records cut from the front.
  auto newest = Verify({fs::exists(dir_.path() + "/audit.jsonl") ? dir_.path() + "/audit.jsonl" : files[0]});
  EXPECT_EQ(newest.exit_code, 1);
  EXPECT_NE(newest.err.find("not 1"), std::string::npos) << newest.err;

  // A crash mid-write: half a record, no newline.
  const std::string torn = "{\"seq\":999,\"time\":\"2026-11-30T23:00:00.000Z\",\"kind\":\"con";
  {
    std::ofstream out(dir_.path() + "/audit.jsonl", std::ios::app | std::ios::binary);
    out << torn;
  }
  auto crashed = Verify(TrailFiles());
  EXPECT_EQ(crashed.exit_code, 2) << crashed.out << crashed.err;
  EXPECT_NE(crashed.err.find("torn last line"), std::string::npos) << crashed.err;
  EXPECT_NE(crashed.err.find("not tampering"), std::string::npos) << crashed.err;

  // tern starts again on it: the torn bytes are kept beside the log, the chain goes on.
  tern = StartTern();
  ASSERT_TRUE(tern);
  tern->process().Kill();
  auto after = Verify(TrailFiles());
  EXPECT_EQ(after.exit_code, 0) << after.err;
  bool saved = false;
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    if (e.path().filename().string().rfind("torn-", 0) == 0) {
      auto bytes = testing::ReadFile(e.path().string());
      saved = bytes.ok() && *bytes == torn;
    }
  }
  EXPECT_TRUE(saved) << "the torn bytes are evidence: kept in torn-*-audit.jsonl";
  // The recovery record is the first thing the restarted tern writes; a slow start (a sanitizer
  // build) can have rotated it out of audit.jsonl already, so the whole trail is searched.
  std::string trail;
  for (const auto& f : TrailFiles()) {
    auto text = testing::ReadFile(f);
    ASSERT_TRUE(text.ok()) << f;
    trail += *text;
  }
  EXPECT_NE(trail.find("\"kind\":\"recovery\",\"torn_bytes\":" + std::to_string(torn.size())), std::string::npos)
      << trail;
}

}  // namespace
}  // namespace tern
