#include "sources/file/file_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <condition_variable>

namespace tern::sources {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Records what the source tells the core, and lets a test wait for the next event.
class RecordingSink : public UpdateSink {
 public:
  struct Event {
    bool update;
    FragmentPtr fragment;
    std::string reason;
    std::vector<model::Problem> problems;
  };

  void OnUpdate(const std::string& source, FragmentPtr fragment, std::string reason) override {
    Push({true, std::move(fragment), std::move(reason), {}});
  }
  void OnError(const std::string& source, std::vector<model::Problem> problems) override {
    Push({false, nullptr, "", std::move(problems)});
  }
  void OnDelta(const std::string&, model::WorldDelta, std::string) override {
    ADD_FAILURE() << "the file source hands over whole fragments";
  }

  // The next event, or nullopt if none arrives within `timeout`.
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

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tern_file_source_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::trunc) << text;
    return p.string();
  }

  static std::string Service(const std::string& name, int port) {
    return "services:\n  - name: " + name + "\n    endpoints: [ { address: 10.0.0.1, port: " +
           std::to_string(port) + " } ]\n";
  }

  fs::path dir_;
  FileSource::Options fast_{.poll_interval = 20ms};
};

TEST_F(FileSourceTest, SyncOnceMergesEveryFile) {
  const std::string a = Write("a.yaml", Service("web", 80));
  const std::string b = Write("b.yaml", Service("api", 81));
  FileSource source("file", {a, b});
  auto fragment = source.SyncOnce(nullptr);
  ASSERT_TRUE(fragment.ok()) << fragment.status();
  EXPECT_EQ((*fragment)->clusters.size(), 2u);
  const SourceStatus st = source.status();
  EXPECT_EQ(st.name, "file");
  EXPECT_TRUE(st.synced);
  EXPECT_EQ(st.index, 1u);
  EXPECT_EQ(st.last_error, "");
}

TEST_F(FileSourceTest, ANameDefinedInTwoFilesNamesBoth) {
  const std::string a = Write("a.yaml", Service("web", 80));
  const std::string b = Write("b.yaml", Service("web", 81));
  FileSource source("file", {a, b});
  std::vector<model::Problem> problems;
  EXPECT_FALSE(source.SyncOnce(&problems).ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].ToString(), HasSubstr(b + ":2:5 services[0]"));
  EXPECT_THAT(problems[0].ToString(), HasSubstr("already defined at " + a + ":2:5"));
  EXPECT_FALSE(source.status().synced);
  EXPECT_THAT(source.status().last_error, HasSubstr("already defined"));
}

TEST_F(FileSourceTest, AMissingFileIsAProblemNamingThePath) {
  const std::string missing = (dir_ / "nope.yaml").string();
  FileSource source("file", {missing});
  std::vector<model::Problem> problems;
  EXPECT_FALSE(source.SyncOnce(&problems).ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, missing);
  EXPECT_THAT(problems[0].message, HasSubstr("cannot read"));
}

TEST_F(FileSourceTest, EditsBreakageAndRepairAreReportedInOrder) {
  const std::string path = Write("services.yaml", Service("web", 80));
  FileSource source("file", {path}, fast_);
  ASSERT_TRUE(source.SyncOnce(nullptr).ok());
  RecordingSink sink;
  source.Start(sink);

  // The operator changes the port: the core gets the new fragment and why.
  Write("services.yaml", Service("web", 8080));
  auto e = sink.Next();
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(e->update);
  EXPECT_EQ(e->fragment->clusters.at("web").endpoints.at(0).port, 8080u);
  EXPECT_EQ(e->reason, "file " + path + " changed");

  // A typo: an error naming the place, and no update (the core keeps port 8080).
  Write("services.yaml", "services:\n  - name: web\n    endpoints: [ { address: 10.0.0.1, port: 0 } ]\n");
  e = sink.Next();
  ASSERT_TRUE(e.has_value());
  ASSERT_FALSE(e->update);
  ASSERT_FALSE(e->problems.empty());
  EXPECT_THAT(e->problems[0].ToString(), HasSubstr(path + ":3:"));
  EXPECT_THAT(e->problems[0].ToString(), HasSubstr("services[0].endpoints[0].port"));
  EXPECT_FALSE(source.status().last_error.empty());
  EXPECT_FALSE(sink.Next(300ms).has_value()) << "a broken file is reported once";

  // The fix: an update again.
  Write("services.yaml", Service("web", 9090));
  e = sink.Next();
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(e->update);
  EXPECT_EQ(e->fragment->clusters.at("web").endpoints.at(0).port, 9090u);
  EXPECT_EQ(source.status().last_error, "");
  EXPECT_EQ(source.status().index, 3u);
  source.Stop();
}

TEST_F(FileSourceTest, ASameSizeEditInTheSameClockTickIsStillSeen) {
  const std::string path = Write("services.yaml", Service("web", 80));
  FileSource source("file", {path}, fast_);
  ASSERT_TRUE(source.SyncOnce(nullptr).ok());
  const auto mtime = fs::last_write_time(path);
  RecordingSink sink;
  source.Start(sink);
  Write("services.yaml", Service("web", 81));
  fs::last_write_time(path, mtime);  // as if both writes fell in one coarse timestamp tick
  auto e = sink.Next();
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(e->update);
  EXPECT_EQ(e->fragment->clusters.at("web").endpoints.at(0).port, 81u);
}

TEST_F(FileSourceTest, AnUnchangedRewriteIsNotAnUpdate) {
  const std::string path = Write("services.yaml", Service("web", 80));
  FileSource source("file", {path}, fast_);
  ASSERT_TRUE(source.SyncOnce(nullptr).ok());
  RecordingSink sink;
  source.Start(sink);
  Write("services.yaml", Service("web", 80));
  fs::last_write_time(path, fs::file_time_type::clock::now() + 1h);
  EXPECT_FALSE(sink.Next(500ms).has_value());
  source.Stop();
}

TEST_F(FileSourceTest, StartWithoutSyncOnceDeliversTheFirstFragment) {
  const std::string path = Write("services.yaml", Service("web", 80));
  FileSource source("file", {path}, fast_);
  RecordingSink sink;
  source.Start(sink);
  auto e = sink.Next();
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->update);
  EXPECT_TRUE(e->fragment->clusters.contains("web"));
}

TEST_F(FileSourceTest, StopReturnsPromptly) {
  const std::string path = Write("services.yaml", Service("web", 80));
  FileSource source("file", {path}, {.poll_interval = 10s});
  RecordingSink sink;
  source.Start(sink);
  ASSERT_TRUE(sink.Next().has_value());
  const auto start = std::chrono::steady_clock::now();
  source.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

}  // namespace
}  // namespace tern::sources
