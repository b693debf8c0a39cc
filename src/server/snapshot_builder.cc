#include "server/snapshot_builder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "translate/pgv_validator.h"

namespace tern::server {

std::string SerializeDeterministic(const google::protobuf::Message& msg) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    msg.SerializeToCodedStream(&cos);
  }
  return out;
}

namespace {
void CheckEnvoyRules(ResourceType type, const std::string& name, const google::protobuf::Message& msg,
                     std::vector<model::Problem>* problems) {
  for (auto& err : translate::ValidateResource(msg)) {
    problems->push_back({std::string(ShortName(type)) + " '" + name + "'", "rejected by Envoy's rules: " + err});
  }
}

}  // namespace

cache::ResourcePtr SnapshotBuilder::Intern(ResourceType type, const std::string& name,
                                           const translate::MessagePtr& msg, bool wildcard,
                                           std::map<std::string, Interned>& next,
                                           std::vector<model::Problem>* problems) {
  std::string key = std::string(ShortName(type)) + "/" + (wildcard ? "w/" : "n/") + name;
  if (auto it = next.find(key); it != next.end()) return it->second.resource;
  auto prev = previous_.find(key);
  if (prev != previous_.end() && prev->second.message == msg) {
    // The translator reused the message: nothing about this resource changed.
    return next.emplace(std::move(key), prev->second).first->second.resource;
  }
  std::string body = SerializeDeterministic(*msg);
  cache::ResourcePtr r;
  if (prev != previous_.end() && prev->second.resource->body == body) {
    r = prev->second.resource;  // unchanged: already checked, hashed and encoded
  } else {
    // Envoy's acceptance rules are checked only for what is new: on a large world one change
    // costs one check, not one per resource.
    size_t before = problems->size();
    CheckEnvoyRules(type, name, *msg, problems);
    if (problems->size() > before) return nullptr;
    r = cache::MakeResource(type, name, std::move(body), wildcard);
  }
  next.emplace(std::move(key), Interned{msg, r});
  return r;
}

namespace {
std::vector<cache::Reference> References(const std::vector<translate::Dependency>& deps) {
  std::vector<cache::Reference> out;
  out.reserve(deps.size());
  for (const auto& d : deps) out.push_back({d.from_type, d.from_name, d.to_type, d.to_name});
  return out;
}
}  // namespace

std::optional<BuiltSnapshots> SnapshotBuilder::Build(const model::World& world,
                                                     std::vector<model::Problem>* problems) {
  size_t before = problems->size();
  for (auto& p : model::Validate(world)) problems->push_back(std::move(p));
  if (problems->size() > before) return std::nullopt;

  translate::Translation t = translator_.Translate(world);
  std::map<std::string, Interned> next;

  auto build = [&](const std::string& node_cluster, const translate::GatewayResources& g, bool wildcard) {
    std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
    auto& listeners = res[static_cast<size_t>(ResourceType::kListener)];
    auto& routes = res[static_cast<size_t>(ResourceType::kRoute)];
    auto& clusters = res[static_cast<size_t>(ResourceType::kCluster)];
    auto& endpoints = res[static_cast<size_t>(ResourceType::kEndpoint)];
    auto& secrets = res[static_cast<size_t>(ResourceType::kSecret)];
    auto add = [&](std::vector<cache::ResourcePtr>& into, ResourceType type, const std::string& name,
                   const translate::MessagePtr& msg, bool wc) {
      if (auto r = Intern(type, name, msg, wc, next, problems)) into.push_back(std::move(r));
    };
    for (const auto& l : g.listeners) add(listeners, ResourceType::kListener, l.name, l.message, wildcard);
    for (const auto& r : g.routes) add(routes, ResourceType::kRoute, r.name, r.message, true);
    for (const auto& c : g.clusters) {
      auto ci = t.clusters.find(c);
      auto ei = t.endpoints.find(c);
      if (ci != t.clusters.end()) add(clusters, ResourceType::kCluster, c, ci->second, wildcard);
      if (ei != t.endpoints.end()) add(endpoints, ResourceType::kEndpoint, c, ei->second, true);
    }
    // Only the secrets this gateway uses (the mesh lists none): a proxy never receives another
    // gateway's keys.
    for (const auto& name : g.secrets) {
      if (auto si = t.secrets.find(name); si != t.secrets.end()) {
        add(secrets, ResourceType::kSecret, name, si->second, true);
      }
    }
    return std::make_shared<const cache::Snapshot>(node_cluster, std::move(res), References(g.dependencies));
  };

  BuiltSnapshots out;
  for (const auto& [gname, g] : t.gateways) out.gateways[gname] = build(gname, g, true);
  // Proxyless clients name what they want; an Envoy that connects with an unknown node cluster
  // gets nothing through its wildcard subscriptions.
  out.mesh = build("", t.mesh, false);
  if (problems->size() > before) return std::nullopt;

  auto check_consistent = [&](const cache::SnapshotPtr& s) {
    if (absl::Status st = s->Consistent(); !st.ok()) problems->push_back({"translation", std::string(st.message())});
  };
  for (const auto& [gname, s] : out.gateways) check_consistent(s);
  check_consistent(out.mesh);
  if (problems->size() > before) return std::nullopt;

  previous_ = std::move(next);
  return out;
}

}  // namespace tern::server
