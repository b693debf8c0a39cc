// The blocking-query client: one thread, no busy loop against a dead server, Consul's index
// rules against a real Consul agent, watches added and removed at any time.
#include "sources/http/blocking_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "integration/consul_agent.h"
#include "support/fault_proxy.h"
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
  // fresh agent still moves it a few times while it sets itself up, and an index move with the
  // same bytes costs a request but delivers nothing), never a stream of repeats: a loop that did
  // not block would make hundreds of requests in these 2.5 s. (The margin was 3: a CI run under
  // load saw 5 requests for 1 answer.)
  std::this_thread::sleep_for(2500ms);
  {
    std::lock_guard l(mu);
    for (size_t i = 1; i < seen.size(); ++i) EXPECT_NE(seen[i].index, seen[i - 1].index);
    EXPECT_LE(client.requests(id), seen.size() + 8);
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

// A fresh agent keeps moving its indexes for a moment (anti-entropy syncs what was registered
// through the agent): read until two reads 300 ms apart agree.
Response SettledGet(BlockingClient& client, const std::string& path) {
  Response last = client.Get(path);
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(300ms);
    Response next = client.Get(path);
    if (next.ok && last.ok && next.index == last.index && next.body == last.body) return next;
    last = std::move(next);
  }
  return last;
}

// Consul wakes a discovery-chain query on any config entry write (its index is the config
// table's), so an unrelated entry brings the same chain again under a new index: not news.
TEST(BlockingClient, AnAnswerWithTheSameBytesUnderANewIndexIsNotDelivered) {
  testing::TempDir dir;
  auto consul = testing::ConsulAgent::Start(dir.path());
  ASSERT_TRUE(consul.ok()) << consul.status();
  ASSERT_TRUE((*consul)->Register("web", "web-1", 8080).ok());
  BlockingClient client({.address = (*consul)->address(), .wait = 5000ms});
  ASSERT_TRUE(SettledGet(client, "/v1/health/service/web").ok);
  std::atomic<int> delivered{0};
  WatchId id = client.Watch("/v1/discovery-chain/web", [&](const Response& r) { delivered += r.ok; });
  client.Start();
  const auto deadline = Clock::now() + 10s;
  while (delivered == 0 && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(delivered.load(), 1);
  std::this_thread::sleep_for(300ms);
  const uint64_t requests_before = client.requests(id);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*consul)->PutConfig(absl::StrCat(R"({"Kind":"service-defaults","Name":"other-)", i,
                                                  R"(","Protocol":"http"})")).ok());
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GT(client.requests(id), requests_before) << "Consul did not wake the chain query: the premise changed";
  EXPECT_EQ(delivered.load(), 1);
  // A write that does change web's chain is delivered.
  ASSERT_TRUE((*consul)->PutConfig(R"({"Kind":"service-defaults","Name":"web","Protocol":"http"})").ok());
  const auto deadline2 = Clock::now() + 5s;
  while (delivered < 2 && Clock::now() < deadline2) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(delivered.load(), 2);
  client.Stop();
}

// A full sync already read everything: the watches started after it block from there.
TEST(BlockingClient, ASeededWatchBlocksFromTheSyncInsteadOfReadingItAgain) {
  testing::TempDir dir;
  auto consul = testing::ConsulAgent::Start(dir.path());
  ASSERT_TRUE(consul.ok()) << consul.status();
  ASSERT_TRUE((*consul)->Register("web", "web-1", 8080).ok());
  BlockingClient client({.address = (*consul)->address(), .wait = 5000ms});
  const std::string path = "/v1/health/service/web";
  Response sync = SettledGet(client, path);
  ASSERT_TRUE(sync.ok) << sync.error;
  client.Seed(path, BlockingClient::SeedOf(sync));
  std::atomic<int> delivered{0};
  std::vector<std::string> bodies;
  std::mutex mu;
  WatchId id = client.Watch(path, [&](const Response& r) {
    std::lock_guard l(mu);
    bodies.push_back(r.body);
    delivered += r.ok;
  });
  client.Start();
  std::this_thread::sleep_for(1500ms);
  {
    // Consul may still have moved on its own; what must never come is the synced answer again.
    std::lock_guard l(mu);
    for (const auto& b : bodies) EXPECT_NE(b, sync.body) << "the synced answer was delivered again";
    EXPECT_LE(client.requests(id), bodies.size() + 1) << "the watch did not block at the synced index";
  }
  const int before_register = delivered.load();
  ASSERT_TRUE((*consul)->Register("web", "web-2", 8081).ok());
  auto has_web2 = [&] {
    std::lock_guard l(mu);
    return !bodies.empty() && bodies.back().find("web-2") != std::string::npos;
  };
  const auto deadline = Clock::now() + 5s;
  while (!has_web2() && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(has_web2());
  EXPECT_GT(delivered.load(), before_register);
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

// Headers, then nothing (a proxy in front of Consul that stalls): the body deadline ends the
// request as a failure, named without index/wait; 0 turns the deadline off.
TEST(BlockingClient, AnAnswerThatStallsAfterItsHeadersFailsAtTheBodyDeadlineUnlessItIsOff) {
  testing::TempDir dir;
  auto consul = testing::ConsulAgent::Start(dir.path());
  ASSERT_TRUE(consul.ok()) << consul.status();
  testing::FaultProxy proxy((*consul)->address());
  proxy.SetFault("/v1/catalog/services", {.forward = true, .stall_after_headers = true});

  std::mutex mu;
  std::vector<Response> with_deadline, without;
  BlockingClient a({.address = proxy.address(), .backoff_min = 50ms, .backoff_max = 400ms, .body_idle_timeout = 300ms});
  BlockingClient b({.address = proxy.address(), .body_idle_timeout = 0ms});
  a.Watch("/v1/catalog/services", [&](const Response& r) {
    std::lock_guard l(mu);
    with_deadline.push_back(r);
  });
  b.Watch("/v1/catalog/services", [&](const Response& r) {
    std::lock_guard l(mu);
    without.push_back(r);
  });
  a.Start();
  b.Start();
  std::this_thread::sleep_for(2500ms);
  a.Stop();
  {
    std::lock_guard l(mu);
    // Each request stalls 300 ms (checked about once a second), then backs off: a few, not a storm.
    ASSERT_GE(with_deadline.size(), 1u);
    EXPECT_LE(with_deadline.size(), 5u);
    for (const auto& r : with_deadline) {
      EXPECT_FALSE(r.ok);
      EXPECT_NE(r.error.find("/v1/catalog/services: the answer stalled after its headers (no byte for 300 ms)"),
                std::string::npos)
          << r.error;
      EXPECT_EQ(r.error.find("index="), std::string::npos) << r.error;
    }
    EXPECT_TRUE(without.empty()) << "no deadline: still waiting for the body (curl's own 10 s timeout)";
  }
  b.Stop();
}

}  // namespace
}  // namespace tern::sources::http
