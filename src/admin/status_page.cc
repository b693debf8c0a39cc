#include "admin/status_page.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "common/type_urls.h"

namespace tern::admin {
namespace {

// The audit endpoint returns at most this many records, and never parses a line longer than this:
// the page is for a human glancing at recent changes, not for exporting the log.
constexpr size_t kDefaultAuditLimit = 20;
constexpr size_t kMaxAuditLimit = 1000;
constexpr size_t kMaxAuditLine = 1 << 20;

constexpr char kStyle[] = R"CSS(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
header .meta { color: #b9c0cc; font-size: 12px; }
main { padding: 12px 20px; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; margin-bottom: 14px; padding: 8px 12px; }
h2 { font-size: 15px; margin: 4px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f3; vertical-align: top; }
th { font-size: 12px; color: #5b6578; font-weight: 600; }
td.mono, span.mono { font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; }
.nowrap { white-space: nowrap; }
.ok { color: #116329; } .warn { color: #8a5300; } .bad { color: #b3261e; font-weight: 600; } .dim { color: #7a8394; }
.chip { display: inline-block; border-radius: 10px; padding: 0 8px; margin: 1px 4px 1px 0; font-size: 12px; border: 1px solid; }
.chip.ok { background: #e6f4ea; border-color: #a8dab5; } .chip.warn { background: #fff4e0; border-color: #f3cf8b; }
.chip.bad { background: #fde8e7; border-color: #f2b8b5; } .chip.dim { background: #f1f3f5; border-color: #d5d9e0; }
.nack { color: #b3261e; font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
#banner { display: none; background: #fde8e7; color: #b3261e; padding: 8px 20px; font-weight: 600; }
#banner.show { display: block; }
.summary span { margin-right: 18px; }
)CSS";

// Builds the DOM from the JSON endpoints. Every value from outside goes through textContent.
constexpr char kScript[] = R"JS(
'use strict';
const REFRESH_MS = 3000;
const TYPES = ['listener', 'route', 'cluster', 'endpoint', 'secret', 'virtual_host'];
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function str(v) {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
function short(v) { v = str(v); return v.length > 12 ? v.slice(0, 12) : v; }
function table(headers, rows) {
  const t = el('table');
  const hr = el('tr');
  for (const h of headers) hr.appendChild(el('th', null, h));
  t.appendChild(hr);
  for (const cells of rows) {
    const tr = el('tr');
    for (const c of cells) {
      const td = el('td');
      if (c instanceof Node) td.appendChild(c); else td.textContent = str(c);
      tr.appendChild(td);
    }
    t.appendChild(tr);
  }
  return t;
}
function fill(id, title, content) {
  const s = document.getElementById(id);
  s.replaceChildren(el('h2', null, title));
  if (Array.isArray(content)) for (const c of content) s.appendChild(c); else s.appendChild(content);
}
async function getJson(path) {
  try {
    const r = await fetch(path, {cache: 'no-store', credentials: 'same-origin'});
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    return {status: r.status, body: body, error: r.ok ? '' : 'HTTP ' + r.status + (body && body.error ? ': ' + str(body.error) : '')};
  } catch (e) {
    return {status: 0, body: null, error: 'cannot reach the admin API: ' + str(e && e.message)};
  }
}
function sourceState(s) {
  if (!s.synced) return s.last_error ? ['bad', 'failing, never synced'] : ['dim', 'waiting for first sync'];
  if (s.serving_last_good) return ['bad', 'failing: serving last good'];
  const degraded = Array.isArray(s.degraded) ? s.degraded : [];
  if (degraded.length) return ['warn', 'degraded: ' + degraded.map(d => str(d && d.subject)).join(', ')];
  return ['ok', 'synced'];
}
function renderSources(r) {
  if (r.error || !Array.isArray(r.body)) return fill('sources', 'Sources', el('p', 'bad', r.error || 'unexpected answer'));
  if (r.body.length === 0) return fill('sources', 'Sources', el('p', 'dim', 'no sources configured'));
  const rows = r.body.map(s => {
    const [cls, text] = sourceState(s);
    const err = el('span', 'nack', str(s.last_error));
    const state = el('span', cls + ' nowrap', text);
    if (Array.isArray(s.degraded)) state.title = s.degraded.map(d => str(d && d.subject) + ': ' + str(d && d.reason)).join('\n');
    return [el('span', 'mono', str(s.name)), state, el('span', 'nowrap', str(s.last_successful_sync) || 'never'), err];
  });
  fill('sources', 'Sources', table(['source', 'state', 'last successful sync', 'last error'], rows));
}
function typeState(t) {
  if (t.last_nack) return ['bad', 'NACK'];
  if (!t.version_sent) return ['dim', 'waiting'];
  if (t.version_acked === t.version_sent) return ['ok', 'in sync'];
  return ['warn', 'behind'];
}
function renderProxies(r) {
  if (r.error || !Array.isArray(r.body)) return fill('proxies', 'Connected proxies', el('p', 'bad', r.error || 'unexpected answer'));
  if (r.body.length === 0) return fill('proxies', 'Connected proxies', el('p', 'dim', 'no proxy is connected'));
  const rows = r.body.map(p => {
    const states = el('div');
    const errors = el('div');
    const types = (p.types && typeof p.types === 'object') ? p.types : {};
    for (const name of Object.keys(types)) {
      const t = types[name] || {};
      const [cls, text] = typeState(t);
      const chip = el('span', 'chip ' + cls, name + ': ' + text);
      chip.title = 'sent ' + str(t.version_sent) + ', acked ' + str(t.version_acked);
      states.appendChild(chip);
      if (t.last_nack) errors.appendChild(el('div', 'nack', name + ' NACK: ' + str(t.last_nack)));
    }
    states.appendChild(errors);
    return [el('span', 'mono', str(p.node_id)), el('span', 'mono', str(p.node_cluster)),
            str(p.service) + ' (' + str(p.protocol) + ')', str(p.peer), el('span', 'nowrap', str(p.connected_at)), states];
  });
  fill('proxies', 'Connected proxies (' + r.body.length + ')',
       table(['node id', 'node cluster', 'service', 'peer', 'connected', 'per type'], rows));
}
function renderGateways(r, proxies) {
  if (r.error || !r.body || typeof r.body !== 'object') {
    fill('gateways', 'Gateways', el('p', 'bad', r.error || 'unexpected answer'));
    fill('proxyless', 'Proxyless services', el('p', 'dim', ''));
    return;
  }
  const connected = {};
  if (Array.isArray(proxies)) for (const p of proxies) connected[str(p.node_cluster)] = (connected[str(p.node_cluster)] || 0) + 1;
  const gws = Array.isArray(r.body.gateways) ? r.body.gateways : [];
  if (gws.length === 0) {
    fill('gateways', 'Gateways', el('p', 'dim', 'no gateway snapshot is published'));
  } else {
    const rows = gws.map(g => {
      const res = g.resources || {};
      return [el('span', 'mono', str(g.node_cluster)), el('span', 'mono', short(g.version))]
          .concat(TYPES.map(t => str(res[t] || 0)))
          .concat([str(connected[str(g.node_cluster)] || 0)]);
    });
    fill('gateways', 'Gateways (' + gws.length + ')',
         table(['node cluster', 'version', 'listeners', 'routes', 'clusters', 'endpoints', 'secrets', 'vhosts', 'proxies'], rows));
  }
  const pl = r.body.proxyless || {};
  const svcs = Array.isArray(pl.services) ? pl.services : [];
  const list = el('div');
  for (const s of svcs) list.appendChild(el('span', 'chip dim', str(s)));
  if (svcs.length === 0) list.appendChild(el('p', 'dim', 'no proxyless service'));
  fill('proxyless', 'Proxyless services (' + svcs.length + ', version ' + short(pl.version) + ')', list);
}
function renderAudit(r) {
  if (r.status === 404) return fill('audit', 'Audit log', el('p', 'dim', 'the audit log is not enabled (audit.path)'));
  if (r.error || !r.body || !Array.isArray(r.body.records)) return fill('audit', 'Audit log', el('p', 'bad', r.error || 'unexpected answer'));
  const recs = r.body.records.slice().reverse();
  if (recs.length === 0) return fill('audit', 'Audit log', el('p', 'dim', 'no record yet'));
  const rows = recs.map(a => {
    const reasons = Array.isArray(a.reasons) ? a.reasons.map(str).join('; ') : str(a.reasons);
    let changes = '';
    if (Array.isArray(a.changes)) {
      const parts = a.changes.slice(0, 6).map(c => (c && typeof c === 'object')
          ? [c.action, c.type, str(c.node_cluster) + '/' + str(c.name)].map(str).join(' ') : str(c));
      changes = a.changes.length + ': ' + parts.join(', ') + (a.changes.length > 6 ? ', ...' : '');
    } else if (a.changes !== undefined) {
      changes = str(a.changes);
    }
    return [str(a.seq), el('span', 'nowrap', str(a.time)), el('span', 'mono', reasons), el('span', 'mono', changes)];
  });
  fill('audit', 'Audit log (last ' + recs.length + ')', table(['seq', 'time', 'reasons', 'changes'], rows));
}
function renderSummary(sources, proxies) {
  const s = el('div', 'summary');
  const srcs = Array.isArray(sources.body) ? sources.body : [];
  const failing = srcs.filter(x => sourceState(x)[0] === 'bad').length;
  const ps = Array.isArray(proxies.body) ? proxies.body : [];
  let nacking = 0, behind = 0;
  for (const p of ps) {
    const types = (p.types && typeof p.types === 'object') ? Object.values(p.types) : [];
    if (types.some(t => t && t.last_nack)) nacking++;
    else if (types.some(t => t && typeState(t)[1] === 'behind')) behind++;
  }
  s.appendChild(el('span', failing ? 'bad' : 'ok', srcs.length + ' source(s), ' + failing + ' failing'));
  s.appendChild(el('span', nacking ? 'bad' : 'ok', ps.length + ' proxy stream(s), ' + nacking + ' NACKing'));
  s.appendChild(el('span', behind ? 'warn' : 'ok', behind + ' behind'));
  fill('summary', 'Summary', s);
}
async function refresh() {
  const [sources, proxies, gateways, audit] = await Promise.all(
      [getJson('debug/sources'), getJson('debug/proxies'), getJson('debug/gateways'), getJson('debug/audit?limit=10')]);
  renderSummary(sources, proxies);
  renderSources(sources);
  renderGateways(gateways, proxies.body);
  renderProxies(proxies);
  renderAudit(audit);
  const down = [sources, proxies, gateways].find(x => x.status === 0);
  const banner = document.getElementById('banner');
  banner.textContent = down ? down.error : '';
  banner.className = down ? 'show' : '';
  document.getElementById('updated').textContent = 'updated ' + new Date().toISOString() + ', every ' + (REFRESH_MS / 1000) + ' s';
}
refresh();
setInterval(refresh, REFRESH_MS);
)JS";

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(len < 0 ? 0 : static_cast<size_t>(len));
  return out;
}

// A CSP source expression that allows exactly this inline text.
std::string CspHash(const char* text) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text), std::strlen(text), d);
  return "'sha256-" + Base64(d, sizeof(d)) + "'";
}

HttpResponse Json(int status, const nlohmann::json& j) {
  return {status, "application/json", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

}  // namespace

const std::string& StatusPageHtml() {
  static const std::string html = std::string(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>tern status</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>") +
      kStyle + "</style>\n</head>\n<body>\n"
      "<header><h1>tern status</h1><span class=\"meta\" id=\"updated\">loading...</span></header>\n"
      "<div id=\"banner\"></div>\n<main>\n"
      "<section id=\"summary\"><h2>Summary</h2></section>\n"
      "<section id=\"sources\"><h2>Sources</h2></section>\n"
      "<section id=\"gateways\"><h2>Gateways</h2></section>\n"
      "<section id=\"proxyless\"><h2>Proxyless services</h2></section>\n"
      "<section id=\"proxies\"><h2>Connected proxies</h2></section>\n"
      "<section id=\"audit\"><h2>Audit log</h2></section>\n"
      "</main>\n<noscript>This page needs JavaScript; the same data is at /debug/sources, "
      "/debug/gateways, /debug/proxies and /debug/audit.</noscript>\n<script>" +
      kScript + "</script>\n</body>\n</html>\n";
  return html;
}

const std::string& StatusPageCsp() {
  static const std::string csp = "default-src 'none'; script-src " + CspHash(kScript) + "; style-src " +
                                 CspHash(kStyle) +
                                 "; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                                 "frame-ancestors 'none'";
  return csp;
}

nlohmann::json GatewaysJson(const cache::SnapshotCache& cache) {
  nlohmann::json gateways = nlohmann::json::array();
  for (const std::string& nc : cache.NodeClusters()) {
    cache::SnapshotPtr snap = cache.Get(nc);
    if (!snap) continue;
    nlohmann::json resources = nlohmann::json::object();
    for (ResourceType t : kAdsOrder) resources[std::string(ShortName(t))] = snap->Get(t).resources.size();
    gateways.push_back({{"node_cluster", nc}, {"version", snap->version()}, {"resources", std::move(resources)}});
  }
  // Node clusters that are not gateways get the mesh snapshot: its listeners are the services
  // proxyless clients can dial (xds:///NAME). "" is never a gateway name.
  nlohmann::json proxyless = {{"version", ""}, {"services", nlohmann::json::array()}};
  if (cache::SnapshotPtr mesh = cache.Get(""); mesh && mesh->node_cluster().empty()) {
    proxyless["version"] = mesh->version();
    for (const auto& [name, r] : mesh->Get(ResourceType::kListener).resources) proxyless["services"].push_back(name);
  }
  return {{"gateways", std::move(gateways)}, {"proxyless", std::move(proxyless)}};
}

absl::StatusOr<nlohmann::json> ReadAuditTail(const std::string& path, size_t limit, size_t* skipped) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return absl::UnavailableError("cannot read the audit log " + path + ": " + std::strerror(errno));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  if (std::fseek(f, 0, SEEK_END) != 0) return absl::UnavailableError("cannot seek in the audit log " + path);
  long end = std::ftell(f);
  if (end < 0) return absl::UnavailableError("cannot seek in the audit log " + path);

  // Read blocks backwards until the tail holds limit+1 newlines (the first line may be partial)
  // or the start of the file is reached. A line being appended right now has no newline yet: it
  // is left out, so a half-written record never shows.
  std::string tail;
  long pos = end;
  const long kBlock = 64 * 1024;
  auto newlines = [&] { return static_cast<size_t>(std::count(tail.begin(), tail.end(), '\n')); };
  while (pos > 0 && newlines() <= limit && tail.size() < limit * kMaxAuditLine) {
    long n = pos >= kBlock ? kBlock : pos;
    pos -= n;
    std::string block(static_cast<size_t>(n), '\0');
    if (std::fseek(f, pos, SEEK_SET) != 0 || std::fread(block.data(), 1, block.size(), f) != block.size()) {
      return absl::UnavailableError("cannot read the audit log " + path);
    }
    tail.insert(0, block);
  }
  size_t last_nl = tail.rfind('\n');
  if (last_nl == std::string::npos) return nlohmann::json::array();
  tail.resize(last_nl);  // drop the unterminated last line, if any
  std::vector<std::string> lines;
  size_t stop = tail.size();
  while (lines.size() < limit) {
    size_t nl = stop == 0 ? std::string::npos : tail.rfind('\n', stop - 1);
    size_t begin = nl == std::string::npos ? 0 : nl + 1;
    if (nl == std::string::npos && pos > 0) break;  // the first line in the buffer may be cut
    lines.push_back(tail.substr(begin, stop - begin));
    if (nl == std::string::npos) break;
    stop = nl;
  }
  nlohmann::json out = nlohmann::json::array();
  size_t bad = 0;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->empty()) continue;
    nlohmann::json j = it->size() > kMaxAuditLine ? nlohmann::json(nlohmann::json::value_t::discarded)
                                                   : nlohmann::json::parse(*it, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      ++bad;
      continue;
    }
    out.push_back(std::move(j));
  }
  if (skipped) *skipped = bad;
  return out;
}

void RegisterStatusPage(HttpServer& http, const cache::SnapshotCache& cache, StatusPageOptions options) {
  http.Handle("/", [](const HttpRequest&) {
    HttpResponse r{200, "text/html; charset=utf-8", StatusPageHtml()};
    r.headers["Content-Security-Policy"] = StatusPageCsp();
    r.headers["X-Content-Type-Options"] = "nosniff";
    r.headers["Referrer-Policy"] = "no-referrer";
    return r;
  });
  http.Handle("/debug/gateways", [&cache](const HttpRequest&) { return Json(200, GatewaysJson(cache)); });
  http.Handle("/debug/audit", [path = options.audit_path](const HttpRequest& req) {
    if (path.empty()) return Json(404, {{"error", "the audit log is not enabled (audit.path in tern.yaml)"}});
    size_t limit = kDefaultAuditLimit;
    if (auto it = req.query.find("limit"); it != req.query.end()) {
      if (!absl::SimpleAtoi(it->second, &limit) || limit < 1 || limit > kMaxAuditLimit) {
        return Json(400, {{"error", "limit must be an integer from 1 to " + std::to_string(kMaxAuditLimit)}});
      }
    }
    size_t skipped = 0;
    auto records = ReadAuditTail(path, limit, &skipped);
    if (!records.ok()) return Json(503, {{"error", std::string(records.status().message())}});
    return Json(200, {{"path", path}, {"records", std::move(*records)}, {"skipped_lines", skipped}});
  });
}

}  // namespace tern::admin
