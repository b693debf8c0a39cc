// Issue 12, item 3: the wall clock jumps. tern runs under libfaketime (Debian package `faketime`,
// LD_PRELOAD=libfaketimeMT.so.1) with its offset read from a file on every call, so the test can
// move tern's wall clock (CLOCK_REALTIME, i.e. std::chrono::system_clock) days forward and back
// while it serves. CLOCK_MONOTONIC is left alone (FAKETIME_DONT_FAKE_MONOTONIC=1), as on a real
// host where NTP or an operator steps the wall clock. Consul is not faked: tern's clock disagrees
// with Consul's, which is what a stepped or skewed host clock looks like to tern.
//
// After each jump: a change made in Consul reaches the xDS client, tern's requests to Consul (the
// Connect leaf of a TLS gateway included: its refresh time is computed from the wall clock) stay
// at their idle rate, and tern's CPU stays at its idle level.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "consul_agent.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "support/fault_proxy.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ConsulAgent;
using testing::RawXdsClient;

constexpr const char* kAds = testing::kAdsMethod;
constexpr const char* kEndpoint = testing::kEndpointTypeUrl;
constexpr char kLibFaketime[] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
constexpr char kLeafPath[] = "/v1/agent/connect/ca/leaf/edge";

int Endpoints(const testing::DiscoveryResponse& r) { return testing::EndpointCount(r); }

// utime + stime of `pid`, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream f(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; f >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

TEST(ClockJumpTest, TheWallClockJumpingDaysForwardAndBackKeepsServingWithoutBusyLoopOrRefetchStorm) {
  if (access(kLibFaketime, R_OK) != 0) GTEST_SKIP() << kLibFaketime << " missing: apt-get install faketime";
  testing::TempDir dir;
  auto c = ConsulAgent::Start(dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  auto& consul = *c;
  ASSERT_TRUE(consul->PutConfig(R"({"Kind":"proxy-defaults","Name":"global","Config":{"protocol":"http"}})").ok());
  ASSERT_TRUE(consul->Register("web", "web-1", 23001).ok());
  // TLS on the gateway: tern watches its Connect leaf and refreshes it 2/3 through its lifetime
  // (Consul's default: 72 h), computed with the wall clock.
  ASSERT_TRUE(consul->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge","TLS":{"Enabled":true},
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"*"}]}]})").ok());
  testing::FaultProxy proxy(consul->address());

  const std::string rc = dir.File("faketime.rc");
  auto set_offset = [&](const std::string& offset) {
    std::ofstream out(rc, std::ios::trunc);
    out << offset << "\n";
  };
  set_offset("+0");
  auto tern = testing::TernServer::Start(
      {.dir = dir.path(),
       .extra_config = absl::StrCat("consul: { address: \"", proxy.address(), "\", watch: per-service }\n"),
       .env = {{"LD_PRELOAD", kLibFaketime},
               {"FAKETIME_TIMESTAMP_FILE", rc},
               {"FAKETIME_NO_CACHE", "1"},
               {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}}});
  ASSERT_TRUE(tern.ok()) << tern.status();
  const pid_t pid = (*tern)->process().pid();

  RawXdsClient eds((*tern)->xds_address(), kAds);
  ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {"web.default.dc1"})));
  auto first = eds.Next(seconds(10));
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(Endpoints(*first), 1);
  ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {"web.default.dc1"}, first->version_info(), first->nonce())));
  ASSERT_GE(proxy.Requests(kLeafPath), 1) << "the gateway's leaf is watched";

  struct Window {
    long requests, leaf_requests;
    double cpu;
  };
  auto window = [&](std::chrono::milliseconds length) {
    const long r0 = proxy.Requests("/v1/"), l0 = proxy.Requests(kLeafPath);
    const double c0 = CpuSeconds(pid);
    std::this_thread::sleep_for(length);
    return Window{proxy.Requests("/v1/") - r0, proxy.Requests(kLeafPath) - l0, CpuSeconds(pid) - c0};
  };
  const Window idle = window(seconds(2));
  RecordProperty("idle_requests_2s", static_cast<int>(idle.requests));

  bool passing = true;
  for (const std::string offset : {"+3d", "-2d", "+0"}) {
    SCOPED_TRACE("wall clock offset " + offset);
    set_offset(offset);
    std::this_thread::sleep_for(milliseconds(500));
    // Still following Consul.
    passing = !passing;
    ASSERT_TRUE((passing ? consul->PassCheck("web-1") : consul->FailCheck("web-1")).ok());
    auto pushed = eds.Next(seconds(5));
    ASSERT_TRUE(pushed.has_value()) << "a change after the jump was not followed\n" << (*tern)->process().LogTail();
    EXPECT_EQ(Endpoints(*pushed), passing ? 1 : 0);
    ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {"web.default.dc1"}, pushed->version_info(), pushed->nonce())));
    // ... and quiet again: no refetch storm, no busy loop.
    const Window after = window(seconds(3));
    RecordProperty("requests_3s_at_" + offset, static_cast<int>(after.requests));
    RecordProperty("cpu_ms_3s_at_" + offset, static_cast<int>(after.cpu * 1000));
    EXPECT_LE(after.requests, idle.requests + 4) << "requests to Consul in 3 s after the jump (idle: "
                                                  << idle.requests << " in 2 s)";
    // The leaf's refresh time (2/3 of its lifetime) is wall-clock time: 3 days ahead it has passed,
    // and tern fetches the leaf again once (a plain read, then its blocking query); Consul's agent,
    // whose clock did not move, hands back the same leaf. Not a loop.
    EXPECT_LE(after.leaf_requests, 2) << "Connect leaf fetches in 3 s after the jump\n" << (*tern)->process().LogTail(3000);
    // Not checked after a backward jump: libfaketime fakes what clock_gettime returns but not the
    // kernel's clock for absolute FUTEX_CLOCK_REALTIME timeouts, so a timed wait computed from the
    // faked (earlier) time has already expired in the kernel's eyes and returns at once — gRPC's
    // callback-CQ "nexting_thread" then spins (strace: futex(..FUTEX_CLOCK_REALTIME, <past>) =
    // ETIMEDOUT in a loop). A real step moves both clocks together. docs/reliability.md.
    if (offset[0] != '-') {
      EXPECT_LT(after.cpu, 0.6) << "tern's CPU seconds in 3 s after the jump";
    }
  }
  // The jumps did reach tern: its log lines are stamped with the faked dates.
  const std::string log = (*tern)->process().Log();
  const auto stamp = [](std::chrono::hours shift) {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + shift);
    char buf[16];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d", std::localtime(&t));
    return std::string(buf);
  };
  EXPECT_NE(log.find(stamp(std::chrono::hours(72))), std::string::npos) << "no log line dated 3 days ahead";
  EXPECT_NE(log.find(stamp(std::chrono::hours(-48))), std::string::npos) << "no log line dated 2 days back";
  size_t refetches = 0;
  for (size_t p = 0; (p = log.find("2/3 through its lifetime; fetching it again", p)) != std::string::npos; ++p) refetches++;
  RecordProperty("leaf_refetches", static_cast<int>(refetches));
  EXPECT_LE(refetches, 2u) << "Connect leaf refetches over the whole run";
  EXPECT_TRUE((*tern)->process().Running());
}

// Bytes `pid` has read (rchar of /proc/PID/io).
long BytesRead(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  long value = -1;
  while (in >> key >> value) {
    if (key == "rchar:") return value;
  }
  return -1;
}

// The file source after the wall clock is stepped back a day: services.yaml was written before
// the step, so its mtime is a day "in the future". It used to count as just written (the racy
// window: a file modified less than 2 s ago is re-read on every poll), and was re-read every
// 200 ms until the clock caught up. Here libfaketime leaves stat() alone (NO_FAKE_STAT=1): the
// mtime is the kernel's, as after a real step.
TEST(ClockJumpTest, FilesWrittenBeforeTheWallClockSteppedBackAreNotReReadOnEveryPoll) {
  if (access(kLibFaketime, R_OK) != 0) GTEST_SKIP() << kLibFaketime << " missing: apt-get install faketime";
  testing::TempDir dir;
  auto services = [&](int web_endpoints) {
    std::string y = "services:\n";
    for (int i = 0; i < 600; ++i) {
      y += "  - name: " + (i == 0 ? std::string("web") : "svc-" + std::to_string(i)) + "\n    endpoints:\n";
      const int n = i == 0 ? web_endpoints : 8;
      for (int p = 0; p < n; ++p) y += "      - { address: 10.0." + std::to_string(i % 250) + ".1, port: " + std::to_string(8000 + p) + " }\n";
    }
    const std::string tmp = dir.File("services.yaml.tmp");
    std::ofstream(tmp) << y;
    ASSERT_EQ(std::rename(tmp.c_str(), dir.File("services.yaml").c_str()), 0);
  };
  services(1);
  const std::string rc = dir.File("faketime.rc");
  std::ofstream(rc) << "+0\n";
  auto tern = testing::TernServer::Start({.dir = dir.path(),
                                          .files = {"services.yaml"},
                                          .env = {{"LD_PRELOAD", kLibFaketime},
                                                  {"FAKETIME_TIMESTAMP_FILE", rc},
                                                  // Re-read once a second, not on every call: the
                                                  // bytes tern reads are measured below.
                                                  {"FAKETIME_CACHE_DURATION", "1"},
                                                  {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
                                                  {"NO_FAKE_STAT", "1"}}});
  ASSERT_TRUE(tern.ok()) << tern.status();
  const pid_t pid = (*tern)->process().pid();
  RawXdsClient eds((*tern)->xds_address(), kAds);
  ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {"web"})));
  auto first = eds.Next(seconds(10));
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(Endpoints(*first), 1);
  ASSERT_TRUE(eds.Send(RawXdsClient::Request(kEndpoint, {"web"}, first->version_info(), first->nonce())));
  struct stat sb;
  ASSERT_EQ(::stat(dir.File("services.yaml").c_str(), &sb), 0);
  const long file_bytes = static_cast<long>(sb.st_size);
  ASSERT_GT(file_bytes, 200000);
  std::this_thread::sleep_for(milliseconds(2500));  // out of the racy window

  auto read_during = [&](std::chrono::milliseconds window) {
    const long r0 = BytesRead(pid);
    std::this_thread::sleep_for(window);
    return BytesRead(pid) - r0;
  };
  const long idle = read_during(seconds(2));
  std::ofstream(rc, std::ios::trunc) << "-1d\n";
  std::this_thread::sleep_for(milliseconds(1500));  // FAKETIME_CACHE_DURATION
  const long stepped_back = read_during(seconds(2));
  RecordProperty("bytes_read_2s_idle", static_cast<int>(idle));
  RecordProperty("bytes_read_2s_after_step_back", static_cast<int>(stepped_back));
  // Ten polls in 2 s: re-reading would be ~10 × the file.
  EXPECT_LT(stepped_back, file_bytes) << "services.yaml (" << file_bytes << " bytes) is re-read after the step (idle: "
                                      << idle << " bytes in 2 s)";
  // A write after the step is still seen (its mtime is now, not the old one).
  services(2);
  auto pushed = eds.Next(seconds(5));
  ASSERT_TRUE(pushed.has_value()) << "a file written after the step was not read\n" << (*tern)->process().LogTail();
  EXPECT_EQ(Endpoints(*pushed), 2);
}

}  // namespace
}  // namespace tern
