// The blocking-query client: one thread, no busy loop against a dead server, Consul's index
// rules against a real Consul agent, watches added and removed at any time.
#include "sources/http/blocking_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "integration/consul_agent.h"
#include "support/process.h"

namespace tern::sources::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(BlockingClient, BacksOffAgainstADeadServerInsteadOfSpinning) {
  const int port = testing::FreePort();  // nobody listens here
  BlockingClient client({.address = "http://127.0.0.1:" + std::to_string(port), .backoff_min = 50ms,
                         .backoff_max = 400ms});
  std::atomic<int> errors{0};
  std::string last_error;
  WatchId id = client.Watch("/v1/catalog/services", [&](const Response& r) {
    EXPECT_FALSE(r.ok);
    last_error = r.error;
    errors++;
  });
  client.Start();
  std::this_thread::sleep_for(2s);
  client.Stop();
  // 50, 100, 200, then at most one per 200–400 ms: about 8–12 in 2 s; a busy loop would be thousands.
  EXPECT_GE(client.requests(id), 4u);
  EXPECT_LE(client.requests(id), 14u);
  EXPECT_EQ(static_cast<uint64_t>(errors.load()), client.requests(id)) << "every failure is reported";
  EXPECT_NE(last_error.find("/v1/catalog/services"), std::string::npos) << last_error;
}

TEST(BlockingClient, FollowsConsulIndexesAndDeliversOnlyChanges) {
  testing::TempDir dir;
  auto consul = testing::ConsulAgent::Start(dir.path());
  ASSERT_TRUE(consul.ok()) << consul.status();
  BlockingClient client({.address = (*consul)->address(), .wait = 2000ms});
  std::mutex mu;
  std::vector<Response> seen;
  WatchId id = client.Watch("/v1/health/service/web", [&](const Response& r) {
    std::lock_guard l(mu);
    seen.push_back(r);
  });
  client.Start();
  auto count = [&] {
    std::lock_guard l(mu);
    return seen.size();
  };
  auto wait_for = [&](size_t n) {
    const auto deadline = Clock::now() + 10s;
    while (count() < n && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    return count() >= n;
  };
  ASSERT_TRUE(wait_for(1));
  EXPECT_TRUE(seen[0].ok) << seen[0].error;
  EXPECT_GE(seen[0].index, 1u);
  // The watch blocks: a request per answer, and an answer only when Consul's index moved (a
  // fresh agent still moves it a few times while it sets itself up), never a stream of repeats.
  std::this_thread::sleep_for(2500ms);
  {
    std::lock_guard l(mu);
    for (size_t i = 1; i < seen.size(); ++i) EXPECT_NE(seen[i].index, seen[i - 1].index);
    EXPECT_LE(client.requests(id), seen.size() + 3);
  }
  // A registration wakes the blocking query at once.
  const auto t0 = Clock::now();
  ASSERT_TRUE((*consul)->Register("web", "web-1", 8080).ok());
  auto has_web1 = [&] {
    std::lock_guard l(mu);
    return !seen.empty() && seen.back().body.find("web-1") != std::string::npos;
  };
  while (!has_web1() && Clock::now() < t0 + 10s) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(has_web1());
  EXPECT_LT(Clock::now() - t0, 1s);

  // Removing the watch stops its requests; adding one while running works.
  client.Unwatch(id);
  std::atomic<int> catalog{0};
  client.Watch("/v1/catalog/services", [&](const Response& r) { catalog += r.ok; });
  const auto deadline = Clock::now() + 5s;
  while (catalog == 0 && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(catalog.load(), 1);
  EXPECT_EQ(client.watch_count(), 1u);
  client.Stop();
}

TEST(BlockingClient, UrlCarriesIndexWaitDatacenterAndConsistencyButNoToken) {
  BlockingClient client({.address = "http://consul:8500", .token = "s3cret", .datacenter = "dc2",
                         .consistency = "stale", .wait = 30000ms});
  const std::string url = client.Url("/v1/health/service/web?filter=x", 42, true);
  EXPECT_EQ(url, "http://consul:8500/v1/health/service/web?filter=x&index=42&wait=30000ms&dc=dc2&stale");
  EXPECT_EQ(url.find("s3cret"), std::string::npos);
  EXPECT_EQ(client.Url("/v1/catalog/services", 0, true), "http://consul:8500/v1/catalog/services?dc=dc2&stale");
}

}  // namespace
}  // namespace tern::sources::http
