#include "model/model.h"

#include <set>

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
  }
  return out;
}

std::vector<Problem> Validate(const World& world) {
  std::vector<Problem> out;
  std::set<std::string> listener_names;
  for (const auto& [gname, g] : world.gateways) {
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
  for (const auto& [svc, sr] : world.service_routes) CheckRoutes(world, sr.routes, out);
  for (const auto& [name, c] : world.clusters) {
    if (c.tls) CheckUpstreamTls(world, c, out);
  }
  for (const auto& [name, s] : world.secrets) CheckSecretContent(s, out);
  return out;
}

}  // namespace tern::model
