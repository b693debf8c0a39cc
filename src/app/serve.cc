// `tern serve`: sources → reconciler → cache → xDS server, plus the admin API.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "admin/http_server.h"
#include "admin/metrics.h"
#include "admin/resource_json.h"
#include "admin/status_page.h"
#include "app/admin_token.h"
#include "app/commands.h"
#include "app/runtime.h"
#include "app/xds_tls.h"
#include "cache/snapshot_cache.h"
#include "server/audit_log.h"
#include "server/memory_trimmer.h"
#include "server/reconciler.h"
#include "sources/source_status.h"
#include "xds/identity_authorizer.h"
#include "xds/xds_server.h"

namespace tern::app {

namespace {

std::string Iso8601(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Reconciler events → metrics and (when configured) the audit log.
class MetricsBridge : public server::ReconcilerObserver {
 public:
  MetricsBridge(admin::Metrics& m, server::ReconcilerObserver* audit) : m_(m), audit_(audit) {}
  // The audit record is written before the snapshot reaches the cache; in fail-closed mode a
  // record that cannot be written holds the snapshot back (Reconciler::BeforePublish).
  absl::Status BeforePublish(const server::BuiltSnapshots& s, const std::vector<std::string>& reasons) override {
    return audit_ ? audit_->BeforePublish(s, reasons) : absl::OkStatus();
  }
  void OnPublished(const server::BuiltSnapshots& s, const std::vector<std::string>& reasons) override {
    if (audit_) audit_->OnPublished(s, reasons);
    size_t n = s.mesh ? s.mesh->size() : 0;
    for (const auto& [name, snap] : s.gateways) n += snap->size();
    m_.SnapshotPublished(s.gateways.size(), n);
    double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    m_.SnapshotBuilt(s.build_seconds, now);
    for (const auto& r : reasons) m_.SourceUpdated(r.substr(0, r.find(':')), now);
  }
  void OnRejected(const std::string& source, const std::vector<model::Problem>&) override { m_.SourceFailed(source); }

 private:
  admin::Metrics& m_;
  server::ReconcilerObserver* audit_;
};

// xDS stream events → metrics, and proxy events also → the audit log's queue.
class XdsEventsFanout : public xds::XdsObserver {
 public:
  XdsEventsFanout(xds::XdsObserver& metrics, server::AuditLog* audit) : m_(metrics), audit_(audit) {}
  void OnStreamOpened(bool delta) override { m_.OnStreamOpened(delta); }
  void OnStreamClosed(bool delta) override { m_.OnStreamClosed(delta); }
  void OnResponseSent(ResourceType type, size_t resources, size_t bytes) override {
    m_.OnResponseSent(type, resources, bytes);
  }
  void OnAck(ResourceType type) override { m_.OnAck(type); }
  void OnNack(ResourceType type, const std::string& error) override { m_.OnNack(type, error); }
  void OnBadRequest(const std::string& error) override { m_.OnBadRequest(error); }
  void OnPushLatency(ResourceType type, double seconds) override { m_.OnPushLatency(type, seconds); }
  void OnConverged(ResourceType type, double seconds) override { m_.OnConverged(type, seconds); }
  void OnProxyEvent(const xds::ProxyEvent& e) override {
    m_.OnProxyEvent(e);
    if (audit_) audit_->RecordProxy(e);
  }

 private:
  xds::XdsObserver& m_;
  server::AuditLog* audit_;
};

// Each connected stream, from the xds layer's one account of it (client_status.h, the same
// that CSDS answers with); with `resources`, every resource of every subscribed type too.
nlohmann::json ProxiesJson(const std::vector<xds::StreamStatus>& streams, bool resources) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& st : streams) {
    const xds::StreamInfo& s = st.info;
    nlohmann::json j;
    j["stream_id"] = s.id;
    j["node_id"] = s.node_id;
    j["node_cluster"] = s.node_cluster;
    xds::NodeDetails node = xds::DescribeNode(s.node);
    auto metadata = nlohmann::json::parse(node.metadata_json, nullptr, /*allow_exceptions=*/false);
    j["node_metadata"] = metadata.is_discarded() ? nlohmann::json::object() : metadata;
    j["user_agent"] = node.user_agent;
    j["peer"] = s.peer;
    j["service"] = s.service;
    j["protocol"] = s.delta ? "delta" : "sotw";
    j["connected_at"] = Iso8601(s.connected_at);
    nlohmann::json types = nlohmann::json::object();
    for (ResourceType t : kAdsOrder) {
      const auto& ti = s.types[static_cast<size_t>(t)];
      if (!ti.subscribed) continue;
      nlohmann::json tj = {
          {"wildcard", ti.wildcard},        {"subscribed_names", ti.names},
          {"status", std::string(xds::ConfigStatusName(xds::TypeConfigStatus(ti)))},
          {"version_sent", ti.version_sent}, {"version_acked", ti.version_acked},
          {"last_nonce", ti.last_nonce},     {"last_nack", ti.last_nack},
          {"version_nacked", ti.version_nacked},
          {"last_nack_at", ti.nacks > 0 ? Iso8601(ti.last_nack_at) : ""},
          {"responses", ti.responses},       {"acks", ti.acks},
          {"nacks", ti.nacks}};
      if (resources) {
        nlohmann::json rs = nlohmann::json::array();
        for (const auto& r : st.resources) {
          if (r.type != t) continue;
          rs.push_back({{"name", r.name},
                        {"version", r.version},
                        {"config_status", std::string(xds::ConfigStatusName(r.config_status))},
                        {"client_status", std::string(xds::ClientStatusName(r.client_status))}});
        }
        tj["resources"] = std::move(rs);
      }
      types[std::string(ShortName(t))] = std::move(tj);
    }
    j["types"] = std::move(types);
    out.push_back(std::move(j));
  }
  return out;
}

// One record per source: what the core saw of it (updates, rejections, errors) and, for a source
// that reports on itself, what it sees of its origin (its index, watches, failing endpoints).
nlohmann::json SourcesJson(const std::vector<server::SourceState>& states,
                           const std::vector<std::unique_ptr<sources::Source>>& all) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : states) {
    std::optional<sources::SourceStatus> own;
    for (const auto& src : all) {
      if (src->name() != s.name) continue;
      if (auto* r = dynamic_cast<const sources::StatusReporter*>(src.get())) own = r->status();
    }
    nlohmann::json failing = nlohmann::json::array();
    nlohmann::json degraded = nlohmann::json::array();
    if (own) {
      for (const auto& [endpoint, error] : own->failing) failing.push_back({{"endpoint", endpoint}, {"error", error}});
      for (const auto& [subject, why] : own->degraded) degraded.push_back({{"subject", subject}, {"reason", why}});
    }
    out.push_back({{"name", s.name},
                   {"synced", s.synced},
                   {"updates", s.updates},
                   // The origin's own index (Consul catalog, Nomad services list; a file source's
                   // generation), not an update count.
                   {"index", own ? own->index : 0},
                   {"watches", own ? own->watches : 0},
                   {"failing_endpoints", failing},
                   // Working a slower way, the data current (not a failure).
                   {"degraded", degraded},
                   {"details", own ? nlohmann::json(own->details) : nlohmann::json::object()},
                   {"errors", s.errors},
                   {"rejected_updates", s.rejected},
                   {"last_successful_sync", s.last_sync ? Iso8601(*s.last_sync) : ""},
                   {"last_error", s.last_error},
                   {"last_error_time", s.last_error_time ? Iso8601(*s.last_error_time) : ""},
                   {"last_update_reason", s.last_reason},
                   // The newest event was an error: what is served is the last good configuration.
                   {"serving_last_good", s.synced && s.last_error_time && s.last_sync &&
                                             *s.last_error_time > *s.last_sync}});
  }
  return out;
}

// Never throws: a string that is not valid UTF-8 (every source sanitizes its texts, this is the
// last line) is printed with U+FFFD instead of making dump() throw type_error 316.
admin::HttpResponse Json(int status, const nlohmann::json& j) {
  return {status, "application/json", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

// tern holds tokens and private keys in memory: a crash must not write them to a core file, and
// other processes of the same user must not read its memory. TERN_ALLOW_CORE_DUMPS=1 keeps both
// (to debug a crash on a test machine). docs/tls.md, "What never leaks".
void ProtectSecretsInMemory() {
  const char* allow = std::getenv("TERN_ALLOW_CORE_DUMPS");
  if (allow && std::string_view(allow) == "1") {
    spdlog::warn("TERN_ALLOW_CORE_DUMPS=1: a crash may write tokens and private keys to a core file");
    return;
  }
  struct rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) spdlog::warn("cannot turn core files off: {}", std::strerror(errno));
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) spdlog::warn("cannot make tern undumpable: {}", std::strerror(errno));
}

}  // namespace

int Serve(const std::string& config_path) {
  ProtectSecretsInMemory();
  auto config = LoadConfigOrDefault(config_path);
  if (!config.ok()) {
    spdlog::error("{}", std::string(config.status().message()));
    return 1;
  }
  spdlog::set_level(spdlog::level::from_str(config->log.level));

  // Block the termination signals in every thread; the main thread waits for them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::string admin_token;  // never logged
  if (!config->admin.token_file.empty()) {
    auto token = ReadAdminToken(config->admin.token_file);
    if (!token.ok()) {
      spdlog::error("{}", std::string(token.status().message()));
      return 1;
    }
    admin_token = std::move(*token);
  }

  admin::Metrics metrics;  // before the audit log, whose writes it counts
  std::unique_ptr<server::AuditLog> audit;
  if (config->audit) {
    const AuditConfig& ac = *config->audit;
    server::AuditLogOptions ao{
        .path = ac.path,
        .max_file_bytes = ac.max_file_bytes,
        .signing_key_file = ac.signing_key_file,
        .checkpoint_every = ac.checkpoint_every,
        .copy_to = ac.copy_to == "stdout"   ? server::AuditLogOptions::CopyTo::kStdout
                   : ac.copy_to == "syslog" ? server::AuditLogOptions::CopyTo::kSyslog
                                            : server::AuditLogOptions::CopyTo::kNone,
        .fail_closed = ac.fail_closed,
        .on_write = [&metrics](std::string_view kind, bool ok) {
          if (ok) metrics.AuditRecorded(kind);
          else metrics.AuditWriteFailed();
        },
    };
    auto a = server::AuditLog::Open(std::move(ao));
    if (!a.ok()) {
      spdlog::error("{}", std::string(a.status().message()));
      return 1;
    }
    audit = std::move(*a);
    spdlog::info("audit log: {}", config->audit->path);
  }
  MetricsBridge bridge(metrics, audit.get());
  cache::SnapshotCache cache;
  auto sources = MakeSources(*config, metrics.registry());
  std::vector<std::string> names;
  for (const auto& s : sources) names.push_back(s->name());
  for (const auto& n : names) metrics.RegisterSource(n);
  server::Reconciler reconciler(cache, names, &bridge);

  XdsEventsFanout xds_events(metrics, config->audit && config->audit->proxy_events ? audit.get() : nullptr);
  xds::XdsServerOptions xds_options{.address = config->xds.address, .observer = &xds_events};
  std::unique_ptr<xds::IdentityAuthorizer> authorizer;
  if (config->xds.tls) {
    auto creds = MakeXdsServerCredentials(*config->xds.tls);
    if (!creds.ok()) {
      spdlog::error("{}", std::string(creds.status().message()));
      return 1;
    }
    xds_options.credentials = *creds;
    if (config->xds.tls->require_client_cert) {
      authorizer = std::make_unique<xds::IdentityAuthorizer>(config->xds.tls->client_identity);
      xds_options.authorizer = authorizer.get();
    }
    spdlog::info("xDS over TLS{}", authorizer ? " with client certificates (identity " +
                                                   config->xds.tls->client_identity + ")"
                                             : "");
  }
  xds::XdsServer xds(cache, xds_options);
  if (auto st = xds.Start(); !st.ok()) {
    spdlog::error("{}", std::string(st.message()));
    return 1;
  }

  admin::HttpServer http;
  http.Handle("/healthz", [](const admin::HttpRequest&) { return admin::HttpResponse{200, "text/plain", "ok\n"}; });
  http.Handle("/readyz", [&](const admin::HttpRequest&) {
    bool ready = reconciler.Ready();
    nlohmann::json body = {{"ready", ready}, {"sources", SourcesJson(reconciler.Sources(), sources)}};
    // Why the newest configuration is not served (the audit log cannot be written, fail-closed).
    if (std::string blocked = reconciler.PublishBlocked(); !blocked.empty()) body["publish_blocked"] = blocked;
    return Json(ready ? 200 : 503, body);
  });
  http.Handle("/metrics", [&](const admin::HttpRequest&) {
    metrics.ObserveStreams(xds.Streams(), std::chrono::steady_clock::now());
    metrics.SetReady(reconciler.Ready());
    // Sources bring their scrape-time series up to date in the shared registry first.
    std::string text;
    for (const auto& s : sources) {
      if (auto* m = dynamic_cast<const sources::MetricsReporter*>(s.get())) text += m->MetricsText();
    }
    text = metrics.Render() + text;
    return admin::HttpResponse{200, "text/plain; version=0.0.4", text};
  });
  http.Handle("/debug/proxies", [&](const admin::HttpRequest& req) {
    auto r = req.query.find("resources");
    bool resources = r != req.query.end() && (r->second == "true" || r->second == "1");
    return Json(200, ProxiesJson(xds.Statuses(resources), resources));
  });
  http.Handle("/debug/sources", [&](const admin::HttpRequest&) { return Json(200, SourcesJson(reconciler.Sources(), sources)); });
  http.Handle("/debug/resources", [&](const admin::HttpRequest& req) {
    auto nc = req.query.find("node_cluster");
    if (nc == req.query.end()) return Json(400, {{"error", "node_cluster is required"}});
    auto type = req.query.find("type");
    auto snap = cache.Get(nc->second);
    if (!snap) return Json(503, {{"error", "no snapshot published yet"}});
    auto js = admin::SnapshotToJson(*snap, nc->second, type == req.query.end() ? "all" : type->second);
    if (!js.ok()) return Json(400, {{"error", std::string(js.status().message())}});
    return admin::HttpResponse{200, "application/json", *js};
  });
  admin::RegisterStatusPage(http, cache, {.audit_path = config->audit ? config->audit->path : ""});
  if (!admin_token.empty()) {
    // Probes and Prometheus stay open: they carry no node ids, errors or configuration
    // (docs/operations.md, "Admin API access").
    http.RequireBearerToken(admin_token, {"/healthz", "/readyz", "/metrics"});
  }
  if (auto st = http.Start(config->admin.address); !st.ok()) {
    spdlog::error("{}", std::string(st.message()));
    return 1;
  }
  spdlog::info("admin API on http://{}{}", config->admin.address,
               admin_token.empty() ? "" : " (/ and /debug/* need the bearer token from admin.token_file)");
  if (admin_token.empty() && !IsLoopbackListenAddress(config->admin.address)) {
    spdlog::warn("the admin API on {} is reachable from other hosts and needs no token: set admin.token_file "
                 "(docs/operations.md)", config->admin.address);
  }

  // First sync, synchronously, so that the first snapshot holds everything the sources have.
  for (auto& s : sources) {
    std::vector<model::Problem> problems;
    auto f = s->SyncOnce(&problems);
    if (f.ok()) {
      reconciler.OnUpdate(s->name(), *f, "initial sync");
    } else {
      if (problems.empty()) problems.push_back({s->name(), std::string(f.status().message())});
      reconciler.OnError(s->name(), problems);
    }
  }
  reconciler.Start();
  for (auto& s : sources) s->Start(reconciler);
  server::MemoryTrimmer trimmer(std::chrono::seconds(2),
                                [&] { return reconciler.generation() + xds.StreamChurn(); });
  trimmer.Start();
  spdlog::info("tern serving xDS on {}", config->xds.address);

  int sig = 0;
  sigwait(&sigs, &sig);
  spdlog::info("signal {}: shutting down", sig);
  trimmer.Stop();
  for (auto& s : sources) s->Stop();
  http.Stop();
  xds.Shutdown();
  reconciler.Stop();
  if (audit) audit->Close();  // the disconnects of the streams just ended, and a last checkpoint
  return 0;
}

}  // namespace tern::app
