// The status page (`GET /` on the admin port), rendered by a real browser: headless Chromium loads
// it from the real `build/tern serve`, the page's script fetches the JSON endpoints, and the test
// reads the DOM Chromium dumps — what an operator would see at 3 a.m.
//
// The story: tern serves a small files world (gateway `edge`, proxyless `greeter`) with the audit
// log on. Three Envoys are connected: edge-1 NACKs its clusters, edge-2 ACKs them, edge-3 says
// nothing yet. Then someone saves
// a broken services.yaml. The page shows the file source failing and serving the last good
// configuration with the error, the gateway and the proxyless service, the proxies with their
// per-type state (edge-1 NACKing with its error text, edge-2 in sync, edge-3 — which never
// answered its response — behind), and the audit records. The
// node id, the NACK text and the file error all carry HTML; the page shows it as text and no
// element is created from it. A screenshot is kept in build/test-artifacts/status_page.png.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/type_urls.h"
#include "integration/nomad_fake.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kNackingNode[] = "edge-1 <b>bold</b>";
constexpr char kNackText[] = "cluster web: <img src=x onerror=alert(1)> is not acceptable";

constexpr char kGoodServices[] =
    "services:\n"
    "  - name: web\n"
    "    endpoints: [ { address: 127.0.0.1, port: 9001 } ]\n"
    "  - name: greeter\n"
    "    protocol: grpc\n"
    "    endpoints: [ { address: 127.0.0.1, port: 50061 } ]\n"
    "gateways:\n"
    "  - name: edge\n"
    "    listeners:\n"
    "      - name: http\n"
    "        protocol: http\n"
    "        address: 127.0.0.1\n"
    "        port: 10000\n"
    "        virtual_hosts:\n"
    "          - name: all\n"
    "            domains: [ \"*\" ]\n"
    "            routes:\n"
    "              - match: { prefix: / }\n"
    "                service: web\n";

// A key that is HTML: the file source's error names it.
constexpr char kBrokenServices[] =
    "services:\n"
    "  - name: web\n"
    "    \"<i>oops</i>\": 1\n"
    "    endpoints: [ { address: 127.0.0.1, port: 9001 } ]\n";

// The part of the dumped DOM inside <section id="ID">...</section>.
std::string Section(const std::string& dom, const std::string& id) {
  size_t begin = dom.find("<section id=\"" + id + "\"");
  if (begin == std::string::npos) return "";
  size_t end = dom.find("</section>", begin);
  return dom.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

std::string ArtifactsDir() { return std::string(TERN_BINARY_DIR) + "/test-artifacts"; }

class StatusPageTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), kGoodServices).ok());
    StartTern({.files = {"services.yaml"}, .extra_config = "audit: { path: audit.jsonl }\n"});
  }

  nlohmann::json AdminJson(const std::string& path) {
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), path);
    if (!r.ok()) return nullptr;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    return j.is_discarded() ? nlohmann::json(nullptr) : j;
  }

  // Polls `path` until `done` holds for its JSON; returns the last JSON seen.
  template <typename Pred>
  nlohmann::json WaitFor(const std::string& path, Pred done) {
    nlohmann::json j;
    const auto deadline = Clock::now() + seconds(15);
    while (Clock::now() < deadline) {
      j = AdminJson(path);
      if (done(j)) return j;
      std::this_thread::sleep_for(milliseconds(100));
    }
    ADD_FAILURE() << path << " never reached the expected state; last: " << j.dump(2);
    return j;
  }

  // An Envoy that asks for clusters and answers the response with an ACK, a NACK, or not at all.
  enum class Answer { kAck, kNack, kNone };
  std::unique_ptr<RawXdsClient> ConnectProxy(const std::string& node_id, Answer answer_with) {
    const bool nack = answer_with == Answer::kNack;
    auto c = std::make_unique<RawXdsClient>(tern_->xds_address(), kAdsMethod);
    const std::string cds(kClusterType);
    EXPECT_TRUE(c->Send(RawXdsClient::Request(cds, {}, "", "", "edge", node_id)));
    auto r = c->Next(seconds(10));
    EXPECT_TRUE(r.has_value()) << node_id << ": no CDS response";
    if (!r || answer_with == Answer::kNone) return c;
    auto answer = RawXdsClient::Request(cds, {}, nack ? "" : r->version_info(), r->nonce(), "edge", node_id);
    if (nack) answer.mutable_error_detail()->set_message(kNackText);
    EXPECT_TRUE(c->Send(answer));
    return c;
  }

  // Runs headless Chromium on the page with `extra` (--dump-dom or --screenshot=...); returns its stdout.
  std::string RunChromium(const std::string& extra, const std::string& label) {
    const std::string profile = dir_.File("chromium-" + label);
    std::filesystem::create_directories(profile);
    SubprocessOptions sp;
    sp.argv = {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1400,1300",
               "--user-data-dir=" + profile, "--virtual-time-budget=4000", extra,
               absl::StrCat("http://127.0.0.1:", tern_->admin_port(), "/")};
    sp.env = {{"HOME", profile}};
    sp.log_path = dir_.File("chromium-" + label + ".out");
    sp.stderr_path = dir_.File("chromium-" + label + ".err");
    auto p = Subprocess::Start(sp);
    EXPECT_TRUE(p.ok()) << p.status() << " (is chromium installed? scripts/setup.sh installs it)";
    if (!p.ok()) return "";
    auto code = (*p)->Wait(seconds(60));  // kills it by PID on timeout
    EXPECT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(code.value_or(-1), 0) << ReadFile(sp.stderr_path).value_or("");
    return (*p)->Log();
  }
};

TEST_F(StatusPageTest, ABrowserShowsSourcesGatewaysProxiesAndAuditAsText) {
  auto nacking = ConnectProxy(kNackingNode, Answer::kNack);
  auto in_sync = ConnectProxy("edge-2", Answer::kAck);
  auto behind = ConnectProxy("edge-3", Answer::kNone);
  WaitFor("/debug/proxies", [](const nlohmann::json& j) {
    int nacked = 0, acked = 0;
    for (const auto& p : j.is_array() ? j : nlohmann::json::array()) {
      const auto& c = p["types"]["cluster"];
      if (c.value("nacks", 0) == 1) ++nacked;
      if (c.value("acks", 0) >= 1) ++acked;
    }
    return nacked == 1 && acked == 1;
  });
  ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), kBrokenServices).ok());
  WaitFor("/debug/sources", [](const nlohmann::json& j) {
    return j.is_array() && !j.empty() && j[0].value("serving_last_good", false);
  });

  const std::string dom = RunChromium("--dump-dom", "dom");
  ASSERT_NE(dom.find("<title>tern status</title>"), std::string::npos) << dom.substr(0, 2000);
  SCOPED_TRACE("DOM:\n" + dom);

  // The script ran and filled every section from the JSON endpoints.
  EXPECT_NE(dom.find("<span class=\"meta\" id=\"updated\">updated "), std::string::npos);
  const std::string sources = Section(dom, "sources");
  EXPECT_NE(sources.find(">file<"), std::string::npos);
  EXPECT_NE(sources.find("failing: serving last good"), std::string::npos);
  EXPECT_NE(sources.find("&lt;i&gt;oops&lt;/i&gt;"), std::string::npos) << "the file error is not shown";
  EXPECT_NE(Section(dom, "gateways").find(">edge<"), std::string::npos);
  EXPECT_NE(Section(dom, "proxyless").find(">greeter<"), std::string::npos);

  const std::string proxies = Section(dom, "proxies");
  EXPECT_NE(proxies.find("Connected proxies (3)"), std::string::npos);
  EXPECT_NE(proxies.find(">edge-1 &lt;b&gt;bold&lt;/b&gt;<"), std::string::npos);
  EXPECT_NE(proxies.find(">edge-2<"), std::string::npos);
  EXPECT_NE(proxies.find("cluster: NACK"), std::string::npos);
  EXPECT_NE(proxies.find("cluster: in sync"), std::string::npos);
  EXPECT_NE(proxies.find(">edge-3<"), std::string::npos);
  EXPECT_NE(proxies.find("cluster: behind"), std::string::npos);
  EXPECT_NE(proxies.find("cluster NACK: cluster web: &lt;img src=x onerror=alert(1)&gt; is not acceptable"),
            std::string::npos);
  EXPECT_NE(Section(dom, "summary").find("3 proxy stream(s), 1 NACKing"), std::string::npos);
  EXPECT_NE(Section(dom, "summary").find("1 behind"), std::string::npos);

  const std::string audit = Section(dom, "audit");
  EXPECT_NE(audit.find("file: initial sync"), std::string::npos);
  EXPECT_NE(audit.find("added cluster "), std::string::npos);

  // Nothing from outside became markup.
  EXPECT_EQ(dom.find("<b>bold"), std::string::npos);
  EXPECT_EQ(dom.find("<img"), std::string::npos);
  EXPECT_EQ(dom.find("<i>oops"), std::string::npos);

  // A picture for people: build/test-artifacts/status_page.png.
  std::filesystem::create_directories(ArtifactsDir());
  const std::string png = ArtifactsDir() + "/status_page.png";
  std::filesystem::remove(png);
  RunChromium("--screenshot=" + png, "screenshot");
  auto bytes = ReadFile(png);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(bytes->size(), 20000u) << "suspiciously small screenshot";
}

// The page's own answer: no external asset, a Content-Security-Policy that allows only its own
// inline script and style, and no caching.
TEST_F(StatusPageTest, ThePageIsSelfContainedAndLockedDown) {
  auto r = HttpGet("127.0.0.1", tern_->admin_port(), "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->head.find("Content-Type: text/html; charset=utf-8"), std::string::npos) << r->head;
  EXPECT_NE(r->head.find("Content-Security-Policy: default-src 'none'; script-src 'sha256-"), std::string::npos)
      << r->head;
  EXPECT_EQ(r->head.find("unsafe-inline"), std::string::npos);
  EXPECT_NE(r->head.find("Cache-Control: no-store"), std::string::npos);
  for (const char* external : {"http://", "https://", "src=\"", "href=\"http", "@import"}) {
    EXPECT_EQ(r->body.find(external), std::string::npos) << external;
  }
}

// /debug/audit?limit=N: the last N records from the file, oldest first; lines that are not JSON
// objects are skipped; a bad limit is refused.
TEST_F(StatusPageTest, TheAuditEndpointReadsTheLastRecordsFromDisk) {
  auto all = AdminJson("/debug/audit?limit=1000");
  ASSERT_TRUE(all.is_object()) << all;
  ASSERT_GE(all["records"].size(), 1u) << all;
  // Another process appends records and garbage (the format may change; one object per line is
  // all the endpoint relies on).
  auto log = ReadFile(dir_.File("audit.jsonl"));
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(WriteFile(dir_.File("audit.jsonl"), *log + "{\"seq\": 1001, \"note\": \"a\"}\nnot json\n[1,2]\n"
                                                         "{\"seq\": 1002, \"note\": \"<b>\"}\n{\"seq\": 1003, \"cut")
                  .ok());
  auto last2 = AdminJson("/debug/audit?limit=2");
  ASSERT_TRUE(last2.is_object()) << last2;
  ASSERT_EQ(last2["records"].size(), 1u) << "only one of the last two lines is a record: " << last2;
  EXPECT_EQ(last2["records"][0]["seq"], 1002);
  EXPECT_EQ(last2["skipped_lines"], 1);
  auto last4 = AdminJson("/debug/audit?limit=4");
  ASSERT_EQ(last4["records"].size(), 2u) << last4;
  EXPECT_EQ(last4["records"][0]["seq"], 1001);
  EXPECT_EQ(last4["records"][1]["seq"], 1002);
  EXPECT_EQ(last4["skipped_lines"], 2);

  for (const char* bad : {"0", "-1", "1001", "ten", ""}) {
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), std::string("/debug/audit?limit=") + bad);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_NE(r->body.find("limit must be an integer from 1 to 1000"), std::string::npos) << r->body;
  }
}

// A Nomad that refuses the event stream (403): tern serves from blocking queries, and the page
// shows the Nomad source as degraded (amber, the reason in the tooltip), not as failing.
class StatusPageNomadTest : public StatusPageTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(Started(FakeNomad::Start(dir_.path()), &nomad_));
    ASSERT_TRUE(nomad_->StreamFault("forbidden").ok());
    auto d = nomad_->SubmitJob({.id = "web", .groups = {{.name = "frontend", .count = 1}}});
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_TRUE(nomad_->PlaceAlloc("a0", "web", "frontend", "greeter", 40000).ok());
    StartTern({.extra_config = absl::StrCat("nomad:\n  address: \"", nomad_->address(), "\"\n")});
  }
  std::unique_ptr<FakeNomad> nomad_;
};

TEST_F(StatusPageNomadTest, ANomadWithoutItsEventStreamIsShownDegradedNotFailing) {
  WaitFor("/debug/sources", [](const nlohmann::json& j) {
    for (const auto& s : j.is_array() ? j : nlohmann::json::array()) {
      if (s.value("name", "") == "nomad" && s.value("synced", false) && !s.value("degraded", nlohmann::json::array()).empty()) {
        return true;
      }
    }
    return false;
  });
  const std::string dom = RunChromium("--dump-dom", "dom");
  SCOPED_TRACE("DOM:\n" + dom);
  const std::string sources = Section(dom, "sources");
  EXPECT_NE(sources.find(">nomad<"), std::string::npos);
  EXPECT_NE(sources.find("class=\"warn nowrap\""), std::string::npos);
  EXPECT_NE(sources.find("degraded: event stream"), std::string::npos);
  const size_t tooltip = sources.find("title=\"event stream: falling back to blocking queries: ");
  ASSERT_NE(tooltip, std::string::npos) << "the reason is not in the tooltip";
  EXPECT_NE(sources.find("HTTP 403: Permission denied", tooltip), std::string::npos);
  EXPECT_EQ(sources.find("failing"), std::string::npos);
  EXPECT_NE(Section(dom, "summary").find("0 failing"), std::string::npos);
}

}  // namespace
}  // namespace tern::testing
