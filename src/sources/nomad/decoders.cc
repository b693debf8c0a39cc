#include "sources/nomad/decoders.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "sources/nomad/json_reader.h"

namespace tern::sources::nomad {
namespace {

using internal::Bad;
using internal::Field;
using internal::Index;
using internal::Join;
using internal::json;
using internal::Reader;

absl::StatusOr<json> ParseList(const std::string& text, const std::string& endpoint) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(endpoint, "", "malformed JSON");
  if (j.is_null()) return json::array();
  if (!j.is_array()) return Bad(endpoint, "", "expected a list");
  return j;
}

}  // namespace

bool internal::ReadRegistration(Reader& r, const json& e, const std::string& path, Registration* out) {
  if (!r.Object(e, path)) return false;
  Registration g;
  g.namespace_name = kDefaultNamespace;
  bool ok = r.RequiredString(e, "ID", path, &g.id) && r.RequiredString(e, "ServiceName", path, &g.service) &&
            r.String(e, "Namespace", path, &g.namespace_name) && r.String(e, "NodeID", path, &g.node_id) &&
            r.String(e, "Datacenter", path, &g.datacenter) && r.String(e, "JobID", path, &g.job_id) &&
            r.String(e, "AllocID", path, &g.alloc_id) && r.Strings(e, "Tags", path, &g.tags) &&
            r.RequiredString(e, "Address", path, &g.address) && r.Port(e, "Port", path, &g.port) &&
            r.Uint64(e, "CreateIndex", path, &g.create_index) && r.Uint64(e, "ModifyIndex", path, &g.modify_index);
  if (!ok) return false;
  if (g.namespace_name.empty()) g.namespace_name = kDefaultNamespace;
  *out = std::move(g);
  return true;
}

absl::StatusOr<ServiceList> DecodeServiceList(const std::string& text, const std::string& endpoint) {
  auto j = ParseList(text, endpoint);
  if (!j.ok()) return j.status();
  Reader r{endpoint};
  ServiceList out;
  for (size_t i = 0; i < j->size(); ++i) {
    const json& ns = (*j)[i];
    const std::string path = Index("", i);
    if (!ns.is_object()) return Bad(endpoint, path, "expected an object");
    std::string namespace_name = kDefaultNamespace;
    if (!r.String(ns, "Namespace", path, &namespace_name)) return r.status;
    if (namespace_name.empty()) namespace_name = kDefaultNamespace;
    const json* services = Field(ns, "Services");
    if (!services) continue;
    if (!services->is_array()) return Bad(endpoint, Join(path, "Services"), "expected a list");
    for (size_t k = 0; k < services->size(); ++k) {
      const json& s = (*services)[k];
      const std::string spath = Index(Join(path, "Services"), k);
      if (!s.is_object()) return Bad(endpoint, spath, "expected an object");
      std::string name;
      std::vector<std::string> tags;
      if (!r.RequiredString(s, "ServiceName", spath, &name) || !r.Strings(s, "Tags", spath, &tags)) return r.status;
      out[{namespace_name, name}] = std::move(tags);
    }
  }
  return out;
}

absl::StatusOr<std::vector<Registration>> DecodeRegistrations(const std::string& text, const std::string& endpoint) {
  auto j = ParseList(text, endpoint);
  if (!j.ok()) return j.status();
  Reader r{endpoint};
  std::vector<Registration> out;
  for (size_t i = 0; i < j->size(); ++i) {
    const json& e = (*j)[i];
    const std::string path = Index("", i);
    if (!e.is_object()) return Bad(endpoint, path, "expected an object");
    Registration g;
    if (!internal::ReadRegistration(r, e, path, &g)) return r.status;
    out.push_back(std::move(g));
  }
  return out;
}

std::string ClusterName(const ServiceKey& key) {
  if (key.namespace_name.empty() || key.namespace_name == kDefaultNamespace) return key.name;
  return key.namespace_name + "/" + key.name;
}

model::Endpoint ToEndpoint(const Registration& r) {
  model::Endpoint e;
  e.id = r.id;
  e.address = r.address;
  e.port = r.port;
  e.weight = 1;
  e.health = model::Health::kPassing;
  e.tags = r.tags;
  if (!r.alloc_id.empty()) e.metadata["alloc_id"] = r.alloc_id;
  if (!r.job_id.empty()) e.metadata["job_id"] = r.job_id;
  if (!r.node_id.empty()) e.metadata["node_id"] = r.node_id;
  if (!r.datacenter.empty()) e.metadata["datacenter"] = r.datacenter;
  e.metadata["namespace"] = r.namespace_name;
  return e;
}

model::World BuildWorld(const NomadView& view, std::vector<model::Problem>* problems) {
  model::World w;
  for (const auto& [key, regs] : view.registrations) {
    if (!view.services.contains(key)) continue;  // gone from the list: removed
    model::Cluster c;
    c.name = ClusterName(key);
    c.service = c.name;
    c.protocol = model::Protocol::kHttp;
    c.origin = "nomad " + ServicePath(key, "");
    std::set<std::pair<std::string, uint32_t>> seen;
    for (const auto& r : regs) {
      if (r.service != key.name || r.namespace_name != key.namespace_name) {
        problems->push_back({c.origin, "registration " + r.id + " is for " + r.namespace_name + "/" + r.service});
        continue;
      }
      if (r.port == 0) {
        problems->push_back({c.origin, "registration " + r.id + " has no port; left out"});
        continue;
      }
      // Two registrations of one address and port (two tasks of one alloc advertising the same
      // port) are one endpoint to a proxy.
      if (!seen.insert({r.address, r.port}).second) continue;
      c.endpoints.push_back(ToEndpoint(r));
    }
    std::sort(c.endpoints.begin(), c.endpoints.end(),
              [](const model::Endpoint& a, const model::Endpoint& b) { return a.id < b.id; });
    const std::string origin = "nomad service " + c.name;
    if (auto canary = tags::Canary(c, view.canary, origin, problems)) {
      w.clusters[canary->canary.name] = canary->canary;
      w.clusters[canary->stable.name] = canary->stable;
      w.service_routes[c.name] = {.service = c.name, .routes = canary->routes, .origin = origin};
    }
    w.clusters[c.name] = std::move(c);
  }
  return w;
}

std::string UrlEscape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

namespace {
std::string Query(const std::string& namespace_name, const std::string& region) {
  std::string q;
  if (!namespace_name.empty()) q += "namespace=" + (namespace_name == "*" ? "*" : UrlEscape(namespace_name));
  if (!region.empty()) q += (q.empty() ? "" : "&") + std::string("region=") + UrlEscape(region);
  return q.empty() ? "" : "?" + q;
}
}  // namespace

std::string ServiceListPath(const std::string& namespace_name, const std::string& region) {
  return "/v1/services" + Query(namespace_name, region);
}

std::string ServicePath(const ServiceKey& key, const std::string& region) {
  return "/v1/service/" + UrlEscape(key.name) + Query(key.namespace_name, region);
}

}  // namespace tern::sources::nomad
