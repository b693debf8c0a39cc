// Issue 12, item 3: Consul answering badly, through a fault proxy (test/support/fault_proxy.h) in
// front of a real Consul 1.8.7, read by a real `tern serve` (per-service watches) and an xDS client
// subscribed to one service's endpoints. For each fault: what is served stays (or, for answers
// that are good but unusual, follows Consul), the failure is reported once naming the endpoint and
// counted, tern does not hammer the proxy while the fault lasts, and a change made in Consul
// meanwhile reaches the client once the fault clears.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "consul_agent.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "support/fault_proxy.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/prometheus_text.h"
#include "support/raw_xds_client.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ConsulAgent;
using testing::FaultProxy;
using testing::RawXdsClient;

constexpr const char* kAds = testing::kAdsMethod;
constexpr const char* kEndpoint = testing::kEndpointTypeUrl;
constexpr char kErrors[] = "tern_consul_errors_total{source=\"consul\"}";

int Endpoints(const testing::DiscoveryResponse& r) { return testing::EndpointCount(r); }

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = 0; (pos = text.find(needle, pos)) != std::string::npos; pos += needle.size()) n++;
  return n;
}

// One Consul for the whole file (starting one takes seconds); each test has its own service, its
// own fault proxy and its own tern.
class ConsulFaultsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auto c = ConsulAgent::Start(dir_->path());
    ASSERT_TRUE(c.ok()) << c.status();
    consul_ = c->release();
    ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"proxy-defaults","Name":"global","Config":{"protocol":"http"}})").ok());
    ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge",
      "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"*"}]}]})").ok());
  }
  static void TearDownTestSuite() {
    delete consul_;
    delete dir_;
  }

  // Registers `svc` (one passing instance), starts tern on a fault proxy and an EDS subscription
  // to the service that has received (and ACKed) its one endpoint.
  void Start(const std::string& svc) {
    svc_ = svc;
    health_ = "/v1/health/service/" + svc;
    ASSERT_TRUE(consul_->Register(svc, svc + "-1", 22000 + static_cast<int>(svc.size())).ok());
    proxy_ = std::make_unique<FaultProxy>(consul_->address());
    auto t = testing::TernServer::Start(
        {.dir = dir_->path(),
         .extra_config = absl::StrCat("consul: { address: \"", proxy_->address(), "\", watch: per-service }\n")});
    ASSERT_TRUE(t.ok()) << t.status();
    tern_ = std::move(*t);
    eds_ = std::make_unique<RawXdsClient>(tern_->xds_address(), kAds);
    ASSERT_TRUE(eds_->Send(RawXdsClient::Request(kEndpoint, {svc + ".default.dc1"})));
    auto first = eds_->Next(seconds(10));
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(Endpoints(*first), 1);
    Ack(*first);
    // The watch is blocking on the proxy (its last request carries an index) before a fault is set.
    auto blocking = [&] {
      auto t = proxy_->Targets(health_);
      return !t.empty() && t.back().find("index=") != std::string::npos;
    };
    for (int i = 0; i < 250 && !blocking(); ++i) std::this_thread::sleep_for(milliseconds(20));
    ASSERT_TRUE(blocking());
  }

  void Ack(const testing::DiscoveryResponse& r) {
    ASSERT_TRUE(eds_->Send(RawXdsClient::Request(kEndpoint, {svc_ + ".default.dc1"}, r.version_info(), r.nonce())));
  }

  // The endpoints pushed next (-2: nothing within `timeout`), ACKed.
  int NextEndpoints(std::chrono::milliseconds timeout) {
    auto r = eds_->Next(timeout);
    if (!r) return -2;
    Ack(*r);
    return Endpoints(*r);
  }

  // Requests the proxy sees for the health path during `window`.
  long RequestsDuring(std::chrono::milliseconds window) {
    const long before = proxy_->Requests(health_);
    std::this_thread::sleep_for(window);
    return proxy_->Requests(health_) - before;
  }

  std::string DebugSources() {
    auto r = testing::HttpGet("127.0.0.1", tern_->admin_port(), "/debug/sources");
    return r.ok() ? r->body : "";
  }

  // Waits until /debug/sources names `needle` (as a failure of the health endpoint).
  bool AwaitReported(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (DebugSources().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }

  // Lines in tern's log reporting a failure of the health endpoint.
  size_t FailureReports() {
    const std::string log = tern_->process().Log();
    size_t n = 0;
    for (size_t pos = 0; (pos = log.find("(keeping its last good data)", pos)) != std::string::npos; ++pos) {
      const size_t line = log.rfind('\n', pos);
      const std::string text = log.substr(line == std::string::npos ? 0 : line, pos - line);
      if (text.find(health_) != std::string::npos) n++;
    }
    return n;
  }

  // The common ending: the fault clears, the change made meanwhile (the instance failing) reaches
  // the client, and the endpoint is no longer reported as failing.
  void ExpectRecoveryWithTheChange(std::chrono::milliseconds timeout) {
    proxy_->ClearFaults();
    EXPECT_EQ(NextEndpoints(timeout), 0) << "the change made during the fault was not followed\n"
                                         << tern_->process().LogTail();
    EXPECT_NE(tern_->process().Log().find(health_ + " answers again"), std::string::npos) << tern_->process().LogTail();
  }

  static testing::TempDir* dir_;
  static ConsulAgent* consul_;
  std::string svc_, health_;
  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<testing::TernServer> tern_;
  std::unique_ptr<RawXdsClient> eds_;
};

testing::TempDir* ConsulFaultsTest::dir_ = nullptr;
ConsulAgent* ConsulFaultsTest::consul_ = nullptr;

// Consul (or a proxy in front of it) sends the status line and headers, with an index, then
// nothing. Without a body deadline a blocking watch would hang for the whole wait + margin
// (~69 s): tern gives up 5 s after the last byte (ClientOptions::body_idle_timeout).
TEST_F(ConsulFaultsTest, AnAnswerThatStallsAfterItsHeadersIsAFailureAfterFiveSecondsAndNothingIsDropped) {
  ASSERT_NO_FATAL_FAILURE(Start("stall"));
  proxy_->SetFault(health_, {.forward = true, .stall_after_headers = true});
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(consul_->FailCheck("stall-1").ok());  // wakes the blocking watch: its answer stalls
  ASSERT_TRUE(AwaitReported("the answer stalled after its headers", seconds(9))) << DebugSources();
  const auto detected = std::chrono::steady_clock::now() - start;
  RecordProperty("stall_detected_ms", static_cast<int>(std::chrono::duration_cast<milliseconds>(detected).count()));
  EXPECT_GE(detected, milliseconds(4500));
  EXPECT_LT(detected, milliseconds(7500));
  const std::string sources = DebugSources();
  EXPECT_NE(sources.find(health_), std::string::npos) << sources;
  EXPECT_NE(sources.find("\"serving_last_good\": true"), std::string::npos) << sources;
  EXPECT_GE(testing::ScrapeMetrics(tern_->admin_port())[kErrors], 1);
  // Each retry stalls too: one request per 5 s, not a storm.
  EXPECT_LE(RequestsDuring(seconds(3)), 2);
  EXPECT_TRUE(eds_->Quiet(milliseconds(100))) << "nothing served changes while the answers stall";
  EXPECT_EQ(FailureReports(), 1u) << tern_->process().LogTail();
  // The request stalled when the fault clears is given up within 5 s; the next one reads.
  ExpectRecoveryWithTheChange(seconds(9));
}

// Content-Length promises more than is sent, then the connection closes.
TEST_F(ConsulFaultsTest, ATruncatedBodyIsAFailureReportedOnceAndBackedOff) {
  ASSERT_NO_FATAL_FAILURE(Start("trunc"));
  proxy_->SetFault(health_, {.forward = true, .truncate_at = 20});
  ASSERT_TRUE(consul_->FailCheck("trunc-1").ok());
  ASSERT_TRUE(AwaitReported(health_ + ": Transferred a partial file", seconds(5))) << DebugSources();
  const long during = RequestsDuring(seconds(3));
  EXPECT_GE(during, 1);
  EXPECT_LE(during, 10) << "requests in 3 s while every answer is cut short: back-off (50 ms doubling to 1 s)";
  EXPECT_TRUE(eds_->Quiet(milliseconds(100)));
  EXPECT_EQ(FailureReports(), 1u) << tern_->process().LogTail();
  EXPECT_GE(testing::ScrapeMetrics(tern_->admin_port())[kErrors], 2);
  ExpectRecoveryWithTheChange(seconds(5));
}

// Consul's answer when its servers have lost their leader (consistency mode "default").
TEST_F(ConsulFaultsTest, NoClusterLeaderIsAFailureThatKeepsTheRoutesAndIsReportedOnce) {
  ASSERT_NO_FATAL_FAILURE(Start("noleader"));
  proxy_->SetFault(health_, {.status = 500, .body = "No cluster leader"});
  ASSERT_TRUE(consul_->FailCheck("noleader-1").ok());
  ASSERT_TRUE(AwaitReported(health_ + ": HTTP 500: No cluster leader", seconds(5))) << DebugSources();
  const long during = RequestsDuring(seconds(3));
  EXPECT_GE(during, 1);
  EXPECT_LE(during, 10);
  EXPECT_TRUE(eds_->Quiet(milliseconds(100)));
  EXPECT_EQ(FailureReports(), 1u) << tern_->process().LogTail();
  const auto scrape = testing::ScrapeMetrics(tern_->admin_port());
  EXPECT_GE(scrape[kErrors], 2);
  ExpectRecoveryWithTheChange(seconds(5));
}

// A 200 with X-Consul-KnownLeader: false (a server answering without a known leader: the data may
// be stale). tern uses it — dropping routes on a possibly-stale read would be worse than serving
// it — and says so once in its log, and once that the leader is back.
TEST_F(ConsulFaultsTest, AnAnswerWithoutAKnownLeaderIsUsedAndLoggedOnce) {
  ASSERT_NO_FATAL_FAILURE(Start("stale"));
  proxy_->SetFault(health_, {.forward = true, .known_leader = "false"});
  ASSERT_TRUE(consul_->FailCheck("stale-1").ok());
  EXPECT_EQ(NextEndpoints(seconds(5)), 0) << "the answer is used";
  ASSERT_TRUE(consul_->PassCheck("stale-1").ok());
  EXPECT_EQ(NextEndpoints(seconds(5)), 1);
  EXPECT_LE(RequestsDuring(seconds(1)), 2) << "blocking as usual";
  const std::string warning = health_ + ": answered by a server that knows of no cluster leader";
  EXPECT_EQ(Count(tern_->process().Log(), warning), 1u) << tern_->process().LogTail();
  EXPECT_EQ(DebugSources().find("cluster leader"), std::string::npos) << "not a failure";
  EXPECT_GE(testing::ScrapeMetrics(tern_->admin_port())["tern_consul_leaderless_answers_total{source=\"consul\"}"], 2)
      << "counted: one answer to the failed check, one to the passed one";
  proxy_->ClearFaults();
  ASSERT_TRUE(consul_->FailCheck("stale-1").ok());
  EXPECT_EQ(NextEndpoints(seconds(5)), 0);
  EXPECT_NE(tern_->process().Log().find(health_ + ": the server knows its cluster leader again"), std::string::npos);
  EXPECT_EQ(Count(tern_->process().Log(), warning), 1u);
}

// Consul's index goes backwards (a server restored from a snapshot, a restarted dev agent): the
// documented rule is to reset to 0. The answer that went backwards is used, the next request is a
// plain read (no index), and then the watch blocks at the new, lower index: no busy loop.
TEST_F(ConsulFaultsTest, AnIndexThatGoesBackwardsIsUsedFollowedByAPlainReadAndBlockingAgain) {
  ASSERT_NO_FATAL_FAILURE(Start("reset"));
  const uint64_t current = proxy_->LastUpstreamIndex(health_);
  ASSERT_GT(current, 5u);
  // Answers from now on carry the real index minus (current - 1): the next one is ~2.
  proxy_->SetFault(health_, {.forward = true, .index_offset = current - 1});
  const size_t seen_before = proxy_->Targets(health_).size();
  ASSERT_TRUE(consul_->FailCheck("reset-1").ok());
  EXPECT_EQ(NextEndpoints(seconds(5)), 0) << "the answer whose index went backwards is used";
  std::this_thread::sleep_for(milliseconds(300));
  const auto targets = proxy_->Targets(health_);
  ASSERT_GE(targets.size(), seen_before + 2);
  // targets[seen_before - 1] is the blocking request the backwards answer came on.
  EXPECT_NE(targets[seen_before - 1].find("index="), std::string::npos) << targets[seen_before - 1];
  EXPECT_EQ(targets[seen_before].find("index="), std::string::npos)
      << "the request after a backwards index is a plain read: " << targets[seen_before];
  EXPECT_NE(targets[seen_before + 1].find("index="), std::string::npos)
      << "then it blocks again: " << targets[seen_before + 1];
  EXPECT_LE(RequestsDuring(seconds(2)), 1) << "blocking at the new index, not polling";
  ASSERT_TRUE(consul_->PassCheck("reset-1").ok());
  EXPECT_EQ(NextEndpoints(seconds(5)), 1) << "changes after the reset are followed";
  EXPECT_EQ(FailureReports(), 0u) << "a reset is not a failure";
  // The server's index jumps forward again (the fault clears): followed as well.
  proxy_->ClearFaults();
  ASSERT_TRUE(consul_->FailCheck("reset-1").ok());
  EXPECT_EQ(NextEndpoints(seconds(5)), 0);
}

// The body trickles in (four pieces 800 ms apart): slow, but moving. It is not cut (no gap reaches
// the 5 s body deadline) and its data is used.
TEST_F(ConsulFaultsTest, ASlowBodyIsWaitedForAndUsed) {
  ASSERT_NO_FATAL_FAILURE(Start("slow"));
  proxy_->SetFault(health_, {.forward = true, .trickle_chunks = 4, .trickle_gap_ms = 800});
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(consul_->FailCheck("slow-1").ok());
  EXPECT_EQ(NextEndpoints(seconds(8)), 0);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(2000)) << "the answer did trickle";
  EXPECT_EQ(FailureReports(), 0u) << tern_->process().LogTail();
  EXPECT_EQ(DebugSources().find("stalled"), std::string::npos);
  proxy_->ClearFaults();
  ASSERT_TRUE(consul_->PassCheck("slow-1").ok());
  EXPECT_EQ(NextEndpoints(seconds(5)), 1);
}

}  // namespace
}  // namespace tern
