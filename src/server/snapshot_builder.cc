#include "server/snapshot_builder.h"

#include <set>
#include <string_view>

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

std::vector<cache::Reference> References(const std::vector<translate::Dependency>& deps) {
  std::vector<cache::Reference> out;
  out.reserve(deps.size());
  for (const auto& d : deps) out.push_back({d.from_type, d.from_name, d.to_type, d.to_name});
  return out;
}

constexpr size_t Idx(ResourceType t) { return static_cast<size_t>(t); }
constexpr char kServiceRoutePrefix[] = "svc/";  // translate/translator.h: a service's route configuration
}  // namespace

cache::ResourcePtr SnapshotBuilder::Intern(ResourceType type, const std::string& scope, const std::string& name,
                                           const translate::MessagePtr& msg, bool wildcard,
                                           std::vector<model::Problem>* problems,
                                           const std::vector<std::string>& domains) {
  auto& mine = interned_[Idx(type)][wildcard ? 1 : 0];
  const std::string key = scope.empty() ? name : scope + '\0' + name;
  auto it = mine.find(key);
  // The translator reused the message: nothing about this resource changed.
  if (it != mine.end() && it->second.message == msg) return it->second.resource;
  // The same message as the other visibility (a cluster is both a gateway's and the mesh's):
  // its bytes were serialized and checked already.
  auto& other = interned_[Idx(type)][wildcard ? 0 : 1];
  auto twin = other.find(key);
  std::string body;
  bool checked = false;
  if (twin != other.end() && twin->second.message == msg) {
    body = twin->second.resource->body;
    checked = true;
  } else {
    body = SerializeDeterministic(*msg);
    stats_.serialized++;
  }
  cache::ResourcePtr r;
  if (it != mine.end() && it->second.resource->body == body) {
    r = it->second.resource;  // unchanged: already checked, hashed and encoded
  } else {
    if (!checked) {
      // Envoy's acceptance rules are checked only for what is new: on a large world one change
      // costs one check, not one per resource.
      size_t before = problems->size();
      CheckEnvoyRules(type, name, *msg, problems);
      stats_.checked++;
      if (problems->size() > before) return nullptr;
    }
    r = cache::MakeResource(type, name, std::move(body), wildcard, domains);  // domains are in the body too
  }
  mine[key] = Interned{msg, r};
  return r;
}

void SnapshotBuilder::Forget(ResourceType type, const std::string& scope, const std::string& name, bool wildcard) {
  interned_[Idx(type)][wildcard ? 1 : 0].erase(scope.empty() ? name : scope + '\0' + name);
}

std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> SnapshotBuilder::Collect(
    const std::string& node_cluster, const translate::GatewayResources& g, bool wildcard,
    std::vector<model::Problem>* problems) {
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
  auto add = [&](ResourceType type, const std::string& scope, const std::string& name, const translate::MessagePtr& msg,
                 bool wc) {
    if (!msg) return;
    if (auto r = Intern(type, scope, name, msg, wc, problems)) res[Idx(type)].push_back(std::move(r));
  };
  const auto& clusters = translator_.clusters();
  const auto& secrets = translator_.secrets();
  for (const auto& l : g.listeners) add(ResourceType::kListener, node_cluster, l.name, l.message, wildcard);
  for (const auto& r : g.routes) add(ResourceType::kRoute, node_cluster, r.name, r.message, true);
  for (const auto& v : g.virtual_hosts) {
    if (auto r = Intern(ResourceType::kVirtualHost, node_cluster, v.name, v.message, true, problems, v.domains)) {
      res[Idx(ResourceType::kVirtualHost)].push_back(std::move(r));
    }
  }
  for (const auto& c : g.clusters) {
    auto ci = clusters.find(c);
    if (ci == clusters.end()) continue;
    // The gateway's own variant of the cluster, when it has one (interned under its scope).
    if (auto v = g.cluster_variants.find(c); v != g.cluster_variants.end()) {
      add(ResourceType::kCluster, node_cluster, c, v->second, wildcard);
    } else {
      add(ResourceType::kCluster, "", c, ci->second.cluster, wildcard);
    }
    add(ResourceType::kEndpoint, "", c, ci->second.endpoints, true);
  }
  // Only the secrets this gateway uses (the mesh lists none): a proxy never receives another
  // gateway's keys.
  for (const auto& name : g.secrets) {
    if (auto si = secrets.find(name); si != secrets.end()) add(ResourceType::kSecret, "", name, si->second, true);
  }
  return res;
}

cache::SnapshotPtr SnapshotBuilder::BuildGateway(const std::string& node_cluster, const translate::GatewayResources& g,
                                                 bool wildcard, std::vector<model::Problem>* problems) {
  auto res = Collect(node_cluster, g, wildcard, problems);
  stats_.snapshots_built++;
  return std::make_shared<const cache::Snapshot>(node_cluster, std::move(res), References(g.dependencies));
}

cache::SnapshotPtr SnapshotBuilder::RederiveGateway(const cache::Snapshot& previous,
                                                    const translate::GatewayResources& g,
                                                    std::vector<model::Problem>* problems) {
  auto res = Collect(previous.node_cluster(), g, true, problems);
  std::array<cache::TypeUpdate, kNumResourceTypes> u;
  for (size_t ti = 0; ti < kNumResourceTypes; ++ti) {
    const ResourceType type = static_cast<ResourceType>(ti);
    std::set<std::string_view> now;
    for (const auto& r : res[ti]) {
      now.insert(r->name);
      if (previous.Find(type, r->name) != r) u[ti].set.push_back(r);  // Derive skips equal versions
    }
    for (const auto& [name, r] : previous.Get(type).resources) {
      if (!now.contains(name)) u[ti].erase.push_back(std::string(name));
    }
  }
  stats_.snapshots_derived++;
  // Every reference of the gateway is checked, as for a snapshot built from scratch.
  return cache::Snapshot::Derive(previous, std::move(u), References(g.dependencies));
}

std::optional<BuiltSnapshots> SnapshotBuilder::Build(const model::World& world, const model::ChangeSet& requested,
                                                     std::vector<model::Problem>* problems) {
  model::ChangeSet changes = requested;
  if (unsettled_) changes.Merge(*unsettled_);
  if (!mesh_) changes.everything = true;  // nothing to derive from
  unsettled_ = changes;                   // until this call succeeds
  stats_ = BuildStats{};
  stats_.full = changes.everything;
  const size_t before = problems->size();

  // Which touched clusters appear or disappear: that is what their readers' checks and
  // translations see of them (with their TLS secret names, which the translator follows).
  std::set<std::string> appeared_or_gone;
  for (const auto& c : changes.clusters) {
    if (translator_.clusters().contains(c) != world.clusters.contains(c)) appeared_or_gone.insert(c);
  }

  index_.Update(world, changes);
  model::Elements check;
  if (changes.everything) {
    check.defaults = true;
    for (const auto& [n, _] : world.gateways) check.gateways.insert(check.gateways.end(), n);
    for (const auto& [n, _] : world.service_routes) check.service_routes.insert(check.service_routes.end(), n);
    for (const auto& [n, _] : world.clusters) check.clusters.insert(check.clusters.end(), n);
    for (const auto& [n, _] : world.secrets) check.secrets.insert(check.secrets.end(), n);
  } else {
    check.gateways = changes.gateways;
    check.service_routes = changes.service_routes;
    check.clusters = changes.clusters;
    check.secrets = changes.secrets;
    check.defaults = changes.defaults || index_.DefaultsRead(appeared_or_gone);
    for (auto& g : index_.GatewaysReadingClusters(appeared_or_gone)) check.gateways.insert(std::move(g));
    for (auto& g : index_.GatewaysReadingSecrets(changes.secrets)) check.gateways.insert(std::move(g));
    for (auto& s : index_.ServicesReadingClusters(appeared_or_gone)) check.service_routes.insert(std::move(s));
    for (auto& c : index_.ClustersReadingSecrets(changes.secrets)) check.clusters.insert(std::move(c));
  }
  stats_.validated = check.gateways.size() + check.service_routes.size() + check.clusters.size() +
                     check.secrets.size() + (check.defaults ? 1 : 0);
  for (auto& p : model::ValidateElements(world, check)) problems->push_back(std::move(p));
  if (problems->size() > before) return std::nullopt;

  translate::TranslationChanges t = translator_.Update(world, changes, index_);
  stats_.translated = t.messages;

  BuiltSnapshots out;
  if (t.everything) {
    for (const auto& [gname, g] : translator_.gateways()) out.gateways[gname] = BuildGateway(gname, g, true, problems);
    // Proxyless clients name what they want; an Envoy that connects with an unknown node cluster
    // gets nothing through its wildcard subscriptions.
    out.mesh = BuildGateway("", translator_.Mesh(), false, problems);
  } else {
    out.gateways = gateways_;
    // Gateways whose own translation changed are assembled again (O(gateway)) and, when they
    // existed, derived from their predecessor by the resources that differ.
    for (const auto& gname : t.gateways) {
      auto it = translator_.gateways().find(gname);
      auto prev = gateways_.find(gname);
      if (prev != gateways_.end()) {
        // Its listeners and routes are interned again below (same messages cost nothing).
        for (ResourceType type : {ResourceType::kListener, ResourceType::kRoute}) {
          for (const auto& [name, r] : prev->second->Get(type).resources) Forget(type, gname, name, true);
        }
        // Its cluster variants: forgotten when gone (an unchanged one keeps its resource).
        for (const auto& [name, r] : prev->second->Get(ResourceType::kCluster).resources) {
          if (it == translator_.gateways().end() || !it->second.cluster_variants.contains(std::string(name))) {
            Forget(ResourceType::kCluster, gname, std::string(name), true);
          }
        }
        // Virtual hosts (VHDS) are forgotten only when gone: the translator reuses the message
        // of every unchanged host, so that one changed host of thousands is the only one
        // serialized, checked and hashed, and the rest keep their resources.
        std::set<std::string> hosts;
        if (it != translator_.gateways().end()) {
          for (const auto& v : it->second.virtual_hosts) hosts.insert(v.name);
        }
        for (const auto& [name, r] : prev->second->Get(ResourceType::kVirtualHost).resources) {
          if (!hosts.contains(name)) Forget(ResourceType::kVirtualHost, gname, name, true);
        }
      }
      if (it == translator_.gateways().end()) {
        out.gateways.erase(gname);
      } else if (prev != gateways_.end()) {
        out.gateways[gname] = RederiveGateway(*prev->second, it->second, problems);
      } else {
        out.gateways[gname] = BuildGateway(gname, it->second, true, problems);
      }
    }
    // The others that hold a changed cluster or secret: derived from their predecessor.
    std::set<std::string> holders = index_.GatewaysReadingClusters(t.clusters);
    if (index_.DefaultsRead(t.clusters)) {
      for (const auto& [gname, _] : gateways_) holders.insert(gname);  // the defaults' collectors
    }
    for (auto& g : index_.GatewaysReadingSecrets(t.secrets)) holders.insert(std::move(g));
    for (const auto& gname : holders) {
      if (t.gateways.contains(gname)) continue;
      auto prev = gateways_.find(gname);
      if (prev == gateways_.end()) continue;
      std::array<cache::TypeUpdate, kNumResourceTypes> u;
      std::vector<cache::Reference> refs;
      auto gi = translator_.gateways().find(gname);
      for (const auto& c : t.clusters) {
        if (!prev->second->Find(ResourceType::kCluster, c)) continue;  // named but not used (missing before)
        auto ci = translator_.clusters().find(c);
        if (ci == translator_.clusters().end()) continue;  // removal reshapes: its readers were rebuilt
        // A gateway's own variant changes only with the cluster's settings, which re-translate
        // the gateway: here only its endpoints changed.
        const bool varied = gi != translator_.gateways().end() && gi->second.cluster_variants.contains(c);
        if (!varied) {
          if (auto r = Intern(ResourceType::kCluster, "", c, ci->second.cluster, true, problems)) u[Idx(ResourceType::kCluster)].set.push_back(r);
        }
        if (auto r = Intern(ResourceType::kEndpoint, "", c, ci->second.endpoints, true, problems)) u[Idx(ResourceType::kEndpoint)].set.push_back(r);
        refs.push_back({ResourceType::kCluster, c, ResourceType::kEndpoint, c});
      }
      for (const auto& s : t.secrets) {
        if (!prev->second->Find(ResourceType::kSecret, s)) continue;
        auto si = translator_.secrets().find(s);
        if (si == translator_.secrets().end()) continue;  // validation refuses a used secret's removal
        if (auto r = Intern(ResourceType::kSecret, "", s, si->second, true, problems)) u[Idx(ResourceType::kSecret)].set.push_back(r);
      }
      bool any = false;
      for (const auto& x : u) any = any || !x.empty();
      if (!any) continue;
      out.gateways[gname] = cache::Snapshot::Derive(*prev->second, std::move(u), std::move(refs));
      stats_.snapshots_derived++;
    }

    // The mesh: every cluster and every service's listener and route.
    std::array<cache::TypeUpdate, kNumResourceTypes> u;
    std::vector<cache::Reference> refs;
    for (const auto& c : t.clusters) {
      auto ci = translator_.clusters().find(c);
      if (ci == translator_.clusters().end()) {
        u[Idx(ResourceType::kCluster)].erase.push_back(c);
        u[Idx(ResourceType::kEndpoint)].erase.push_back(c);
        Forget(ResourceType::kCluster, "", c, false);
        Forget(ResourceType::kCluster, "", c, true);
        Forget(ResourceType::kEndpoint, "", c, true);
        continue;
      }
      if (auto r = Intern(ResourceType::kCluster, "", c, ci->second.cluster, false, problems)) u[Idx(ResourceType::kCluster)].set.push_back(r);
      if (auto r = Intern(ResourceType::kEndpoint, "", c, ci->second.endpoints, true, problems)) u[Idx(ResourceType::kEndpoint)].set.push_back(r);
      refs.push_back({ResourceType::kCluster, c, ResourceType::kEndpoint, c});
    }
    for (const auto& s : t.secrets) {
      if (!translator_.secrets().contains(s)) Forget(ResourceType::kSecret, "", s, true);
    }
    for (const auto& svc : t.services) {
      const std::string route = kServiceRoutePrefix + svc;
      auto si = translator_.services().find(svc);
      if (si == translator_.services().end()) {
        u[Idx(ResourceType::kListener)].erase.push_back(svc);
        u[Idx(ResourceType::kRoute)].erase.push_back(route);
        Forget(ResourceType::kListener, "", svc, false);
        Forget(ResourceType::kRoute, "", route, true);
        continue;
      }
      for (const auto& l : si->second.listeners) {
        if (auto r = Intern(ResourceType::kListener, "", l.name, l.message, false, problems)) u[Idx(ResourceType::kListener)].set.push_back(r);
      }
      for (const auto& r : si->second.routes) {
        if (auto res = Intern(ResourceType::kRoute, "", r.name, r.message, true, problems)) u[Idx(ResourceType::kRoute)].set.push_back(res);
      }
      for (const auto& ref : References(si->second.dependencies)) refs.push_back(ref);
    }
    bool any = false;
    for (const auto& x : u) any = any || !x.empty();
    if (any) {
      out.mesh = cache::Snapshot::Derive(*mesh_, std::move(u), std::move(refs));
      stats_.snapshots_derived++;
    } else {
      out.mesh = mesh_;
    }
  }
  if (problems->size() > before) return std::nullopt;

  auto check_consistent = [&](const cache::SnapshotPtr& s) {
    if (absl::Status st = s->Consistent(); !st.ok()) problems->push_back({"translation", std::string(st.message())});
  };
  for (const auto& [gname, s] : out.gateways) {
    auto prev = gateways_.find(gname);
    if (prev == gateways_.end() || prev->second != s) check_consistent(s);
  }
  if (out.mesh != mesh_) check_consistent(out.mesh);
  if (problems->size() > before) return std::nullopt;

  if (t.everything) {
    // Forget what no snapshot holds any more.
    for (size_t ti = 0; ti < kNumResourceTypes; ++ti) {
      const ResourceType type = static_cast<ResourceType>(ti);
      for (int wc = 0; wc < 2; ++wc) {
        std::erase_if(interned_[ti][wc], [&](const auto& kv) {
          auto held = [&](const cache::SnapshotPtr& s, std::string_view name) {
            const cache::ResourcePtr* r = s->Get(type).resources.Lookup(name);
            return r && *r == kv.second.resource;
          };
          const std::string& key = kv.first;
          if (size_t nul = key.find('\0'); nul != std::string::npos) {
            auto g = out.gateways.find(key.substr(0, nul));
            return g == out.gateways.end() || !held(g->second, std::string_view(key).substr(nul + 1));
          }
          if (held(out.mesh, key)) return false;
          for (const auto& [g, s] : out.gateways) {
            if (held(s, key)) return false;
          }
          return true;
        });
      }
    }
  }
  gateways_ = out.gateways;
  mesh_ = out.mesh;
  unsettled_.reset();
  return out;
}

}  // namespace tern::server
