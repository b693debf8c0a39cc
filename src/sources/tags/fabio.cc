#include "sources/tags/fabio.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "absl/status/status.h"

namespace tern::sources::tags {
namespace {

constexpr uint32_t kWhole = 10000;  // split weights are in basis points of the route's traffic

absl::Status Bad(const std::string& message) { return absl::InvalidArgumentError(message); }

bool ValidHost(const std::string& host) {
  for (unsigned char c : host) {
    if (!std::isalnum(c) && c != '.' && c != '-' && c != '*' && c != ':' && c != '_') return false;
  }
  return true;
}

std::optional<uint32_t> ParsePort(const std::string& text) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const unsigned long v = std::stoul(text);
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint32_t>(v);
}

absl::StatusOr<model::Redirect> ParseRedirect(const std::string& value) {
  const size_t comma = value.find(',');
  if (comma == std::string::npos) return Bad("redirect=" + value + ": expected CODE,URL (e.g. redirect=301,https://example.com$path)");
  const std::string code_text = value.substr(0, comma);
  std::string url = value.substr(comma + 1);
  model::Redirect r;
  const std::set<std::string> codes = {"301", "302", "303", "307", "308"};
  if (!codes.count(code_text)) return Bad("redirect code '" + code_text + "': tern supports 301, 302, 303, 307 and 308");
  r.code = static_cast<uint32_t>(std::stoul(code_text));
  if (url.empty()) return Bad("redirect=" + value + ": the URL is missing");
  bool keep_path = false;
  constexpr char kPathVar[] = "$path";
  if (url.size() >= 5 && url.compare(url.size() - 5, 5, kPathVar) == 0) {
    keep_path = true;
    url.resize(url.size() - 5);
  }
  if (url.find('$') != std::string::npos) return Bad("redirect URL '" + value.substr(comma + 1) + "': only a trailing $path is supported");
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0 || rest.rfind("https://", 0) == 0) {
    const size_t sep = rest.find("://");
    r.scheme = rest.substr(0, sep);
    rest = rest.substr(sep + 3);
    const size_t slash = rest.find('/');
    r.host = rest.substr(0, slash);
    rest = slash == std::string::npos ? "" : rest.substr(slash);
    if (r.host.empty() || !ValidHost(r.host)) return Bad("redirect URL '" + value.substr(comma + 1) + "': bad host");
  } else if (!rest.empty() && rest[0] != '/') {
    return Bad("redirect URL '" + value.substr(comma + 1) + "': expected http(s)://host[/path] or /path");
  }
  if (keep_path) {
    // Envoy can keep the whole path or replace it; "/new$path" would need a prefix rewrite.
    if (!rest.empty()) return Bad("redirect URL '" + value.substr(comma + 1) + "': a path before $path is not supported");
  } else {
    r.path = rest.empty() ? "/" : rest;
  }
  return r;
}

// A cluster-name-safe spelling of the route.
std::string RouteKey(const FabioRoute& r) {
  return r.tcp_port ? ":" + std::to_string(r.tcp_port) : r.host + r.path;
}

bool SameOptions(const FabioRoute& a, const FabioRoute& b) {
  FabioRoute x = a, y = b;
  x.weight.reset();
  y.weight.reset();
  return x == y;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace

std::optional<std::string> FabioRoute::Rewrite() const {
  if (!strip && !prepend) return std::nullopt;
  std::string rest = path.substr(strip ? strip->size() : 0);
  return prepend.value_or("") + rest;
}

bool IsFabioTag(const std::string& tag) { return tag.rfind(kFabioPrefix, 0) == 0; }

absl::StatusOr<FabioRoute> ParseFabioTag(const std::string& tag) {
  if (!IsFabioTag(tag)) return Bad("not a urlprefix- tag");
  std::istringstream in(tag.substr(sizeof(kFabioPrefix) - 1));
  std::string source;
  in >> source;
  if (source.empty()) return Bad("the route is empty (expected urlprefix-[host]/path or urlprefix-:port)");
  FabioRoute r;
  if (source[0] == ':') {
    auto port = ParsePort(source.substr(1));
    if (!port) return Bad(Quote(source) + " is not a port in 1..65535");
    r.tcp_port = *port;
  } else {
    const size_t slash = source.find('/');
    if (slash == std::string::npos) return Bad(Quote(source) + " has no path (expected [host]/path)");
    r.host = source.substr(0, slash);
    r.path = source.substr(slash);
    if (!ValidHost(r.host)) return Bad("host " + Quote(r.host) + " has characters a host name cannot have");
  }
  std::set<std::string> seen;
  std::string opt;
  while (in >> opt) {
    const size_t eq = opt.find('=');
    if (eq == std::string::npos || eq == 0) return Bad("option " + Quote(opt) + " is not key=value");
    const std::string key = opt.substr(0, eq), value = opt.substr(eq + 1);
    if (!seen.insert(key).second) return Bad("option " + key + "= is given twice");
    if (key == "strip" || key == "prepend") {
      if (value.empty() || value[0] != '/') return Bad(key + "=" + value + ": expected a path starting with /");
      (key == "strip" ? r.strip : r.prepend) = value;
    } else if (key == "proto") {
      r.protocol_set = true;
      if (value == "http") r.protocol = model::Protocol::kHttp;
      else if (value == "grpc") r.protocol = model::Protocol::kGrpc;
      else if (value == "tcp") r.protocol = model::Protocol::kTcp;
      else if (value == "https" || value == "grpcs")
        return Bad("proto=" + value + " is not supported: tern verifies upstream TLS against a CA, which a tag cannot name");
      else return Bad("proto=" + value + ": expected http, grpc or tcp");
    } else if (key == "redirect") {
      auto red = ParseRedirect(value);
      if (!red.ok()) return red.status();
      r.redirect = *red;
    } else if (key == "weight") {
      char* end = nullptr;
      const double w = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(w) || w <= 0 || w > 1)
        return Bad("weight=" + value + ": expected a share in (0, 1], e.g. weight=0.2");
      r.weight = w;
    } else if (key == "register") {
      // Tells Fabio to register itself under that name: nothing for tern to do.
    } else if (key == "allow" || key == "deny" || key == "auth" || key == "host" || key == "tlsskipverify" ||
               key == "pxyproto") {
      return Bad("option " + key + "= is not supported by tern (the route is left out rather than served without it)");
    } else {
      return Bad("unknown option " + Quote(key));
    }
  }
  if (r.tcp_port) {
    if (r.protocol != model::Protocol::kTcp) return Bad(Quote(source) + " is a TCP route: it needs proto=tcp");
    if (r.strip || r.prepend || r.redirect || r.weight) return Bad("a TCP route takes no strip, prepend, redirect or weight");
  } else {
    if (r.protocol == model::Protocol::kTcp) return Bad("proto=tcp needs a port route (urlprefix-:PORT proto=tcp)");
    if (r.strip && r.path.rfind(*r.strip, 0) != 0) return Bad("strip=" + *r.strip + " is not a prefix of the path " + r.path);
    if (r.redirect && r.weight) return Bad("a redirect takes no weight");
  }
  return r;
}

namespace {

struct Target {
  const TaggedService* service;
  const model::Endpoint* endpoint;
  FabioRoute route;
  std::string tag;
};

// One cluster of a route's split, before weights.
struct Group {
  std::string cluster;
  const TaggedService* service;
  std::optional<uint32_t> share;  // basis points from weight=; none = shares the rest by size
  std::vector<model::Endpoint> endpoints;
};

model::Cluster MakeCluster(const Group& g, const FabioRoute& r, const std::string& origin) {
  model::Cluster c;
  c.name = g.cluster;
  c.service = g.service->name;
  if (r.protocol_set) c.protocol = r.protocol;
  else if (r.tcp_port) c.protocol = model::Protocol::kTcp;
  else c.protocol = g.service->protocol == model::Protocol::kTcp ? model::Protocol::kHttp : g.service->protocol;
  c.endpoints = g.endpoints;
  c.origin = origin;
  return c;
}

// The weights of a split: groups with a share get it; the others divide what is left in
// proportion to their size. Shares adding up to more than the whole are scaled down.
std::vector<model::WeightedCluster> Weigh(const std::vector<Group>& groups) {
  std::vector<model::WeightedCluster> out;
  if (groups.size() == 1) return {{.cluster = groups[0].cluster, .weight = 1}};
  uint64_t fixed = 0, sized = 0;
  for (const auto& g : groups) {
    if (g.share) fixed += *g.share;
    else sized += g.endpoints.size();
  }
  const bool scale = sized == 0 || fixed > kWhole;
  const uint64_t left = scale ? 0 : kWhole - fixed;
  uint64_t given = 0;
  size_t last_sized = groups.size();
  for (size_t i = 0; i < groups.size(); ++i) {
    const Group& g = groups[i];
    uint64_t w;
    if (g.share) {
      w = scale && fixed > 0 ? (*g.share * kWhole + fixed / 2) / fixed : *g.share;
    } else {
      w = sized ? left * g.endpoints.size() / sized : 0;
      given += w;
      last_sized = i;
    }
    out.push_back({.cluster = g.cluster, .weight = static_cast<uint32_t>(w)});
  }
  // What integer division left over goes to the last group sharing the rest.
  if (last_sized < groups.size()) out[last_sized].weight += static_cast<uint32_t>(left - given);
  return out;
}

// The groups of one route restricted to `only` (all services when null): one per (service,
// weight); a service whose tagged instances all carry a weight gets its untagged instances as
// "the rest".
std::vector<Group> Groups(const std::vector<Target>& targets, const std::string& key, const TaggedService* only) {
  std::map<std::pair<std::string, uint32_t>, Group> by;  // (service, share or kWhole+1)
  std::map<std::string, std::set<std::string>> used;      // service → endpoint ids in a group
  std::map<std::string, bool> has_plain;
  std::map<std::string, const TaggedService*> services;
  for (const auto& t : targets) {
    if (only && t.service != only) continue;
    const std::string& svc = t.service->name;
    services[svc] = t.service;
    std::optional<uint32_t> share;
    if (t.route.weight) share = static_cast<uint32_t>(std::llround(*t.route.weight * kWhole));
    if (!share) has_plain[svc] = true;
    Group& g = by[{svc, share ? *share : kWhole + 1}];
    if (g.cluster.empty()) {
      g.cluster = svc + "~fabio~" + key + (share ? "~w" + std::to_string(*share) : "");
      g.service = t.service;
      g.share = share;
    }
    if (used[svc].insert(t.endpoint->id + "@" + t.endpoint->address + ":" + std::to_string(t.endpoint->port)).second)
      g.endpoints.push_back(*t.endpoint);
  }
  std::vector<Group> out;
  for (auto& [k, g] : by) out.push_back(std::move(g));
  for (const auto& [svc, s] : services) {
    if (has_plain[svc]) continue;
    Group rest{.cluster = svc + "~fabio~" + key + "~rest", .service = s, .share = std::nullopt, .endpoints = {}};
    for (const auto& ep : s->endpoints) {
      if (!used[svc].count(ep.id + "@" + ep.address + ":" + std::to_string(ep.port))) rest.endpoints.push_back(ep);
    }
    if (!rest.endpoints.empty()) out.push_back(std::move(rest));
  }
  std::sort(out.begin(), out.end(), [](const Group& a, const Group& b) { return a.cluster < b.cluster; });
  return out;
}

// The model routes of one HTTP Fabio route. A strip that removes the whole path becomes two
// routes (the path itself, and path + "/" rewritten to "/"), since Envoy would otherwise forward
// "/b/x" as "//x" or "/b" as "".
std::vector<model::Route> HttpRoutes(const FabioRoute& r, const std::string& name, const std::string& origin,
                                     const std::vector<model::WeightedCluster>& clusters, bool rewrite) {
  model::Route base;
  base.name = name;
  base.origin = origin;
  base.match.path_kind = model::RouteMatch::PathKind::kPrefix;
  base.match.path = r.path;
  if (r.redirect) base.action.redirect = r.redirect;
  else base.action.clusters = clusters;
  std::optional<std::string> rw = rewrite && !r.redirect ? r.Rewrite() : std::nullopt;
  if (!rw) return {base};
  if (!rw->empty()) {
    base.action.prefix_rewrite = *rw;
    return {base};
  }
  // Rewrite to "" (strip == path): exact path → "/", path + "/" → "/".
  const std::string dir = r.path.back() == '/' ? r.path : r.path + "/";
  model::Route exact = base, sub = base;
  exact.match.path_kind = model::RouteMatch::PathKind::kExact;
  exact.match.path = r.path;
  exact.action.prefix_rewrite = "/";
  sub.match.path = dir;
  sub.action.prefix_rewrite = "/";
  sub.name = name + " (subpaths)";
  if (r.path == dir) return {sub};
  return {sub, exact};
}

}  // namespace

FabioWorld BuildFabioRoutes(const std::vector<TaggedService>& services, const FabioOptions& options,
                            std::vector<model::Problem>* problems) {
  FabioWorld out;
  // Route key → its targets, in (service, instance) order.
  std::map<std::string, std::vector<Target>> routes;
  for (const auto& s : services) {
    for (const auto& ep : s.endpoints) {
      for (const auto& tag : ep.tags) {
        if (!IsFabioTag(tag)) continue;
        const std::string origin = s.origin + " instance " + ep.id + " tag " + Quote(tag);
        auto r = ParseFabioTag(tag);
        if (!r.ok()) {
          problems->push_back({origin, std::string(r.status().message())});
          continue;
        }
        auto& list = routes[RouteKey(*r)];
        if (!list.empty() && !SameOptions(list.front().route, *r)) {
          problems->push_back({origin, "route " + RouteKey(*r) + " is already defined with other options by " +
                                           list.front().service->origin + " instance " + list.front().endpoint->id +
                                           " tag " + Quote(list.front().tag) + "; this instance is left out"});
          continue;
        }
        list.push_back({&s, &ep, *r, tag});
      }
    }
  }
  if (routes.empty() && options.gateways.empty()) return out;

  // Virtual hosts by host ("" = any), TCP listeners by port.
  std::map<std::string, std::vector<model::Route>> vhosts;
  std::map<uint32_t, std::string> tcp;  // port → cluster
  for (const auto& [key, targets] : routes) {
    const FabioRoute& r = targets.front().route;
    const std::string origin = targets.front().service->origin + " tag " + Quote(targets.front().tag);
    std::vector<Group> groups;
    if (!r.redirect) groups = Groups(targets, key, nullptr);
    for (const auto& g : groups) {
      out.clusters.emplace(g.cluster, MakeCluster(g, r, origin));
    }
    if (r.tcp_port) {
      if (r.tcp_port == options.port) {
        problems->push_back({origin, "port " + std::to_string(r.tcp_port) + " is the gateway's HTTP port"});
        continue;
      }
      std::set<std::string> svcs;
      for (const auto& t : targets) svcs.insert(t.service->name);
      if (svcs.size() > 1 || groups.size() != 1) {
        problems->push_back({origin, "TCP port " + std::to_string(r.tcp_port) + " is claimed by several services; kept for " +
                                         groups.front().service->name + " only"});
      }
      tcp[r.tcp_port] = groups.front().cluster;
      continue;
    }
    for (auto& route : HttpRoutes(r, "fabio " + key, origin, Weigh(groups), true)) vhosts[r.host].push_back(std::move(route));

    // Proxyless clients of a service follow its host-less weighted routes (gRPC method paths
    // are "/package.Service/Method": a tag urlprefix-/package.Service weight=0.2 splits them).
    if (!r.host.empty() || r.redirect) continue;
    std::set<const TaggedService*> weighted;
    for (const auto& t : targets) if (t.route.weight) weighted.insert(t.service);
    for (const TaggedService* s : weighted) {
      auto own = Groups(targets, key, s);
      for (const auto& g : own) out.clusters.emplace(g.cluster, MakeCluster(g, r, origin));
      auto rs = HttpRoutes(r, "fabio " + key, origin, Weigh(own), false);
      auto& list = out.service_routes[s->name];
      list.insert(list.end(), rs.begin(), rs.end());
    }
  }

  // Longest path first; for equal lengths, exact before prefix, then by path.
  auto longest_first = [](const model::Route& a, const model::Route& b) {
    if (a.match.path.size() != b.match.path.size()) return a.match.path.size() > b.match.path.size();
    if (a.match.path_kind != b.match.path_kind) return a.match.path_kind == model::RouteMatch::PathKind::kExact;
    return a.match.path < b.match.path;
  };
  for (auto& [svc, list] : out.service_routes) std::stable_sort(list.begin(), list.end(), longest_first);

  for (const auto& name : options.gateways) {
    model::Gateway g;
    g.name = name;
    g.origin = "fabio gateway " + name;
    model::Listener http;
    http.name = "http_" + std::to_string(options.port);
    http.port = options.port;
    http.protocol = model::Protocol::kHttp;
    http.origin = g.origin;
    for (auto& [host, list] : vhosts) {
      if (host.empty()) continue;  // the catch-all virtual host goes last
      model::VirtualHost vh;
      vh.name = host;
      vh.domains = {host, host + ":" + std::to_string(options.port)};
      vh.routes = list;
      std::stable_sort(vh.routes.begin(), vh.routes.end(), longest_first);
      vh.origin = g.origin;
      http.virtual_hosts.push_back(std::move(vh));
    }
    if (auto any = vhosts.find(""); any != vhosts.end()) {
      model::VirtualHost vh;
      vh.name = "any";
      vh.domains = {"*"};
      vh.routes = any->second;
      std::stable_sort(vh.routes.begin(), vh.routes.end(), longest_first);
      vh.origin = g.origin;
      http.virtual_hosts.push_back(std::move(vh));
    }
    g.listeners.push_back(std::move(http));
    for (const auto& [port, cluster] : tcp) {
      model::Listener l;
      l.name = "tcp_" + std::to_string(port);
      l.port = port;
      l.protocol = model::Protocol::kTcp;
      l.tcp_cluster = cluster;
      l.origin = g.origin;
      g.listeners.push_back(std::move(l));
    }
    out.gateways.push_back(std::move(g));
  }
  return out;
}

}  // namespace tern::sources::tags
