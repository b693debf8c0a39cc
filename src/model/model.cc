#include "model/model.h"
#include "model/changes.h"

#include <set>
#include <string_view>

namespace tern::model {

const char* ToString(Protocol p) {
  switch (p) {
    case Protocol::kHttp: return "http";
    case Protocol::kHttp2: return "http2";
    case Protocol::kGrpc: return "grpc";
    case Protocol::kTcp: return "tcp";
  }
  return "?";
}

const char* ToString(Health h) {
  switch (h) {
    case Health::kPassing: return "passing";
    case Health::kWarning: return "warning";
    case Health::kCritical: return "critical";
    case Health::kMaintenance: return "maintenance";
  }
  return "?";
}

const char* ToString(LbPolicy p) {
  switch (p) {
    case LbPolicy::kRoundRobin: return "round_robin";
    case LbPolicy::kLeastRequest: return "least_request";
    case LbPolicy::kRandom: return "random";
    case LbPolicy::kRingHash: return "ring_hash";
    case LbPolicy::kMaglev: return "maglev";
  }
  return "?";
}

namespace {
const char* const kRetryConditions[] = {
    "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited",
    "retriable-4xx", "refused-stream", "retriable-status-codes", "retriable-headers",
    "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal", "resource-exhausted",
    "unavailable"};
}  // namespace

bool IsRetryCondition(const std::string& condition) {
  for (const char* c : kRetryConditions) {
    if (condition == c) return true;
  }
  return false;
}

std::string RetryConditionList() {
  std::string out;
  for (const char* c : kRetryConditions) {
    if (!out.empty()) out += ", ";
    out += c;
  }
  return out;
}

std::string HeaderNameProblem(const std::string& name) {
  if (name.empty()) return "a header name cannot be empty";
  if (name[0] == ':') return "pseudo-header '" + name + "' cannot be rewritten";
  for (char c : name) {
    const bool token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!token) return "header name '" + name + "' has a character HTTP does not allow in names";
  }
  std::string lower;
  for (char c : name) lower.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  if (lower == "host") return "the host header cannot be rewritten";
  return "";
}

std::string HeaderValueProblem(const std::string& value) {
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return "a header value cannot contain CR, LF or NUL";
  }
  return "";
}

const char* ToString(Secret::Kind k) {
  switch (k) {
    case Secret::Kind::kTlsCertificate: return "certificate";
    case Secret::Kind::kValidationContext: return "CA";
  }
  return "?";
}

namespace {
template <typename Map>
void MergeMap(const Map& from, Map& into, const char* what, std::vector<Problem>* problems) {
  for (const auto& [name, value] : from) {
    auto [it, inserted] = into.emplace(name, value);
    if (!inserted && problems) {
      problems->push_back({value.origin, std::string(what) + " '" + name +
                                             "' is already defined at " + it->second.origin});
    }
  }
}

void CheckRoutes(const World& w, const std::vector<Route>& routes, std::vector<Problem>& out) {
  for (const auto& r : routes) {
    if (r.action.redirect) continue;
    if (r.action.clusters.empty()) {
      out.push_back({r.origin, "route has no destination"});
      continue;
    }
    uint64_t total = 0;
    for (const auto& wc : r.action.clusters) {
      total += wc.weight;
      if (!w.clusters.contains(wc.cluster)) {
        out.push_back({r.origin, "route refers to unknown service '" + wc.cluster + "'"});
      }
    }
    if (r.action.clusters.size() > 1 && total == 0) {
      out.push_back({r.origin, "weighted split has a total weight of 0"});
    }
  }
}
// A reference from `origin` (what: "listener certificate") to secret `name`, which must exist
// and be of `kind`.
void CheckSecret(const World& w, const std::string& origin, const std::string& what,
                 const std::string& name, Secret::Kind kind, std::vector<Problem>& out) {
  auto it = w.secrets.find(name);
  if (it == w.secrets.end()) {
    out.push_back({origin, what + " refers to unknown secret '" + name + "'"});
  } else if (it->second.kind != kind) {
    out.push_back({origin, what + " needs a " + ToString(kind) + " secret, but '" + name + "' (" +
                               it->second.origin + ") is a " + ToString(it->second.kind)});
  }
}

void CheckListenerTls(const World& w, const Listener& l, std::vector<Problem>& out) {
  const ListenerTls& tls = *l.tls;
  if (tls.certs.empty()) out.push_back({l.origin, "a TLS listener needs at least one certificate"});
  std::set<std::string> names;
  int defaults = 0;
  for (const auto& c : tls.certs) {
    CheckSecret(w, l.origin, "listener certificate", c.secret, Secret::Kind::kTlsCertificate, out);
    if (c.server_names.empty() && ++defaults == 2) {
      out.push_back({l.origin, "only one certificate may leave server_names empty (the default)"});
    }
    for (const auto& n : c.server_names) {
      if (!names.insert(n).second) {
        out.push_back({l.origin, "server name '" + n + "' is given to two certificates"});
      }
    }
  }
  if (tls.require_client_cert && tls.client_ca_secret.empty()) {
    out.push_back({l.origin, "require_client_cert needs a client CA"});
  }
  if (!tls.client_ca_secret.empty()) {
    CheckSecret(w, l.origin, "listener client CA", tls.client_ca_secret,
                Secret::Kind::kValidationContext, out);
  }
}

void CheckUpstreamTls(const World& w, const Cluster& c, std::vector<Problem>& out) {
  const UpstreamTls& tls = *c.tls;
  if (tls.ca_secret.empty()) {
    out.push_back({c.origin, "upstream TLS needs a CA to verify the upstream's certificate"});
  } else {
    CheckSecret(w, c.origin, "upstream TLS CA", tls.ca_secret, Secret::Kind::kValidationContext, out);
  }
  if (!tls.client_cert_secret.empty()) {
    CheckSecret(w, c.origin, "upstream client certificate", tls.client_cert_secret,
                Secret::Kind::kTlsCertificate, out);
  }
}

void CheckSecretContent(const Secret& s, std::vector<Problem>& out) {
  if (s.kind == Secret::Kind::kTlsCertificate) {
    if (s.cert_chain_pem.empty()) out.push_back({s.origin, "secret '" + s.name + "' has no certificate"});
    if (s.private_key_pem.empty()) out.push_back({s.origin, "secret '" + s.name + "' has no private key"});
  } else if (s.trusted_ca_pem.empty()) {
    out.push_back({s.origin, "secret '" + s.name + "' has no CA certificate"});
  }
}
}  // namespace

World Merge(const std::vector<const World*>& fragments, std::vector<Problem>* problems) {
  World out;
  for (const World* f : fragments) {
    MergeMap(f->clusters, out.clusters, "service", problems);
    MergeMap(f->gateways, out.gateways, "gateway", problems);
    MergeMap(f->service_routes, out.service_routes, "routes for service", problems);
    MergeMap(f->secrets, out.secrets, "secret", problems);
    if (f->defaults) {
      if (!out.defaults) {
        out.defaults = f->defaults;
      } else if (problems) {
        problems->push_back({f->defaults->origin, "gateway defaults are already set at " + out.defaults->origin +
                                                      " (one source only may set them)"});
      }
    }
  }
  return out;
}

namespace {
void CheckTelemetry(const World& world, const std::optional<Tracing>& tracing,
                    const std::optional<std::vector<AccessLog>>& logs, std::vector<Problem>& out) {
  if (tracing && !world.clusters.contains(tracing->collector_cluster)) {
    out.push_back({tracing->origin, "tracing collector refers to unknown service '" + tracing->collector_cluster + "'"});
  }
  if (!logs) return;
  for (const auto& l : *logs) {
    if (l.sink == AccessLog::Sink::kGrpc && !world.clusters.contains(l.grpc_cluster)) {
      out.push_back({l.origin, "access log service refers to unknown service '" + l.grpc_cluster + "'"});
    }
  }
}
}  // namespace

std::vector<Problem> ValidateElements(const World& world, const Elements& e) {
  std::vector<Problem> out;
  if (e.defaults && world.defaults) CheckTelemetry(world, world.defaults->tracing, world.defaults->access_logs, out);
  for (const auto& gname : e.gateways) {
    auto it = world.gateways.find(gname);
    if (it == world.gateways.end()) continue;
    const Gateway& g = it->second;
    CheckTelemetry(world, g.tracing, g.access_logs, out);
    std::set<std::pair<std::string, uint32_t>> ports;
    for (const auto& l : g.listeners) {
      if (!ports.emplace(l.address, l.port).second) {
        out.push_back({l.origin, "port " + std::to_string(l.port) + " is used twice in gateway '" + gname + "'"});
      }
      if (l.protocol == Protocol::kTcp) {
        if (!world.clusters.contains(l.tcp_cluster)) {
          out.push_back({l.origin, "tcp listener refers to unknown service '" + l.tcp_cluster + "'"});
        }
      }
      for (const auto& vh : l.virtual_hosts) CheckRoutes(world, vh.routes, out);
      if (l.tls) CheckListenerTls(world, l, out);
    }
  }
  for (const auto& svc : e.service_routes) {
    if (auto it = world.service_routes.find(svc); it != world.service_routes.end()) {
      CheckRoutes(world, it->second.routes, out);
    }
  }
  for (const auto& name : e.clusters) {
    if (auto it = world.clusters.find(name); it != world.clusters.end() && it->second.tls) {
      CheckUpstreamTls(world, it->second, out);
    }
  }
  for (const auto& name : e.secrets) {
    if (auto it = world.secrets.find(name); it != world.secrets.end()) CheckSecretContent(it->second, out);
  }
  return out;
}

std::vector<Problem> Validate(const World& world) {
  Elements all;
  all.defaults = true;
  for (const auto& [n, _] : world.gateways) all.gateways.insert(all.gateways.end(), n);
  for (const auto& [n, _] : world.service_routes) all.service_routes.insert(all.service_routes.end(), n);
  for (const auto& [n, _] : world.clusters) all.clusters.insert(all.clusters.end(), n);
  for (const auto& [n, _] : world.secrets) all.secrets.insert(all.secrets.end(), n);
  return ValidateElements(world, all);
}

}  // namespace tern::model
