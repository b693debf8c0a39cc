// tern's /metrics as an operator's Prometheus sees it, through the real `build/tern serve`: raw xDS
// clients (state of the world and delta) that ACK, NACK and send garbage, file edits and a
// malformed file move the series docs/operations.md documents; `promtool check metrics` accepts the
// exposition; a real Prometheus server scrapes tern and answers PromQL with tern's series and labels;
// the alerting rules in deploy/prometheus pass `promtool check rules` and their unit tests; and every
// metric the Grafana dashboard in deploy/grafana uses exists on a running tern.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/type_urls.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/prometheus_text.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kDeltaAds[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
const std::string kCds(kClusterType);

std::string SourceDir() { return TERN_SOURCE_DIR; }

// The services tern serves, one HTTP service per name, each routed by the `edge` gateway under
// /NAME: adding a name adds a cluster to what an Envoy of `edge` receives.
std::string ServicesYaml(const std::vector<std::string>& names) {
  std::string services = "services:\n", routes;
  int port = 9001;
  for (const auto& n : names) {
    absl::StrAppend(&services, "  - name: ", n, "\n    protocol: http\n    endpoints: [ { address: 127.0.0.1, port: ",
                    port++, " } ]\n");
    absl::StrAppend(&routes, routes.empty() ? "" : ", ", "{ match: { prefix: /", n, " }, service: ", n, " }");
  }
  return absl::StrCat(services,
                      "gateways:\n  - name: edge\n    listeners:\n      - name: http\n        port: 10000\n"
                      "        virtual_hosts: [ { name: all, domains: [\"*\"], routes: [ ",
                      routes, " ] } ]\n");
}

class MetricsTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), ServicesYaml({"web"})).ok());
    // With an audit log, so that tern_audit_records_total has series from the first record on.
    StartTern({.files = {"services.yaml"}, .extra_config = "audit:\n  path: audit.jsonl\n"});
  }

  // Polls /metrics until `pred` holds (or 10 s pass) and returns the last scrape.
  template <typename Pred>
  Scrape AwaitMetrics(Pred pred, milliseconds timeout = seconds(10)) {
    return testing::AwaitMetrics(tern_->admin_port(), pred, timeout);
  }

  void WriteServices(const std::vector<std::string>& names) {
    ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), ServicesYaml(names)).ok());
  }

  // Opens an ADS stream for a proxy of `edge` that subscribes to every cluster, ACKs the first
  // response and returns it.
  std::optional<DiscoveryResponse> SubscribeAndAck(RawXdsClient& client) {
    if (!client.Send(RawXdsClient::Request(kCds, {}))) return std::nullopt;
    auto r = client.Next();
    if (!r) return std::nullopt;
    if (!client.Send(RawXdsClient::Request(kCds, {}, r->version_info(), r->nonce()))) return std::nullopt;
    return r;
  }

};

// The story of one Envoy: it connects and ACKs (counted, in sync, not a push); the operator adds a
// service and tern pushes it (push latency, a snapshot build, the file source's update); the proxy
// holds the push un-ACKed (out of sync), then NACKs it (NACKing, still out of sync, not converged);
// a fix is pushed and ACKed (converged, in sync again); the proxy leaves (stream gauge back).
TEST_F(MetricsTest, AnEnvoyThatAcksNacksAndConvergesMovesEveryXdsSeries) {
  const Scrape before = Metrics();
  ASSERT_EQ(before["tern_xds_acks_total{type=\"cluster\"}"], 0);

  auto client = std::make_unique<RawXdsClient>(tern_->xds_address(), kAdsMethod);
  auto first = SubscribeAndAck(*client);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->resources_size(), 1);
  // A scrape is not atomic: the stream gauges are read first, the counters rendered after, and
  // the ACK can land in between (counted, while the gauges still show the response un-ACKed).
  // Wait until both show the ACK.
  Scrape s = AwaitMetrics([](const Scrape& m) {
    return m["tern_xds_acks_total{type=\"cluster\"}"] == 1 && m["tern_xds_proxies_out_of_sync"] == 0;
  });
  EXPECT_EQ(s["tern_xds_acks_total{type=\"cluster\"}"], 1);
  EXPECT_EQ(s["tern_xds_streams{protocol=\"sotw\"}"], before["tern_xds_streams{protocol=\"sotw\"}"] + 1);
  EXPECT_EQ(s["tern_xds_streams_opened_total"], before["tern_xds_streams_opened_total"] + 1);
  EXPECT_EQ(s["tern_xds_responses_total{type=\"cluster\"}"], 1);
  EXPECT_EQ(s["tern_xds_resources_sent_total{type=\"cluster\"}"], 1);
  EXPECT_GT(s["tern_xds_response_bytes_total{type=\"cluster\"}"], first->ByteSizeLong() / 2);
  EXPECT_EQ(s["tern_xds_responses_total{type=\"listener\"}"], 0) << "only clusters were asked for";
  EXPECT_EQ(s["tern_xds_proxies_out_of_sync"], 0);
  EXPECT_EQ(s["tern_xds_oldest_unacked_seconds"], 0);
  // The answer to a subscription is not a push of a published change.
  EXPECT_EQ(s["tern_xds_push_latency_seconds_count{type=\"cluster\"}"], 0);
  EXPECT_EQ(s["tern_xds_convergence_seconds_count{type=\"cluster\"}"], 0);

  // The operator adds a service: a new snapshot is built and pushed.
  WriteServices({"web", "api"});
  auto pushed = client->Next();
  ASSERT_TRUE(pushed.has_value());
  ASSERT_EQ(pushed->resources_size(), 2);
  // The push latency is observed when the write starts, the response counted when it completes.
  // The snapshot and source series move after the push has gone out: wait for them too.
  s = AwaitMetrics([&](const Scrape& m) {
    return m["tern_xds_push_latency_seconds_count{type=\"cluster\"}"] == 1 && m["tern_xds_oldest_unacked_seconds"] > 0 &&
           m["tern_xds_responses_total{type=\"cluster\"}"] == 2 &&
           m["tern_snapshots_published_total"] == before["tern_snapshots_published_total"] + 1 &&
           m["tern_source_updates_total{source=\"file\"}"] == before["tern_source_updates_total{source=\"file\"}"] + 1;
  });
  EXPECT_EQ(s["tern_xds_push_latency_seconds_count{type=\"cluster\"}"], 1);
  EXPECT_GT(s["tern_xds_push_latency_seconds_sum{type=\"cluster\"}"], 0);
  EXPECT_EQ(s["tern_xds_push_latency_seconds_bucket{type=\"cluster\",le=\"+Inf\"}"], 1);
  EXPECT_EQ(s["tern_xds_responses_total{type=\"cluster\"}"], 2);
  EXPECT_EQ(s["tern_xds_resources_sent_total{type=\"cluster\"}"], 3);
  EXPECT_EQ(s["tern_xds_proxies_out_of_sync"], 1) << "the push is not ACKed yet";
  EXPECT_GT(s["tern_xds_oldest_unacked_seconds"], 0);
  EXPECT_EQ(s["tern_xds_proxies_nacking"], 0);
  EXPECT_EQ(s["tern_snapshots_published_total"], before["tern_snapshots_published_total"] + 1);
  EXPECT_EQ(s["tern_snapshot_build_seconds_count"], before["tern_snapshot_build_seconds_count"] + 1);
  EXPECT_GT(s["tern_snapshot_build_seconds_sum"], before["tern_snapshot_build_seconds_sum"]);
  EXPECT_GT(s["tern_snapshot_last_published_timestamp_seconds"],
            before["tern_snapshot_last_published_timestamp_seconds"]);
  EXPECT_GT(s["tern_snapshot_resources"], before["tern_snapshot_resources"]);
  EXPECT_EQ(s["tern_snapshot_node_clusters"], 1) << "the edge gateway";
  EXPECT_EQ(s["tern_source_updates_total{source=\"file\"}"], before["tern_source_updates_total{source=\"file\"}"] + 1);
  EXPECT_GT(s["tern_source_last_sync_timestamp_seconds{source=\"file\"}"],
            before["tern_source_last_sync_timestamp_seconds{source=\"file\"}"]);
  EXPECT_EQ(s["tern_source_up{source=\"file\"}"], 1);

  // The proxy refuses the push.
  DiscoveryRequest nack = RawXdsClient::Request(kCds, {}, first->version_info(), pushed->nonce());
  nack.mutable_error_detail()->set_message("cluster api: rejected by the test");
  ASSERT_TRUE(client->Send(nack));
  s = AwaitMetrics([](const Scrape& m) {
    return m["tern_xds_nacks_total{type=\"cluster\"}"] == 1 && m["tern_xds_proxies_nacking"] == 1;
  });
  EXPECT_EQ(s["tern_xds_nacks_total{type=\"cluster\"}"], 1);
  EXPECT_EQ(s["tern_xds_proxies_nacking"], 1);
  EXPECT_EQ(s["tern_xds_proxies_out_of_sync"], 1) << "a NACKed response is still not in effect";
  EXPECT_EQ(s["tern_xds_convergence_seconds_count{type=\"cluster\"}"], 0);

  // A later change is pushed and ACKed: the proxy converged, from the first un-ACKed publication.
  WriteServices({"web", "api", "shop"});
  auto fixed = client->Next();
  ASSERT_TRUE(fixed.has_value());
  ASSERT_EQ(fixed->resources_size(), 3);
  ASSERT_TRUE(client->Send(RawXdsClient::Request(kCds, {}, fixed->version_info(), fixed->nonce())));
  // The ACK is counted, the convergence observed and the proxy's state updated by different
  // steps of the same request: wait until all of them show.
  s = AwaitMetrics([](const Scrape& m) {
    return m["tern_xds_convergence_seconds_count{type=\"cluster\"}"] == 1 && m["tern_xds_acks_total{type=\"cluster\"}"] == 2 &&
           m["tern_xds_proxies_out_of_sync"] == 0 && m["tern_xds_proxies_nacking"] == 0;
  });
  EXPECT_EQ(s["tern_xds_convergence_seconds_count{type=\"cluster\"}"], 1);
  EXPECT_GT(s["tern_xds_convergence_seconds_sum{type=\"cluster\"}"], 0);
  EXPECT_EQ(s["tern_xds_push_latency_seconds_count{type=\"cluster\"}"], 2);
  EXPECT_EQ(s["tern_xds_acks_total{type=\"cluster\"}"], 2);
  EXPECT_EQ(s["tern_xds_proxies_out_of_sync"], 0);
  EXPECT_EQ(s["tern_xds_proxies_nacking"], 0);
  EXPECT_EQ(s["tern_xds_oldest_unacked_seconds"], 0);

  client.reset();  // the proxy goes away
  s = AwaitMetrics([&](const Scrape& m) {
    return m["tern_xds_streams{protocol=\"sotw\"}"] == before["tern_xds_streams{protocol=\"sotw\"}"];
  });
  EXPECT_EQ(s["tern_xds_streams{protocol=\"sotw\"}"], before["tern_xds_streams{protocol=\"sotw\"}"]);
}

// A delta stream is counted as such; a request that is not a DiscoveryRequest is refused and
// counted as a bad request.
TEST_F(MetricsTest, DeltaStreamsAndMalformedRequestsAreCounted) {
  const Scrape before = Metrics();
  RawXdsClient delta(tern_->xds_address(), kDeltaAds);
  DeltaDiscoveryRequest req;
  req.set_type_url(kCds);
  req.mutable_node()->set_id("envoy-delta");
  req.mutable_node()->set_cluster("edge");
  ASSERT_TRUE(delta.Send(req));
  auto r = delta.NextDelta();
  ASSERT_TRUE(r.has_value());
  DeltaDiscoveryRequest ack;
  ack.set_type_url(kCds);
  ack.set_response_nonce(r->nonce());
  ASSERT_TRUE(delta.Send(ack));
  // The gauges are read before the counters within a scrape: wait until both show the ACK.
  Scrape s = AwaitMetrics([](const Scrape& m) {
    return m["tern_xds_acks_total{type=\"cluster\"}"] == 1 && m["tern_xds_proxies_out_of_sync"] == 0;
  });
  EXPECT_EQ(s["tern_xds_streams{protocol=\"delta\"}"], before["tern_xds_streams{protocol=\"delta\"}"] + 1);
  EXPECT_EQ(s["tern_xds_acks_total{type=\"cluster\"}"], 1);
  EXPECT_EQ(s["tern_xds_responses_total{type=\"cluster\"}"], 1);
  EXPECT_EQ(s["tern_xds_proxies_out_of_sync"], 0);

  RawXdsClient garbage(tern_->xds_address(), kAdsMethod);
  ASSERT_TRUE(garbage.SendRaw(std::string("\xff\xff\xff\xff", 4)));
  EXPECT_EQ(garbage.AwaitStatus().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  s = AwaitMetrics([&](const Scrape& m) {
    return m["tern_xds_bad_requests_total"] == before["tern_xds_bad_requests_total"] + 1;
  });
  EXPECT_EQ(s["tern_xds_bad_requests_total"], before["tern_xds_bad_requests_total"] + 1);
}

// A malformed services file: the file source's error is counted and it is down, nothing is
// published; fixing the file brings it back up.
TEST_F(MetricsTest, AMalformedFileCountsAnErrorAndPublishesNothing) {
  const Scrape before = Metrics();
  ASSERT_EQ(before["tern_source_up{source=\"file\"}"], 1);
  ASSERT_EQ(before["tern_source_errors_total{source=\"file\"}"], 0);
  ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), "services:\n  - name: [unclosed\n").ok());
  Scrape s = AwaitMetrics([](const Scrape& m) { return m["tern_source_errors_total{source=\"file\"}"] == 1; });
  EXPECT_EQ(s["tern_source_errors_total{source=\"file\"}"], 1);
  EXPECT_EQ(s["tern_source_up{source=\"file\"}"], 0);
  EXPECT_EQ(s["tern_snapshots_published_total"], before["tern_snapshots_published_total"]);
  EXPECT_EQ(s["tern_source_updates_total{source=\"file\"}"], before["tern_source_updates_total{source=\"file\"}"]);
  EXPECT_EQ(s["tern_ready"], 1) << "the last good configuration keeps serving";

  // The fix also adds a second gateway: a node cluster with a snapshot of its own.
  ASSERT_EQ(before["tern_snapshot_node_clusters"], 1);
  ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"),
                              ServicesYaml({"web", "api"}) +
                                  "  - name: internal\n    listeners:\n      - name: http\n        port: 10001\n"
                                  "        virtual_hosts: [ { name: all, domains: [\"*\"], routes: [ { service: api } ] } ]\n")
                  .ok());
  s = AwaitMetrics([](const Scrape& m) { return m["tern_source_up{source=\"file\"}"] == 1; });
  EXPECT_EQ(s["tern_source_up{source=\"file\"}"], 1);
  EXPECT_EQ(s["tern_snapshot_node_clusters"], 2);
  EXPECT_EQ(s["tern_source_updates_total{source=\"file\"}"], before["tern_source_updates_total{source=\"file\"}"] + 1);
}

// Until its one source has synced, tern is not ready, and says so in tern_ready; the source's
// series are there at zero from the start, so that an alert can see a source that never synced.
TEST(MetricsStartupTest, NotReadyUntilTheSourceSyncsAndTheSourceIsExportedAtZero) {
  TempDir dir;
  const int xds_port = FreePort();
  int admin_port = FreePort();
  while (admin_port == xds_port) admin_port = FreePort();
  ASSERT_TRUE(WriteFile(dir.File("tern.yaml"),
                        absl::StrCat("xds: { address: \"127.0.0.1:", xds_port, "\" }\nadmin: { address: \"127.0.0.1:",
                                     admin_port, "\" }\nfiles: [ services.yaml ]\n"))
                  .ok());
  auto tern = Subprocess::Start({.argv = {TernBinaryPath(), "serve", "--config", dir.File("tern.yaml")},
                                 .log_path = dir.File("tern.log")});
  ASSERT_TRUE(tern.ok()) << tern.status();
  auto scrape = [&]() -> Scrape {
    auto r = HttpGet("127.0.0.1", admin_port, "/metrics");
    return r.ok() && r->status == 200 ? ParseScrape(r->body) : Scrape{};
  };
  const auto deadline = Clock::now() + seconds(10);
  Scrape s = scrape();
  while (s.samples.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
    s = scrape();
  }
  ASSERT_FALSE(s.samples.empty()) << (*tern)->LogTail();
  EXPECT_EQ(s["tern_ready"], 0);
  EXPECT_EQ(s["tern_source_up{source=\"file\"}"], 0);
  EXPECT_EQ(s["tern_source_updates_total{source=\"file\"}"], 0);
  EXPECT_EQ(s["tern_source_last_sync_timestamp_seconds{source=\"file\"}"], 0);

  ASSERT_TRUE(WriteFileAtomic(dir.File("services.yaml"), ServicesYaml({"web"})).ok());
  while (s["tern_ready"] != 1 && Clock::now() < deadline + seconds(10)) {
    std::this_thread::sleep_for(milliseconds(50));
    s = scrape();
  }
  EXPECT_EQ(s["tern_ready"], 1) << (*tern)->LogTail();
  EXPECT_EQ(s["tern_source_up{source=\"file\"}"], 1);
  EXPECT_EQ(s["tern_source_updates_total{source=\"file\"}"], 1);
}

// tern's exposition, with every histogram and per-type series populated, passes promtool's
// parser and linter.
TEST_F(MetricsTest, PromtoolAcceptsTheExposition) {
  RawXdsClient client(tern_->xds_address(), kAdsMethod);
  ASSERT_TRUE(SubscribeAndAck(client).has_value());
  WriteServices({"web", "api"});
  ASSERT_TRUE(client.Next().has_value());
  Scrape s = AwaitMetrics([](const Scrape& m) { return m["tern_xds_push_latency_seconds_count{type=\"cluster\"}"] == 1; });
  ASSERT_EQ(s["tern_xds_push_latency_seconds_count{type=\"cluster\"}"], 1);
  ASSERT_TRUE(WriteFile(dir_.File("metrics.txt"), s.text).ok());
  ToolResult r = RunPromtool({"check", "metrics"}, dir_.path(), dir_.File("metrics.txt"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "promtool has lint findings";
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// A real Prometheus server scraping tern's admin port every second, with tern's rules loaded:
// a PromQL query over its HTTP API returns tern's series with tern's labels and values.
TEST_F(MetricsTest, ARealPrometheusScrapesTernAndAnswersPromQL) {
  RawXdsClient client(tern_->xds_address(), kAdsMethod);
  ASSERT_TRUE(SubscribeAndAck(client).has_value());
  AwaitMetrics([](const Scrape& m) { return m["tern_xds_acks_total{type=\"cluster\"}"] == 1; });

  const int port = FreePort();
  const std::string instance = absl::StrCat("127.0.0.1:", tern_->admin_port());
  ASSERT_EQ(::mkdir(dir_.File("prometheus").c_str(), 0700), 0);
  ASSERT_TRUE(WriteFile(dir_.File("prometheus/prometheus.yml"),
                        absl::StrCat("global: { scrape_interval: 1s, evaluation_interval: 1s }\n"
                                     "rule_files: [ \"", SourceDir(), "/deploy/prometheus/tern-rules.yml\" ]\n"
                                     "scrape_configs:\n"
                                     "  - job_name: tern\n"
                                     "    static_configs: [ { targets: [ \"", instance, "\" ] } ]\n"))
                  .ok());
  auto prom = Subprocess::Start(
      {.argv = {"prometheus", "--config.file=" + dir_.File("prometheus/prometheus.yml"),
                "--storage.tsdb.path=" + dir_.File("prometheus/data"),
                absl::StrCat("--web.listen-address=127.0.0.1:", port)},
       .log_path = dir_.File("prometheus/prometheus.log")});
  ASSERT_TRUE(prom.ok()) << prom.status();
  absl::Status ready = WaitForHttp200("127.0.0.1", port, "/-/ready", seconds(20));
  ASSERT_TRUE(ready.ok()) << ready << (*prom)->LogTail();

  auto query = [&](const std::string& promql) -> nlohmann::json {
    auto r = HttpGet("127.0.0.1", port, "/api/v1/query?query=" + UrlEncode(promql));
    if (!r.ok() || r->status != 200) return nullptr;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("status", "") != "success") return nullptr;
    return j["data"]["result"];
  };
  // The first scrape lands within a second or two of start.
  nlohmann::json result;
  const auto deadline = Clock::now() + seconds(20);
  while (Clock::now() < deadline) {
    result = query("tern_xds_acks_total{type=\"cluster\"}");
    if (result.is_array() && !result.empty()) break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_TRUE(result.is_array() && result.size() == 1) << result.dump() << (*prom)->LogTail();
  const auto& series = result[0];
  EXPECT_EQ(series["metric"]["__name__"], "tern_xds_acks_total");
  EXPECT_EQ(series["metric"]["job"], "tern");
  EXPECT_EQ(series["metric"]["instance"], instance);
  EXPECT_EQ(series["metric"]["type"], "cluster");
  EXPECT_EQ(series["value"][1], "1");

  // A label-filtered gauge and an expression over tern's series.
  result = query("tern_source_up{source=\"file\"}");
  ASSERT_TRUE(result.is_array() && result.size() == 1) << result.dump();
  EXPECT_EQ(result[0]["value"][1], "1");
  result = query("sum by (protocol) (tern_xds_streams)");
  ASSERT_TRUE(result.is_array()) << result.dump();
  std::map<std::string, std::string> streams;
  for (const auto& r : result) streams[r["metric"]["protocol"]] = r["value"][1];
  EXPECT_EQ(streams["sotw"], "1");
  EXPECT_EQ(streams["delta"], "0");

  // tern's rules loaded into the server: all groups healthy, no alert firing on a healthy tern.
  auto rules = HttpGet("127.0.0.1", port, "/api/v1/rules");
  ASSERT_TRUE(rules.ok());
  auto rj = nlohmann::json::parse(rules->body, nullptr, false);
  ASSERT_FALSE(rj.is_discarded());
  std::set<std::string> alerts;
  for (const auto& g : rj["data"]["groups"]) {
    for (const auto& r : g["rules"]) {
      EXPECT_NE(r.value("health", ""), "err") << r.dump();
      if (r.value("type", "") == "alerting") {
        alerts.insert(r.value("name", ""));
        EXPECT_NE(r.value("state", ""), "firing") << r.dump();
      }
    }
  }
  EXPECT_EQ(alerts, (std::set<std::string>{"TernAuditWriteFailures", "TernNotReady", "TernProxiesNacking",
                                           "TernProxiesOutOfSync", "TernSourceFailing"}));
  (*prom)->Kill();
}

// docs/operations.md's metric table is exact: every family tern exports is documented with its
// type, and every documented family of the core is exported (the Consul and Nomad ones are checked
// by consul_metrics_test and nomad_metrics_test).
TEST_F(MetricsTest, TheDocumentedMetricTableMatchesTheExposition) {
  auto ops = ReadFile(SourceDir() + "/docs/operations.md");
  ASSERT_TRUE(ops.ok());
  std::map<std::string, std::string> documented;  // name → type column
  std::regex row_re(R"(\n\| `(tern_[a-z0-9_]+)` \| (counter|gauge|histogram) \|)");
  for (std::sregex_iterator it(ops->begin(), ops->end(), row_re), end; it != end; ++it) documented[(*it)[1]] = (*it)[2];
  std::regex pair_re(R"(\n\| `(tern_[a-z0-9_]+)`, `(tern_[a-z0-9_]+)` \| (counter|gauge) \|)");
  for (std::sregex_iterator it(ops->begin(), ops->end(), pair_re), end; it != end; ++it) {
    documented[(*it)[1]] = (*it)[3];
    documented[(*it)[2]] = (*it)[3];
  }
  EXPECT_GE(documented.size(), 35u);

  const Scrape s = Metrics();
  for (const auto& [name, type] : s.types) {
    auto d = documented.find(name);
    ASSERT_NE(d, documented.end()) << name << " is exported but not in docs/operations.md";
    EXPECT_EQ(d->second, type) << name;
  }
  for (const auto& [name, type] : documented) {
    if (name.rfind("tern_consul_", 0) == 0 || name.rfind("tern_nomad_", 0) == 0) {
      continue;
    }
    EXPECT_TRUE(s.types.count(name)) << name << " is documented but tern does not export it";
  }
}

// The rules operators load: valid, and each alert fires in its unit test (deploy/prometheus).
TEST(PrometheusRulesTest, RulesAreValidAndEveryAlertFiresInItsUnitTest) {
  TempDir dir;
  const std::string rules = SourceDir() + "/deploy/prometheus/tern-rules.yml";
  ToolResult check = RunPromtool({"check", "rules", rules}, dir.path());
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, ::testing::HasSubstr("SUCCESS"));

  ToolResult unit = RunPromtool({"test", "rules", SourceDir() + "/deploy/prometheus/tern-rules.test.yml"}, dir.path());
  EXPECT_EQ(unit.exit_code, 0) << unit.output;
  // Every alerting rule has a firing case in the unit test.
  auto rules_text = ReadFile(rules);
  auto tests_text = ReadFile(SourceDir() + "/deploy/prometheus/tern-rules.test.yml");
  ASSERT_TRUE(rules_text.ok() && tests_text.ok());
  std::regex alert_re(R"(- alert: (\w+))");
  int alerts = 0;
  for (std::sregex_iterator it(rules_text->begin(), rules_text->end(), alert_re), end; it != end; ++it) {
    ++alerts;
    const std::string name = (*it)[1];
    std::regex firing("alertname: " + name + R"(\s+exp_alerts:\s+- exp_labels)");
    EXPECT_TRUE(std::regex_search(*tests_text, firing)) << name << " has no firing case in its unit test";
  }
  EXPECT_EQ(alerts, 5);
}

// Every metric the Grafana dashboard queries exists on a running tern (after a push, so that
// everything exported on events has been exported).
TEST_F(MetricsTest, EveryMetricTheDashboardUsesExists) {
  auto text = ReadFile(SourceDir() + "/deploy/grafana/tern.json");
  ASSERT_TRUE(text.ok()) << text.status();
  auto dash = nlohmann::json::parse(*text, nullptr, false);
  ASSERT_FALSE(dash.is_discarded()) << "deploy/grafana/tern.json is not JSON";
  std::set<std::string> used;
  std::regex name_re(R"(\btern_[a-z0-9_]+)");
  int exprs = 0;
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        if ((it.key() == "expr" || it.key() == "query") && it.value().is_string()) {
          const std::string e = it.value().get<std::string>();
          ++exprs;
          for (std::sregex_iterator m(e.begin(), e.end(), name_re), end; m != end; ++m) used.insert((*m)[0]);
        } else {
          walk(it.value());
        }
      }
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(dash);
  EXPECT_GE(exprs, 25);

  RawXdsClient client(tern_->xds_address(), kAdsMethod);
  ASSERT_TRUE(SubscribeAndAck(client).has_value());
  WriteServices({"web", "api"});
  ASSERT_TRUE(client.Next().has_value());
  Scrape s = AwaitMetrics([](const Scrape& m) { return m["tern_xds_push_latency_seconds_count{type=\"cluster\"}"] == 1; });

  std::set<std::string> families;
  for (const auto& [name, type] : s.types) families.insert(name);
  auto exported = [&](const std::string& n) {
    if (families.count(n)) return true;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx(suffix);
      if (n.size() > sfx.size() && n.compare(n.size() - sfx.size(), sfx.size(), sfx) == 0) {
        const std::string base = n.substr(0, n.size() - sfx.size());
        auto t = s.types.find(base);
        if (t != s.types.end() && t->second == "histogram") return true;
      }
    }
    return false;
  };
  // The audit log's records are counted by kind: the initial snapshot's and the change's.
  EXPECT_EQ(s["tern_audit_records_total{kind=\"config\"}"], 2);
  EXPECT_EQ(s["tern_audit_write_failures_total"], 0);
  for (const auto& n : used) {
    EXPECT_TRUE(exported(n)) << n << " is used by the dashboard but tern does not export it";
  }
  // The panels the dashboard promises.
  for (const char* n : {"tern_xds_streams", "tern_xds_push_latency_seconds_bucket", "tern_xds_convergence_seconds_bucket",
                        "tern_xds_acks_total", "tern_xds_nacks_total", "tern_source_up", "tern_snapshot_build_seconds_bucket",
                        "tern_audit_records_total", "tern_audit_write_failures_total"}) {
    EXPECT_TRUE(used.count(n)) << "the dashboard has no panel on " << n;
  }
}

}  // namespace
}  // namespace tern::testing
