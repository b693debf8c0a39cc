#include "sources/file/yaml_decoder.h"

#include <set>
#include <utility>

#include "sources/file/policy_yaml.h"
#include "sources/file/yaml_reader.h"

namespace tern::sources::file {
namespace {

// Index order matches the model enums, so a choice index converts directly.
const std::vector<std::string> kProtocols = {"http", "http2", "grpc", "tcp"};
const std::vector<std::string> kHealth = {"passing", "warning", "critical", "maintenance"};
const std::vector<std::string> kLbPolicies = {"round_robin", "least_request", "random",
                                              "ring_hash", "maglev"};
const std::vector<std::string> kStringMatchKinds = {"exact", "prefix", "suffix",
                                                    "contains", "regex", "present"};

class Decoder {
 public:
  explicit Decoder(YamlContext& ctx) : ctx_(ctx) {}

  void Document(const YAML::Node& root, DecodedServices& out) {
    model::World& world = out.world;
    MapReader top(ctx_, root, "");
    if (!top.valid()) return;
    YAML::Node secrets = top.Get("secrets");
    if (IsSequence(ctx_, secrets, "secrets")) {
      size_t i = 0;
      for (const auto& s : secrets) Secret(s, IndexPath("secrets", i++), out);
    }
    YAML::Node services = top.Get("services");
    if (IsSequence(ctx_, services, "services")) {
      size_t i = 0;
      for (const auto& s : services) Service(s, IndexPath("services", i++), world);
    }
    if (top.Has("defaults")) Defaults(top.Get("defaults"), "defaults", world);
    YAML::Node gateways = top.Get("gateways");
    if (IsSequence(ctx_, gateways, "gateways")) {
      size_t i = 0;
      for (const auto& g : gateways) Gateway(g, IndexPath("gateways", i++), world);
    }
    top.Finish();
  }

 private:
  std::string Origin(const YAML::Node& n, const std::string& path) const {
    return ctx_.Origin(n, path);
  }

  // {name, cert_file, key_file} or {name, ca_file}.
  void Secret(const YAML::Node& node, const std::string& path, DecodedServices& out) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return;
    const size_t before = ctx_.error_count();
    model::Secret s;
    SecretFiles files;
    s.origin = files.origin = Origin(node, path);
    if (auto name = m.String("name", /*required=*/true)) {
      if (name->empty()) m.Error("name", "must not be empty");
      s.name = files.secret = *name;
    }
    auto nonempty = [&](const char* key) -> std::string {
      auto v = m.String(key);
      if (v && v->empty()) m.Error(key, "must not be empty");
      return v ? *v : "";
    };
    files.cert_file = nonempty("cert_file");
    files.key_file = nonempty("key_file");
    files.ca_file = nonempty("ca_file");
    const bool cert = m.Has("cert_file") || m.Has("key_file");
    const bool ca = m.Has("ca_file");
    if (cert && ca) {
      ctx_.Error(node, path, "a secret is either a certificate (cert_file, key_file) or a CA (ca_file), not both");
    } else if (!cert && !ca) {
      ctx_.Error(node, path, "a secret needs cert_file and key_file, or ca_file");
    } else if (cert && !(m.Has("cert_file") && m.Has("key_file"))) {
      m.Error(m.Has("cert_file") ? "key_file" : "cert_file", "a certificate secret needs both cert_file and key_file");
    }
    s.kind = ca ? model::Secret::Kind::kValidationContext : model::Secret::Kind::kTlsCertificate;
    m.Finish();
    if (ctx_.error_count() != before || s.name.empty()) return;
    if (auto it = out.world.secrets.find(s.name); it != out.world.secrets.end()) {
      ctx_.Error(node, path, "secret '" + s.name + "' is already defined at " + it->second.origin);
      return;
    }
    out.world.secrets[s.name] = std::move(s);
    out.secret_files.push_back(std::move(files));
  }

  // A listener's tls: {certs: [{server_names, secret}], require_client_cert, client_ca, alpn}.
  std::optional<model::ListenerTls> ListenerTlsOf(const YAML::Node& node, const std::string& path,
                                                  model::Protocol protocol) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return std::nullopt;
    model::ListenerTls tls;
    // ALPN only means something to HTTP; a TLS-terminating TCP listener offers none.
    if (protocol == model::Protocol::kTcp) tls.alpn.clear();
    YAML::Node certs = m.Get("certs");
    const std::string cpath = m.PathOf("certs");
    if (!certs.IsDefined() || (certs.IsSequence() && certs.size() == 0)) {
      m.Error("certs", "a TLS listener needs at least one certificate");
    } else if (IsSequence(ctx_, certs, cpath)) {
      size_t i = 0;
      for (const auto& c : certs) {
        MapReader cm(ctx_, c, IndexPath(cpath, i++));
        if (!cm.valid()) continue;
        model::SniCert sc;
        if (auto names = cm.StringList("server_names")) {
          for (const auto& n : *names) {
            if (n.empty()) cm.Error("server_names", "a server name must not be empty");
          }
          sc.server_names = *names;
        }
        if (auto secret = cm.String("secret", /*required=*/true)) sc.secret = *secret;
        cm.Finish();
        tls.certs.push_back(std::move(sc));
      }
    }
    if (auto b = m.Bool("require_client_cert")) tls.require_client_cert = *b;
    if (auto ca = m.String("client_ca")) tls.client_ca_secret = *ca;
    if (tls.require_client_cert && tls.client_ca_secret.empty()) {
      m.Error("require_client_cert", "require_client_cert needs client_ca");
    }
    if (auto alpn = m.StringList("alpn")) tls.alpn = *alpn;
    m.Finish();
    return tls;
  }

  // A service's tls: {sni, ca, client_cert, verify_sans}.
  std::optional<model::UpstreamTls> UpstreamTlsOf(const YAML::Node& node, const std::string& path) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return std::nullopt;
    model::UpstreamTls tls;
    if (auto sni = m.String("sni")) {
      if (sni->size() > 255) m.Error("sni", "a server name is at most 255 bytes");
      tls.sni = *sni;
    }
    if (auto ca = m.String("ca", /*required=*/true)) tls.ca_secret = *ca;
    if (auto cc = m.String("client_cert")) tls.client_cert_secret = *cc;
    if (auto sans = m.StringList("verify_sans")) {
      for (const auto& san : *sans) {
        if (san.empty()) m.Error("verify_sans", "a subject alternative name must not be empty");
      }
      tls.verify_sans = *sans;
    }
    m.Finish();
    return tls;
  }

  void Service(const YAML::Node& node, const std::string& path, model::World& world) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return;
    model::Cluster c;
    c.origin = Origin(node, path);
    if (auto name = m.String("name", /*required=*/true)) c.name = c.service = *name;
    if (auto p = m.Enum("protocol", kProtocols)) c.protocol = static_cast<model::Protocol>(*p);
    if (auto d = m.Duration("connect_timeout", /*allow_zero=*/false)) c.connect_timeout = *d;
    if (auto p = m.Enum("lb_policy", kLbPolicies)) c.lb_policy = static_cast<model::LbPolicy>(*p);
    if (m.Has("circuit_breakers")) {
      const std::string cpath = m.PathOf("circuit_breakers");
      MapReader cb(ctx_, m.Get("circuit_breakers"), cpath);
      const uint32_t kMax = 0xffffffffu;
      c.circuit_breakers.max_connections = cb.Uint("max_connections", 0, kMax);
      c.circuit_breakers.max_pending_requests = cb.Uint("max_pending_requests", 0, kMax);
      c.circuit_breakers.max_requests = cb.Uint("max_requests", 0, kMax);
      c.circuit_breakers.max_retries = cb.Uint("max_retries", 0, kMax);
      cb.Finish();
    }
    if (m.Has("outlier_detection")) {
      MapReader od(ctx_, m.Get("outlier_detection"), m.PathOf("outlier_detection"));
      model::OutlierDetection o;
      if (auto v = od.Uint("consecutive_5xx", 1, 0xffffffffu)) o.consecutive_5xx = *v;
      if (auto v = od.Duration("interval", false)) o.interval = *v;
      if (auto v = od.Duration("base_ejection_time", false)) o.base_ejection_time = *v;
      if (auto v = od.Uint("max_ejection_percent", 0, 100)) o.max_ejection_percent = *v;
      od.Finish();
      c.outlier_detection = o;
    }
    if (m.Has("tls")) c.tls = UpstreamTlsOf(m.Get("tls"), m.PathOf("tls"));
    YAML::Node endpoints = m.Get("endpoints");
    if (IsSequence(ctx_, endpoints, m.PathOf("endpoints"))) {
      std::set<std::pair<std::string, uint32_t>> seen;
      size_t i = 0;
      for (const auto& e : endpoints) {
        const std::string epath = IndexPath(m.PathOf("endpoints"), i++);
        auto ep = Endpoint(e, epath);
        if (!ep) continue;
        if (!seen.emplace(ep->address, ep->port).second) {
          ctx_.Error(e, epath, "endpoint " + ep->address + ":" + std::to_string(ep->port) +
                                   " is listed twice");
          continue;
        }
        c.endpoints.push_back(std::move(*ep));
      }
    }
    if (m.Has("routes")) {
      YAML::Node routes = m.Get("routes");
      const std::string rpath = m.PathOf("routes");
      model::ServiceRoutes sr;
      sr.service = c.name;
      sr.origin = Origin(routes, rpath);
      Routes(routes, rpath, sr.routes);
      for (size_t i = 0; i < sr.routes.size(); ++i) {
        if (sr.routes[i].rate_limit) {
          ctx_.Error(routes, IndexPath(rpath, i) + ".rate_limit",
                     "a service's own routes go to proxyless gRPC clients, which have no rate limiter; "
                     "set rate limits on gateway routes");
        }
      }
      if (c.protocol == model::Protocol::kTcp && !sr.routes.empty()) {
        ctx_.Error(routes, rpath, "routes need an HTTP-like protocol, not tcp");
      }
      if (!sr.routes.empty() && !c.name.empty()) world.service_routes[c.name] = std::move(sr);
    }
    m.Finish();
    if (c.name.empty()) return;
    if (world.clusters.contains(c.name)) {
      m.Error("name", "service '" + c.name + "' is already defined at " +
                                             world.clusters[c.name].origin);
      return;
    }
    world.clusters[c.name] = std::move(c);
  }

  std::optional<model::Endpoint> Endpoint(const YAML::Node& node, const std::string& path) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return std::nullopt;
    model::Endpoint e;
    const size_t before = ctx_.error_count();
    if (auto a = m.String("address", /*required=*/true)) e.address = *a;
    if (auto p = m.Uint("port", 1, 65535, /*required=*/true)) e.port = *p;
    if (auto w = m.Uint("weight", 1, 0xffffffffu)) e.weight = *w;
    if (auto h = m.Enum("health", kHealth)) e.health = static_cast<model::Health>(*h);
    if (auto z = m.String("zone")) e.zone = *z;
    if (auto p = m.Uint("priority", 0, 0xffffffffu)) e.priority = *p;
    if (m.Has("metadata")) {
      MapReader md(ctx_, m.Get("metadata"), m.PathOf("metadata"));
      if (md.valid()) {
        for (const std::string& key : md.Keys()) {
          if (auto v = md.String(key)) e.metadata[key] = *v;
        }
      }
    }
    if (auto t = m.StringList("tags")) e.tags = *t;
    if (auto id = m.String("id")) e.id = *id;
    if (e.id.empty()) e.id = e.address + ":" + std::to_string(e.port);
    m.Finish();
    if (ctx_.error_count() != before) return std::nullopt;
    return e;
  }

  void Gateway(const YAML::Node& node, const std::string& path, model::World& world) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return;
    model::Gateway g;
    g.origin = Origin(node, path);
    if (auto name = m.String("name", /*required=*/true)) g.name = *name;
    YAML::Node listeners = m.Get("listeners");
    const std::string lpath = m.PathOf("listeners");
    if (IsSequence(ctx_, listeners, lpath)) {
      std::map<std::string, std::string> names;  // listener name → origin
      size_t i = 0;
      for (const auto& l : listeners) {
        const std::string p = IndexPath(lpath, i++);
        auto listener = Listener(l, p);
        if (!listener) continue;
        auto [it, inserted] = names.emplace(listener->name, listener->origin);
        if (!inserted) {
          ctx_.Error(l, p, "listener name '" + listener->name + "' is already used at " + it->second);
          continue;
        }
        g.listeners.push_back(std::move(*listener));
      }
    }
    if (m.Has("tracing")) g.tracing = ReadTracing(ctx_, m.Get("tracing"), m.PathOf("tracing"));
    if (m.Has("access_logs")) g.access_logs = ReadAccessLogs(ctx_, m.Get("access_logs"), m.PathOf("access_logs"));
    if (m.Has("request_id")) g.request_id = ReadRequestId(ctx_, m.Get("request_id"), m.PathOf("request_id"));
    // Order of model::VhdsMode.
    if (auto v = m.Enum("vhds", {"auto", "inline", "on_demand"})) g.vhds = static_cast<model::VhdsMode>(*v);
    m.Finish();
    if (g.name.empty()) return;
    if (world.gateways.contains(g.name)) {
      m.Error("name", "gateway '" + g.name + "' is already defined at " +
                                             world.gateways[g.name].origin);
      return;
    }
    world.gateways[g.name] = std::move(g);
  }

  // Tern-wide gateway telemetry: applies to every gateway (from any source) without its own.
  void Defaults(const YAML::Node& node, const std::string& path, model::World& world) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return;
    model::GatewayDefaults d;
    d.origin = Origin(node, path);
    if (m.Has("tracing")) d.tracing = ReadTracing(ctx_, m.Get("tracing"), m.PathOf("tracing"));
    if (m.Has("access_logs")) d.access_logs = ReadAccessLogs(ctx_, m.Get("access_logs"), m.PathOf("access_logs"));
    if (m.Has("request_id")) d.request_id = ReadRequestId(ctx_, m.Get("request_id"), m.PathOf("request_id"));
    m.Finish();
    world.defaults = std::move(d);
  }

  std::optional<model::Listener> Listener(const YAML::Node& node, const std::string& path) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return std::nullopt;
    model::Listener l;
    l.origin = Origin(node, path);
    if (auto p = m.Enum("protocol", kProtocols)) l.protocol = static_cast<model::Protocol>(*p);
    if (auto p = m.Uint("port", 1, 65535, /*required=*/true)) l.port = *p;
    if (auto a = m.String("address")) {
      if (a->empty()) m.Error("address", "must not be empty");
      else l.address = *a;
    }
    if (auto n = m.String("name")) l.name = *n;
    if (l.name.empty()) l.name = std::string(model::ToString(l.protocol)) + "_" + std::to_string(l.port);
    if (m.Has("tls")) l.tls = ListenerTlsOf(m.Get("tls"), m.PathOf("tls"), l.protocol);

    if (m.Has("rate_limit")) {
      if (l.protocol == model::Protocol::kTcp) m.Error("rate_limit", "applies to HTTP listeners only");
      l.rate_limit = ReadRateLimit(ctx_, m.Get("rate_limit"), m.PathOf("rate_limit"));
    }
    if (l.protocol == model::Protocol::kTcp) {
      if (auto s = m.String("service", /*required=*/true)) l.tcp_cluster = *s;
      if (m.Has("virtual_hosts")) {
        m.Error("virtual_hosts", "a tcp listener has no virtual hosts (it forwards to 'service')");
      }
    } else {
      if (m.Has("service")) {
        m.Error("service", "only tcp listeners take 'service'; HTTP listeners route in virtual_hosts");
      }
      YAML::Node vhosts = m.Get("virtual_hosts");
      const std::string vpath = m.PathOf("virtual_hosts");
      if (IsSequence(ctx_, vhosts, vpath)) {
        std::map<std::string, std::string> names, domains;  // → origin of first use
        size_t i = 0;
        for (const auto& v : vhosts) {
          const std::string p = IndexPath(vpath, i);
          auto vh = VirtualHost(v, p, i++);
          if (!vh) continue;
          auto [it, inserted] = names.emplace(vh->name, vh->origin);
          if (!inserted) {
            ctx_.Error(v, p, "virtual host name '" + vh->name + "' is already used at " + it->second);
            continue;
          }
          // Envoy rejects a route configuration in which two virtual hosts claim one domain.
          for (const auto& d : vh->domains) {
            auto [dit, dnew] = domains.emplace(d, vh->origin);
            if (!dnew) ctx_.Error(v, p + ".domains", "domain '" + d + "' is already served at " + dit->second);
          }
          l.virtual_hosts.push_back(std::move(*vh));
        }
      }
    }
    m.Finish();
    return l;
  }

  std::optional<model::VirtualHost> VirtualHost(const YAML::Node& node, const std::string& path,
                                                size_t index) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return std::nullopt;
    model::VirtualHost vh;
    vh.origin = Origin(node, path);
    if (auto n = m.String("name")) vh.name = *n;
    if (vh.name.empty()) vh.name = "vhost_" + std::to_string(index);
    if (auto d = m.StringList("domains")) {
      for (const auto& domain : *d) {
        if (domain.empty()) m.Error("domains", "a domain must not be empty");
      }
      vh.domains = *d;
    }
    if (vh.domains.empty()) vh.domains = {"*"};
    if (m.Has("routes")) Routes(m.Get("routes"), m.PathOf("routes"), vh.routes);
    if (m.Has("rate_limit")) vh.rate_limit = ReadRateLimit(ctx_, m.Get("rate_limit"), m.PathOf("rate_limit"));
    if (m.Has("request_headers")) vh.request_headers = Headers(m.Get("request_headers"), m.PathOf("request_headers"));
    if (m.Has("response_headers")) vh.response_headers = Headers(m.Get("response_headers"), m.PathOf("response_headers"));
    m.Finish();
    return vh;
  }

  void Routes(const YAML::Node& node, const std::string& path, std::vector<model::Route>& out) {
    if (!IsSequence(ctx_, node, path)) return;
    size_t i = 0;
    for (const auto& r : node) {
      if (auto route = Route(r, IndexPath(path, i++))) out.push_back(std::move(*route));
    }
  }

  std::optional<model::Route> Route(const YAML::Node& node, const std::string& path) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return std::nullopt;
    model::Route r;
    r.origin = Origin(node, path);
    if (auto n = m.String("name")) r.name = *n;
    if (m.Has("match")) Match(m.Get("match"), m.PathOf("match"), r.match);

    const int actions = m.Has("service") + m.Has("split") + m.Has("redirect");
    if (actions != 1) {
      ctx_.Error(node, path,
                 actions == 0 ? "a route needs one of service, split, redirect"
                              : "a route takes exactly one of service, split, redirect");
    }
    if (m.Has("service")) {
      if (auto s = m.String("service", true)) r.action.clusters.push_back({*s, 100});
    }
    if (m.Has("split")) Split(m.Get("split"), m.PathOf("split"), r.action.clusters);
    if (m.Has("redirect")) r.action.redirect = RedirectOf(m.Get("redirect"), m.PathOf("redirect"));

    const bool redirect = m.Has("redirect");
    for (const char* key : {"prefix_rewrite", "timeout", "idle_timeout", "retries"}) {
      if (redirect && m.Has(key)) {
        m.Error(key, "does not apply to a redirect");
      }
    }
    if (auto pr = m.String("prefix_rewrite")) {
      if (r.match.path_kind == model::RouteMatch::PathKind::kRegex) {
        m.Error("prefix_rewrite", "prefix_rewrite needs a prefix or exact path match, not regex");
      }
      r.action.prefix_rewrite = *pr;
    }
    r.action.timeout = m.Duration("timeout", /*allow_zero=*/true);
    r.action.idle_timeout = m.Duration("idle_timeout", /*allow_zero=*/true);
    if (m.Has("rate_limit")) r.rate_limit = ReadRateLimit(ctx_, m.Get("rate_limit"), m.PathOf("rate_limit"));
    if (m.Has("request_headers")) r.action.request_headers = Headers(m.Get("request_headers"), m.PathOf("request_headers"));
    if (m.Has("response_headers")) r.action.response_headers = Headers(m.Get("response_headers"), m.PathOf("response_headers"));
    if (m.Has("retries")) r.action.retry = Retry(m.Get("retries"), m.PathOf("retries"));
    m.Finish();
    return r;
  }

  void Match(const YAML::Node& node, const std::string& path, model::RouteMatch& match) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return;
    using PK = model::RouteMatch::PathKind;
    const std::vector<std::pair<const char*, PK>> kinds = {
        {"prefix", PK::kPrefix}, {"exact", PK::kExact}, {"regex", PK::kRegex}};
    int count = 0;
    for (const auto& [key, kind] : kinds) {
      if (!m.Has(key)) continue;
      if (++count > 1) {
        m.Error(key, "a path match takes only one of prefix, exact, regex");
        continue;
      }
      auto v = m.String(key);
      if (!v) continue;
      if (kind != PK::kRegex && (v->empty() || (*v)[0] != '/')) {
        m.Error(key, "a path must start with '/'");
      } else if (v->empty()) {
        m.Error(key, "must not be empty");
      }
      match.path_kind = kind;
      match.path = *v;
    }
    if (m.Has("headers")) {
      YAML::Node hs = m.Get("headers");
      if (IsSequence(ctx_, hs, m.PathOf("headers"))) {
        size_t i = 0;
        for (const auto& h : hs) {
          model::HeaderMatch hm;
          if (NamedMatch(h, IndexPath(m.PathOf("headers"), i++), hm.name, hm.match)) {
            match.headers.push_back(std::move(hm));
          }
        }
      }
    }
    if (m.Has("query")) {
      YAML::Node qs = m.Get("query");
      if (IsSequence(ctx_, qs, m.PathOf("query"))) {
        size_t i = 0;
        for (const auto& q : qs) {
          model::QueryMatch qm;
          if (NamedMatch(q, IndexPath(m.PathOf("query"), i++), qm.name, qm.match)) {
            match.query.push_back(std::move(qm));
          }
        }
      }
    }
    if (auto methods = m.StringList("methods")) {
      for (const auto& method : *methods) {
        bool upper = !method.empty();
        for (char ch : method) upper &= ch >= 'A' && ch <= 'Z';
        if (!upper) {
          m.Error("methods", "'" + method + "' is not an HTTP method (upper case, e.g. GET)");
        }
      }
      match.methods = *methods;
    }
    m.Finish();
  }

  // A header or query parameter matcher: {name, one of exact|prefix|suffix|contains|regex|present, invert}.
  bool NamedMatch(const YAML::Node& node, const std::string& path, std::string& name,
                  model::StringMatch& sm) {
    MapReader m(ctx_, node, path);
    if (!m.valid()) return false;
    const size_t before = ctx_.error_count();
    if (auto n = m.String("name", /*required=*/true)) name = *n;
    int count = 0;
    for (size_t k = 0; k < kStringMatchKinds.size(); ++k) {
      const std::string& key = kStringMatchKinds[k];
      if (!m.Has(key)) continue;
      if (++count > 1) {
        m.Error(key, "a matcher takes only one of exact, prefix, suffix, contains, regex, present");
        continue;
      }
      sm.kind = static_cast<model::StringMatch::Kind>(k);
      if (key == "present") {
        // present: false means "must be absent", which is present inverted.
        if (auto b = m.Bool(key)) sm.invert = !*b;
      } else if (auto v = m.String(key)) {
        if (v->empty() && key != "exact") m.Error(key, "must not be empty");
        sm.value = *v;
      }
    }
    if (count == 0) {
      ctx_.Error(node, path, "a matcher needs one of exact, prefix, suffix, contains, regex, present");
    }
    if (auto inv = m.Bool("invert")) sm.invert = sm.invert != *inv;
    m.Finish();
    return ctx_.error_count() == before;
  }

  void Split(const YAML::Node& node, const std::string& path,
             std::vector<model::WeightedCluster>& out) {
    if (!IsSequence(ctx_, node, path)) return;
    if (node.size() == 0) {
      ctx_.Error(node, path, "a split needs at least one service");
      return;
    }
    std::set<std::string> seen;
    size_t i = 0;
    for (const auto& s : node) {
      const std::string p = IndexPath(path, i++);
      MapReader m(ctx_, s, p);
      if (!m.valid()) continue;
      model::WeightedCluster wc;
      if (auto svc = m.String("service", true)) wc.cluster = *svc;
      if (auto w = m.Uint("weight", 0, 1000000, /*required=*/true)) wc.weight = *w;
      m.Finish();
      if (!wc.cluster.empty() && !seen.insert(wc.cluster).second) {
        ctx_.Error(s, p, "service '" + wc.cluster + "' appears twice in the split");
        continue;
      }
      out.push_back(std::move(wc));
    }
  }

  model::Redirect RedirectOf(const YAML::Node& node, const std::string& path) {
    MapReader m(ctx_, node, path);
    model::Redirect r;
    if (!m.valid()) return r;
    if (m.Has("code")) {
      if (auto c = m.Uint("code", 300, 399)) {
        if (*c == 301 || *c == 302 || *c == 303 || *c == 307 || *c == 308) {
          r.code = *c;
        } else {
          m.Error("code", "redirect code must be 301, 302, 303, 307 or 308");
        }
      }
    }
    if (auto h = m.String("host")) r.host = *h;
    if (auto p = m.String("path")) {
      if (!p->empty() && (*p)[0] != '/') m.Error("path", "a path must start with '/'");
      r.path = *p;
    }
    if (auto s = m.Enum("scheme", {"http", "https"})) r.scheme = *s == 0 ? "http" : "https";
    m.Finish();
    return r;
  }

  // {add: {name: value}, set: {name: value}, remove: [name]}
  model::HeaderRules Headers(const YAML::Node& node, const std::string& path) {
    MapReader m(ctx_, node, path);
    model::HeaderRules out;
    if (!m.valid()) return out;
    auto name_ok = [&](const YAML::Node& where, const std::string& p, const std::string& name) {
      std::string problem = model::HeaderNameProblem(name);
      if (!problem.empty()) ctx_.Error(where, p, problem);
      return problem.empty();
    };
    for (const char* kind : {"add", "set"}) {
      if (!m.Has(kind)) continue;
      MapReader values(ctx_, m.Get(kind), m.PathOf(kind));
      if (!values.valid()) continue;
      auto& dest = std::string(kind) == "add" ? out.add : out.set;
      for (const auto& name : values.Keys()) {
        auto v = values.String(name);
        if (!v || !name_ok(values.node(), values.PathOf(name), name)) continue;
        if (std::string problem = model::HeaderValueProblem(*v); !problem.empty()) {
          values.Error(name, problem);
          continue;
        }
        dest[name] = *v;
      }
      values.Finish();
    }
    if (auto remove = m.StringList("remove")) {
      for (size_t i = 0; i < remove->size(); ++i) {
        if (name_ok(m.Get("remove"), IndexPath(m.PathOf("remove"), i), (*remove)[i])) out.remove.push_back((*remove)[i]);
      }
    }
    m.Finish();
    return out;
  }

  model::RetryPolicy Retry(const YAML::Node& node, const std::string& path) {
    MapReader m(ctx_, node, path);
    model::RetryPolicy r;
    if (!m.valid()) return r;
    if (auto n = m.Uint("num_retries", 0, 100)) r.num_retries = *n;
    if (auto b = m.Bool("on_connect_failure")) r.on_connect_failure = *b;
    YAML::Node codes = m.Get("on_status_codes");
    if (codes.IsDefined() && IsSequence(ctx_, codes, m.PathOf("on_status_codes"))) {
      size_t i = 0;
      for (const auto& c : codes) {
        if (auto v = ReadUint(ctx_, c, IndexPath(m.PathOf("on_status_codes"), i++), 100, 599)) {
          r.on_status_codes.push_back(*v);
        }
      }
    }
    if (auto on = m.StringList("retry_on")) {
      size_t i = 0;
      for (const auto& cond : *on) {
        if (!model::IsRetryCondition(cond)) {
          ctx_.Error(m.Get("retry_on"), IndexPath(m.PathOf("retry_on"), i),
                     "unknown retry condition '" + cond + "' (known: " + model::RetryConditionList() + ")");
        }
        ++i;
      }
      r.retry_on = *on;
    }
    r.per_try_timeout = m.Duration("per_try_timeout", /*allow_zero=*/false);
    m.Finish();
    return r;
  }

  YamlContext& ctx_;
};

}  // namespace

absl::StatusOr<model::World> DecodeServicesYaml(const std::string& text,
                                                const std::string& file_label,
                                                std::vector<model::Problem>* problems) {
  auto decoded = DecodeServicesFile(text, file_label, problems);
  if (!decoded.ok()) return decoded.status();
  return std::move(decoded->world);
}

absl::StatusOr<DecodedServices> DecodeServicesFile(const std::string& text, const std::string& file_label,
                                                   std::vector<model::Problem>* problems) {
  std::vector<model::Problem> found;
  YamlContext ctx(file_label, &found);
  DecodedServices out;
  if (auto root = ParseYaml(text, ctx)) Decoder(ctx).Document(*root, out);
  if (found.empty()) return out;
  std::string summary = found.front().ToString();
  if (found.size() > 1) summary += " (and " + std::to_string(found.size() - 1) + " more problems)";
  if (problems) problems->insert(problems->end(), found.begin(), found.end());
  return absl::InvalidArgumentError(summary);
}

}  // namespace tern::sources::file
