// Nomad's event stream as the Nomad source's trigger, end to end: tern-fake-nomad (Nomad's
// documented event stream: NDJSON frames, heartbeats, resume by index), the real `tern serve`
// and a raw ADS client watching greeter's endpoints.
//
// The stories: with the stream live a change reaches the client within 500 ms while no per-service
// or per-job query is held; a stream cut mid-frame makes tern fall back to blocking queries without
// losing the change made while the stream is down, and the stream's return makes changes fast
// again; a stream Nomad refuses (403) or that answers garbage is reported once as a degraded
// state (not a failure: nothing is stale), everything is served from blocking queries, and the
// stream is asked for again at a bounded pace; Nomad down
// costs a bounded number of requests per second; `nomad.event_stream: false` never asks for it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "integration/nomad_fake.h"
#include "support/process.h"
#include "support/prometheus_text.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kJob[] = "web";
constexpr char kGroup[] = "frontend";
constexpr char kStream[] = "/v1/event/stream";
constexpr char kLive[] = "live: reads on demand";
constexpr char kFallingBack[] = "falling back to blocking queries";
constexpr char kDegradedSeries[] = "tern_nomad_degraded{source=\"nomad\"}";

// The source's reports in tern's log of the stream falling back that say `what` (the warning a
// degraded part of a source gets once per distinct reason).
size_t Reports(const std::string& log, const std::string& what) {
  size_t n = 0;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const std::string_view line(log.data() + start, end - start);
    n += line.find(what) != std::string_view::npos &&
         line.find("(degraded; the data stays current)") != std::string_view::npos;
    start = end + 1;
  }
  return n;
}

class NomadEventStreamTest : public TernTest {
 protected:
  NomadEventStreamTest() { show_sources_on_failure_ = true; }

  // The fake with heartbeats every 200 ms (Nomad: 10 s) so that a stream is live at once, and
  // job web (group frontend) with `allocs` running allocations serving greeter.
  void StartNomad(int allocs) {
    ASSERT_NO_FATAL_FAILURE(Started(FakeNomad::Start(dir_.path(), FakeNomadOptions{.heartbeat_ms = 200}), &nomad_));
    auto d = nomad_->SubmitJob({.id = kJob, .groups = {{.name = kGroup, .count = allocs}}});
    ASSERT_TRUE(d.ok()) << d.status();
    for (int i = 0; i < allocs; ++i) Place("a" + std::to_string(i));
  }
  void Place(const std::string& alloc) {
    auto placed = nomad_->PlaceAlloc(alloc, kJob, kGroup, "greeter", 40000 + next_port_++);
    ASSERT_TRUE(placed.ok()) << placed.status();
  }

  void StartTern(const std::string& nomad_extra = "") {
    TernTest::StartTern(
        {.extra_config = absl::StrCat("nomad:\n  address: \"", nomad_->address(), "\"\n", nomad_extra)});
  }

  bool SourcesSay(const std::string& text) { return Admin("/debug/sources").find(text) != std::string::npos; }
  // The Nomad source's entry in /debug/sources (null when it cannot be read).
  nlohmann::json NomadStatus() {
    auto j = nlohmann::json::parse(Admin("/debug/sources"), nullptr, false);
    if (j.is_object() && j.contains("sources")) j = j["sources"];
    if (!j.is_array()) return nullptr;
    for (const auto& s : j) {
      if (s.is_object() && s.value("name", "") == "nomad") return s;
    }
    return nullptr;
  }
  // details["event stream"]: the stream's state as the operator sees it.
  std::string Stream() {
    auto s = NomadStatus();
    if (!s.is_object() || !s.contains("details") || !s["details"].contains("event stream")) return "";
    return s["details"]["event stream"].get<std::string>();
  }
  bool StreamLive() { return Stream().rfind(kLive, 0) == 0; }
  bool StreamFallingBack() { return Stream().rfind(kFallingBack, 0) == 0; }
  // The stream's fall back as the operator sees it: listed under `degraded` (with the reason),
  // never among the failing endpoints, never `serving_last_good` (blocking queries keep the data
  // current), and counted by the tern_nomad_degraded gauge. "" when it is reported so
  // consistently; otherwise what is wrong.
  std::string StreamReportedDegraded() {
    auto s = NomadStatus();
    if (!s.is_object()) return "no nomad source in /debug/sources";
    bool listed = false;
    for (const auto& d : s.value("degraded", nlohmann::json::array())) {
      listed |= d.value("subject", "") == "event stream" && d.value("reason", "").rfind(kFallingBack, 0) == 0;
    }
    if (!listed) return "the stream is not listed under degraded";
    for (const auto& f : s.value("failing_endpoints", nlohmann::json::array())) {
      if (f.value("endpoint", "") == "nomad /v1/event/stream") return "the stream is listed as failing";
    }
    if (s.value("serving_last_good", true)) return "serving_last_good";
    if (ScrapeMetrics(tern_->admin_port())[kDegradedSeries] != 1) return "tern_nomad_degraded is not 1";
    return "";
  }
  // Nothing is listed under `degraded` and the gauge says 0.
  bool NothingDegraded() {
    auto s = NomadStatus();
    return s.is_object() && s.value("degraded", nlohmann::json::array({nullptr})).empty() &&
           ScrapeMetrics(tern_->admin_port())[kDegradedSeries] == 0;
  }
  // These stories time changes in hundreds of milliseconds: poll every 10 ms.
  static bool WaitFor(const std::function<bool()>& pred, milliseconds timeout) {
    return testing::WaitFor(pred, timeout, milliseconds(10));
  }

  // Subscribes to greeter's endpoints; the count of the first answer.
  int Subscribe() {
    eds_ = std::make_unique<RawXdsClient>(tern_->xds_address(), kAdsMethod);
    EXPECT_TRUE(eds_->Send(RawXdsClient::Request(kEndpointTypeUrl, {"greeter"})));
    auto first = eds_->Next(seconds(10));
    if (!first) return -1;
    Ack(*first);
    return EndpointCount(*first);
  }
  void Ack(const DiscoveryResponse& r) {
    EXPECT_TRUE(eds_->Send(RawXdsClient::Request(kEndpointTypeUrl, {"greeter"}, r.version_info(), r.nonce())));
  }
  // Milliseconds from `since` until greeter has `endpoints` endpoints on the client (-1: not
  // within `timeout`). Every push is acknowledged.
  long EndpointsWithin(int endpoints, Clock::time_point since, milliseconds timeout) {
    const auto deadline = since + timeout;
    while (Clock::now() < deadline) {
      auto r = eds_->Next(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()) + milliseconds(1));
      if (!r) break;
      Ack(*r);
      if (EndpointCount(*r) == endpoints) return Ms(Clock::now() - since);
    }
    return -1;
  }

  std::unique_ptr<FakeNomad> nomad_;
  std::unique_ptr<RawXdsClient> eds_;
  int next_port_ = 0;
};

TEST_F(NomadEventStreamTest, WithTheStreamLiveAChangeReachesTheClientWithin500msAndOnlyTheListQueryIsHeld) {
  ASSERT_NO_FATAL_FAILURE(StartNomad(2));
  ASSERT_NO_FATAL_FAILURE(StartTern());
  ASSERT_EQ(Subscribe(), 2);
  ASSERT_TRUE(WaitFor([&] { return StreamLive(); }, seconds(10))) << Admin("/debug/sources");

  // A new allocation registers greeter: the Service and Allocation events trigger the reads.
  auto start = Clock::now();
  Place("a2");
  long placed = EndpointsWithin(3, start, seconds(5));
  std::cerr << "new registration: on the client after " << placed << " ms\n";
  ASSERT_GE(placed, 0);
  EXPECT_LE(placed, 500);

  // An allocation stops (its registration goes with it).
  start = Clock::now();
  ASSERT_TRUE(nomad_->StopAlloc("a0").ok());
  long stopped = EndpointsWithin(2, start, seconds(5));
  std::cerr << "allocation stopped: off the client after " << stopped << " ms\n";
  ASSERT_GE(stopped, 0);
  EXPECT_LE(stopped, 500);

  // Bounded connections: of tern's blocking queries only the list's is held (a stale one of a
  // watch tern dropped counts until the next change wakes it: there was one just now).
  EXPECT_TRUE(WaitFor([&] { return nomad_->Stat("held") == 1; }, seconds(5))) << nomad_->Stat("held");
  EXPECT_EQ(nomad_->Stat("streams"), 1);
  EXPECT_TRUE(StreamLive()) << Admin("/debug/sources");
  EXPECT_TRUE(NothingDegraded()) << Admin("/debug/sources");
}

TEST_F(NomadEventStreamTest, AStreamCutMidFrameFallsBackToBlockingQueriesWithoutLosingAChangeAndComesBack) {
  ASSERT_NO_FATAL_FAILURE(StartNomad(1));
  ASSERT_NO_FATAL_FAILURE(StartTern());
  ASSERT_EQ(Subscribe(), 1);
  ASSERT_TRUE(WaitFor([&] { return StreamLive(); }, seconds(10))) << Admin("/debug/sources");

  // The stream is cut in the middle of a frame, and Nomad refuses it for a while after.
  ASSERT_TRUE(nomad_->StreamFault("forbidden").ok());
  ASSERT_TRUE(nomad_->StreamFault("cut").ok());
  ASSERT_TRUE(WaitFor([&] { return StreamFallingBack(); }, seconds(5))) << Admin("/debug/sources");
  EXPECT_EQ(StreamReportedDegraded(), "") << Admin("/debug/sources");
  EXPECT_TRUE(WaitFor([&] { return Reports(tern_->process().Log(), "truncated frame") == 1; }, seconds(2)))
      << tern_->process().LogTail(4000);
  // Every watch is a blocking query again: the list, greeter and the job's three.
  EXPECT_TRUE(WaitFor([&] { return nomad_->Stat("held") >= 5; }, seconds(5))) << nomad_->Stat("held");

  // A change while the stream is down still arrives.
  auto start = Clock::now();
  Place("a1");
  long while_down = EndpointsWithin(2, start, seconds(5));
  std::cerr << "change while the stream is down: on the client after " << while_down << " ms\n";
  ASSERT_GE(while_down, 0) << "the change made while the stream was down was lost";

  // The stream is back: live again (a resync), and changes are fast again.
  ASSERT_TRUE(nomad_->StreamFault("none").ok());
  ASSERT_TRUE(WaitFor([&] { return StreamLive(); }, seconds(15))) << Admin("/debug/sources");
  EXPECT_TRUE(NothingDegraded()) << "recovered: no longer reported\n" << Admin("/debug/sources");
  start = Clock::now();
  Place("a2");
  long after = EndpointsWithin(3, start, seconds(5));
  std::cerr << "change after the stream is back: on the client after " << after << " ms\n";
  ASSERT_GE(after, 0);
  EXPECT_LE(after, 500);
}

TEST_F(NomadEventStreamTest, AStreamNomadRefusesIsReportedOnceServedFromBlockingQueriesAndAskedForAtABoundedPace) {
  ASSERT_NO_FATAL_FAILURE(StartNomad(1));
  ASSERT_TRUE(nomad_->StreamFault("forbidden").ok());
  ASSERT_NO_FATAL_FAILURE(StartTern());
  ASSERT_EQ(Subscribe(), 1);
  ASSERT_TRUE(WaitFor([&] { return SourcesSay("HTTP 403: Permission denied"); }, seconds(10)))
      << Admin("/debug/sources");
  EXPECT_TRUE(StreamFallingBack()) << Admin("/debug/sources");
  EXPECT_EQ(StreamReportedDegraded(), "") << Admin("/debug/sources");
  // Counted as an error of the source.
  EXPECT_GE(ScrapeMetrics(tern_->admin_port())["tern_nomad_errors_total{source=\"nomad\"}"], 1);

  // Served from blocking queries.
  auto start = Clock::now();
  Place("a1");
  ASSERT_GE(EndpointsWithin(2, start, seconds(5)), 0) << "a change while the stream is refused was lost";

  // Asked for again with backoff (up to 5 s apart), not in a loop.
  std::this_thread::sleep_for(seconds(4));
  const long before = nomad_->PathRequests(kStream);
  std::this_thread::sleep_for(seconds(5));
  const long asked = nomad_->PathRequests(kStream) - before;
  std::cerr << "refused stream: asked for " << asked << " times in 5 s (" << nomad_->PathRequests(kStream)
            << " in all)\n";
  EXPECT_GE(asked, 1);
  EXPECT_LE(asked, 4) << "stream requests in 5 s";
  // Reported once, however many times it was refused.
  EXPECT_GE(nomad_->PathRequests(kStream), 6);
  EXPECT_EQ(Reports(tern_->process().Log(), "HTTP 403: Permission denied"), 1u) << tern_->process().LogTail(4000);
}

TEST_F(NomadEventStreamTest, AStreamAnsweringGarbageIsReportedOnceAndServedFromBlockingQueries) {
  ASSERT_NO_FATAL_FAILURE(StartNomad(1));
  ASSERT_TRUE(nomad_->StreamFault("garbage").ok());
  ASSERT_NO_FATAL_FAILURE(StartTern());
  ASSERT_EQ(Subscribe(), 1);
  ASSERT_TRUE(WaitFor([&] { return SourcesSay("line 1 (byte 0)"); }, seconds(10))) << Admin("/debug/sources");
  EXPECT_TRUE(StreamFallingBack()) << Admin("/debug/sources");
  EXPECT_EQ(StreamReportedDegraded(), "") << Admin("/debug/sources");

  auto start = Clock::now();
  Place("a1");
  ASSERT_GE(EndpointsWithin(2, start, seconds(5)), 0) << "a change while the stream is unusable was lost";

  std::this_thread::sleep_for(seconds(4));
  const long before = nomad_->PathRequests(kStream);
  std::this_thread::sleep_for(seconds(5));
  const long asked = nomad_->PathRequests(kStream) - before;
  std::cerr << "garbage stream: asked for " << asked << " times in 5 s\n";
  EXPECT_LE(asked, 4) << "stream requests in 5 s";
  EXPECT_EQ(Reports(tern_->process().Log(), "line 1 (byte 0)"), 1u) << tern_->process().LogTail(4000);

  // Nomad answers well again: live.
  ASSERT_TRUE(nomad_->StreamFault("none").ok());
  EXPECT_TRUE(WaitFor([&] { return StreamLive(); }, seconds(15))) << Admin("/debug/sources");
  EXPECT_TRUE(NothingDegraded()) << Admin("/debug/sources");
}

TEST_F(NomadEventStreamTest, AnIndexThatGoesBackwardsIsAFallBackAndTheStreamStartsOverFromTheList) {
  ASSERT_NO_FATAL_FAILURE(StartNomad(1));
  ASSERT_NO_FATAL_FAILURE(StartTern());
  ASSERT_EQ(Subscribe(), 1);
  ASSERT_TRUE(WaitFor([&] { return StreamLive(); }, seconds(10))) << Admin("/debug/sources");
  auto start = Clock::now();
  Place("a1");  // a frame above the oldest one Nomad holds
  ASSERT_GE(EndpointsWithin(2, start, seconds(5)), 0);

  // The stream sends a frame below one it sent already (Nomad's state went back).
  ASSERT_TRUE(nomad_->StreamFault("rewind").ok());
  ASSERT_TRUE(WaitFor([&] { return Reports(tern_->process().Log(), "index went backwards") == 1; }, seconds(5)))
      << tern_->process().LogTail(4000);
  // Everything read again, the stream asked for from the list's index, live again.
  ASSERT_TRUE(WaitFor([&] { return StreamLive(); }, seconds(10))) << Admin("/debug/sources");
  start = Clock::now();
  Place("a2");
  long after = EndpointsWithin(3, start, seconds(5));
  ASSERT_GE(after, 0);
  EXPECT_LE(after, 500);
  EXPECT_EQ(Reports(tern_->process().Log(), "index went backwards"), 1u);
}

TEST_F(NomadEventStreamTest, NomadDownCostsABoundedNumberOfRequestsPerSecond) {
  ASSERT_NO_FATAL_FAILURE(StartNomad(2));
  ASSERT_NO_FATAL_FAILURE(StartTern());
  ASSERT_EQ(Subscribe(), 2);
  ASSERT_TRUE(WaitFor([&] { return StreamLive(); }, seconds(10))) << Admin("/debug/sources");

  nomad_->process().Kill();
  ASSERT_TRUE(WaitFor([&] { return StreamFallingBack(); }, seconds(5))) << Admin("/debug/sources");
  const std::string series = "tern_nomad_requests_total{source=\"nomad\"}";
  std::this_thread::sleep_for(seconds(3));  // the backoffs reach their ceilings
  const double before = ScrapeMetrics(tern_->admin_port())[series];
  std::this_thread::sleep_for(seconds(4));
  const double made = ScrapeMetrics(tern_->admin_port())[series] - before;
  std::cerr << "Nomad down: " << made << " requests in 4 s\n";
  // The list, greeter, the job's three, two allocations' checks: 7 paths retried every 0.5–1 s
  // (backoff_max 1 s, jittered), the stream every 2.5–5 s: at most about 60 in 4 s (measured:
  // about 40); a loop would be thousands.
  EXPECT_GE(made, 4);
  EXPECT_LE(made, 60) << "requests to a Nomad that is down, in 4 s";
  EXPECT_TRUE(eds_->Quiet(milliseconds(200))) << "what is served stays";
}

TEST_F(NomadEventStreamTest, WithTheStreamTurnedOffTernNeverAsksForItAndChangesStillArrive) {
  ASSERT_NO_FATAL_FAILURE(StartNomad(1));
  ASSERT_NO_FATAL_FAILURE(StartTern("  event_stream: false\n"));
  ASSERT_EQ(Subscribe(), 1);
  ASSERT_EQ(Stream(), "off (nomad.event_stream: false): blocking queries") << Admin("/debug/sources");
  auto start = Clock::now();
  Place("a1");
  long placed = EndpointsWithin(2, start, seconds(5));
  ASSERT_GE(placed, 0);
  EXPECT_EQ(nomad_->PathRequests(kStream), 0);
  EXPECT_TRUE(WaitFor([&] { return nomad_->Stat("held") >= 5; }, seconds(5)))
      << "blocking queries: the list, greeter and the job's three; held: " << nomad_->Stat("held");
}

}  // namespace
}  // namespace tern::testing
