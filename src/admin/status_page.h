#pragma once
// The admin API's human view: `/`, a self-contained HTML status page (inline CSS and JS, no
// external assets) that fetches the JSON endpoints every few seconds and shows sources, gateways,
// proxyless services, connected proxies with their per-type sync state, and the last audit
// records; plus the two JSON endpoints only it needed:
//
//   /debug/gateways      node clusters with a snapshot (version, resources per type) and the
//                        proxyless services of the mesh snapshot, as the cache holds them now
//   /debug/audit?limit=N the last N records of the audit file, read from disk
//
// Everything that comes from outside (node ids, error texts, names) reaches the page only as
// JSON and is put into the DOM as text (textContent), never as markup; the page's
// Content-Security-Policy allows only its own script (by hash), so injected markup could not run
// a script even if it got in.
#include <string>

#include "absl/status/statusor.h"
#include "admin/http_server.h"
#include "cache/snapshot_cache.h"
#include <nlohmann/json.hpp>

namespace tern::admin {

struct StatusPageOptions {
  std::string audit_path;  // "" = the audit log is not enabled
};

// Registers "/", "/debug/gateways" and "/debug/audit" on `http`. `cache` must outlive the server.
void RegisterStatusPage(HttpServer& http, const cache::SnapshotCache& cache, StatusPageOptions options);

// What /debug/gateways returns: {"gateways": [{"node_cluster", "version", "resources": {type: n}}],
// "proxyless": {"version", "services": [listener names]}}.
nlohmann::json GatewaysJson(const cache::SnapshotCache& cache);

// The last `limit` lines of the audit file that parse as JSON objects, oldest first. Lines that do
// not parse are skipped (and counted in `*skipped`). Reads the file from its end, so a long log
// costs only what is returned.
absl::StatusOr<nlohmann::json> ReadAuditTail(const std::string& path, size_t limit, size_t* skipped = nullptr);

// The page itself, and the value of its Content-Security-Policy header.
const std::string& StatusPageHtml();
const std::string& StatusPageCsp();

}  // namespace tern::admin
