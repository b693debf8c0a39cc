// Issue 12, item 3, for the Nomad source: Nomad (tern-fake-nomad) behind the fault proxy answers
// with its headers and then stalls. The Nomad source shares the Consul source's blocking client,
// so the same body deadline applies: the stall is a failure after 5 s, reported naming the
// endpoint, what is served stays, and the change made meanwhile arrives once the fault clears.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "nomad_fake.h"
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
using testing::RawXdsClient;

constexpr const char* kAds = testing::kAdsMethod;
constexpr const char* kEndpoint = testing::kEndpointTypeUrl;
constexpr char kPath[] = "/v1/service/greeter";

int Endpoints(const testing::DiscoveryResponse& r) { return testing::EndpointCount(r); }

TEST(NomadFaultsTest, AnAnswerThatStallsAfterItsHeadersIsAFailureAfterFiveSecondsAndTheChangeFollowsLater) {
  testing::TempDir dir;
  auto nomad = testing::FakeNomad::Start(dir.path());
  ASSERT_TRUE(nomad.ok()) << nomad.status();
  ASSERT_TRUE((*nomad)->Register("alloc-a", "greeter", 50001).ok());
  testing::FaultProxy proxy((*nomad)->address(), "X-Nomad-Index");
  auto tern = testing::TernServer::Start(
      {.dir = dir.path(), .extra_config = absl::StrCat("nomad:\n  address: \"", proxy.address(), "\"\n")});
  ASSERT_TRUE(tern.ok()) << tern.status();

  RawXdsClient eds((*tern)->xds_address(), kAds);
  ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {"greeter"})));
  auto first = eds.Next(seconds(10));
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(Endpoints(*first), 1);
  ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {"greeter"}, first->version_info(), first->nonce())));
  auto blocking = [&] {
    auto t = proxy.Targets(kPath);
    return !t.empty() && t.back().find("index=") != std::string::npos;
  };
  for (int i = 0; i < 250 && !blocking(); ++i) std::this_thread::sleep_for(milliseconds(20));
  ASSERT_TRUE(blocking()) << "the service's watch is not blocking on the proxy";

  proxy.SetFault(kPath, {.forward = true, .stall_after_headers = true});
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*nomad)->Register("alloc-c", "greeter", 50003).ok());  // wakes the watch: its answer stalls
  std::string sources;
  for (auto end = start + seconds(9); std::chrono::steady_clock::now() < end;) {
    auto r = testing::HttpGet("127.0.0.1", (*tern)->admin_port(), "/debug/sources");
    sources = r.ok() ? r->body : "";
    if (sources.find("the answer stalled after its headers") != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  const auto detected = std::chrono::steady_clock::now() - start;
  ASSERT_NE(sources.find("the answer stalled after its headers"), std::string::npos) << sources;
  EXPECT_NE(sources.find(kPath), std::string::npos) << sources;
  EXPECT_GE(detected, milliseconds(4500));
  EXPECT_LT(detected, milliseconds(7500));
  EXPECT_GE(testing::ScrapeMetrics((*tern)->admin_port())["tern_nomad_errors_total{source=\"nomad\"}"], 1);
  const long before = proxy.Requests(kPath);
  std::this_thread::sleep_for(seconds(3));
  EXPECT_LE(proxy.Requests(kPath) - before, 2) << "each retry stalls for 5 s: no storm";
  EXPECT_TRUE(eds.Quiet(milliseconds(100))) << "nothing served changes while the answers stall";

  proxy.ClearFaults();
  auto pushed = eds.Next(seconds(9));
  ASSERT_TRUE(pushed.has_value()) << "the change made during the stall was not followed\n"
                                  << (*tern)->process().LogTail();
  EXPECT_EQ(Endpoints(*pushed), 2);
}

}  // namespace
}  // namespace tern
