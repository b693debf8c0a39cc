#include "xds/delta_state.h"

#include <algorithm>
#include <iterator>

#include "common/wire.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace tern::xds {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;

absl::Status DeltaState::OnRequest(const DeltaDiscoveryRequest& req, RequestKind* kind, ResourceType* type) {
  auto parsed = RequestType(req.type_url(), fixed_type_, "DeltaDiscoveryRequest");
  if (!parsed.ok()) return parsed.status();
  ResourceType t = *parsed;
  *type = t;
  auto& slot = types_[static_cast<size_t>(t)];
  if (!slot) slot = std::make_unique<TypeState>();
  TypeState& st = *slot;
  const bool first = !st.requested;

  // Delta ACKs carry no version: an ACK accepts what was last sent.
  *kind = ClassifyRequest(first, req.response_nonce(), req.has_error_detail(), req.error_detail().message(),
                          st.info.version_sent, st.info);

  if (first) {
    st.requested = true;
    // initial_resource_versions is only meaningful on the first request for a type.
    for (const auto& [name, version] : req.initial_resource_versions()) st.held[name] = version;
    if (LegacyWildcardType(t) && req.resource_names_subscribe().empty()) st.wildcard = true;
  }
  for (const auto& n : req.resource_names_subscribe()) {
    if (n == "*") {
      st.wildcard = true;
      continue;
    }
    // Subscribing to something the client holds means "send it again": unless it was just
    // declared in initial_resource_versions, forget that the client has it.
    if (!(first && req.initial_resource_versions().contains(n))) st.held.erase(n);
    st.told_absent.erase(n);
    st.names.insert(n);
  }
  for (const auto& n : req.resource_names_unsubscribe()) {
    if (n == "*") {
      st.wildcard = false;
      // Resources held only through the wildcard are the client's to drop; stop tracking them.
      for (auto it = st.held.begin(); it != st.held.end();) {
        it = st.names.contains(it->first) ? std::next(it) : st.held.erase(it);
      }
      continue;
    }
    if (st.names.erase(n) == 0) continue;  // unknown name: ignored
    if (!st.wildcard) st.held.erase(n);
    st.told_absent.erase(n);
  }
  if (first || !req.resource_names_subscribe().empty() || !req.resource_names_unsubscribe().empty()) {
    st.evaluated.clear();
  }
  st.info.subscribed = true;
  st.info.wildcard = st.wildcard;
  st.info.names = st.names.size();
  return absl::OkStatus();
}

TypeView DeltaState::View(ResourceType t) const {
  TypeView v;
  v.delta = true;
  if (!types_[static_cast<size_t>(t)]) return v;
  const TypeState& st = *types_[static_cast<size_t>(t)];
  v.info = st.info;
  v.wildcard = st.wildcard;
  v.names.assign(st.names.begin(), st.names.end());
  v.held.assign(st.held.begin(), st.held.end());
  return v;
}

std::optional<PendingResponse> DeltaState::NextResponse(const cache::SnapshotPtr& snapshot_ptr) {
  const cache::Snapshot& snapshot = *snapshot_ptr;
  for (ResourceType t : kAdsOrder) {
    if (!types_[static_cast<size_t>(t)]) continue;
    TypeState& st = *types_[static_cast<size_t>(t)];
    if (!st.requested) continue;
    auto resp = t == ResourceType::kVirtualHost ? NextVirtualHosts(st, snapshot) : NextFor(t, st, snapshot);
    if (resp) return resp;
  }
  // The whole snapshot is out: name the clusters and endpoints it dropped (unless they came back).
  for (ResourceType t : kAdsOrder) {
    if (!types_[static_cast<size_t>(t)]) continue;
    TypeState& st = *types_[static_cast<size_t>(t)];
    if (st.removal_pending.empty()) continue;
    std::vector<std::string> removed;
    for (const auto& n : st.removal_pending) {
      if (!st.held.contains(n)) removed.push_back(n);
    }
    st.removal_pending.clear();
    if (removed.empty()) continue;
    return Finish(t, st, snapshot.Get(t).version, {}, "", 0, removed);
  }
  return std::nullopt;
}

std::optional<PendingResponse> DeltaState::NextFor(ResourceType t, TypeState& st, const cache::Snapshot& snapshot) {
  const cache::TypeSet& set = snapshot.Get(t);
  if (st.evaluated == set.version && st.recheck.empty()) return std::nullopt;
  std::vector<cache::ResourcePtr> parts;
  size_t count = 0;
  std::vector<std::string> changed_clusters;
  auto consider = [&](const cache::ResourcePtr& r) {
    auto it = st.held.find(r->name);
    if (it != st.held.end() && it->second == r->version) return;
    parts.push_back(r);
    count++;
    st.held[r->name] = r->version;
    if (t == ResourceType::kCluster) changed_clusters.push_back(r->name);
  };
  std::vector<std::string> removed;
  // After an evaluation `held` is exactly the resources in scope at their versions (but for the
  // names in `recheck`). When the snapshot's changes start at that version, only the changed and
  // rechecked names can differ: O(changes). Otherwise compare everything in scope.
  std::optional<ChangedNames> since;
  if (!st.evaluated.empty()) since = ChangesSince(set, st.evaluated);
  if (since) {
    incremental_++;
    std::sort(st.recheck.begin(), st.recheck.end());
    st.recheck.erase(std::unique(st.recheck.begin(), st.recheck.end()), st.recheck.end());
    std::vector<std::string> candidates;
    std::set_union(since->updated->begin(), since->updated->end(), since->removed->begin(), since->removed->end(),
                   std::back_inserter(candidates));
    std::vector<std::string> all;
    std::set_union(candidates.begin(), candidates.end(), st.recheck.begin(), st.recheck.end(), std::back_inserter(all));
    for (const auto& n : all) {  // in name order, as the full comparison
      const cache::ResourcePtr* r = set.resources.Lookup(n);
      if (r && ((st.wildcard && (*r)->wildcard) || st.names.contains(n))) {
        consider(*r);
      } else if (st.held.erase(n) > 0) {
        removed.push_back(n);
      }
    }
  } else {
    if (st.wildcard) {
      for (const auto& [name, r] : set.resources) {
        if (r->wildcard || st.names.contains(name)) consider(r);
      }
    }
    for (const auto& n : st.names) {
      auto it = set.resources.find(n);
      if (it != set.resources.end() && !(st.wildcard && it->second->wildcard)) consider(it->second);
    }
    // Held resources that left the snapshot (or, for a wildcard client, its wildcard view).
    for (auto it = st.held.begin(); it != st.held.end();) {
      auto r = set.resources.find(it->first);
      bool in_scope = r != set.resources.end() && (st.names.contains(it->first) || (st.wildcard && r->second->wildcard));
      if (!in_scope) {
        removed.push_back(it->first);
        it = st.held.erase(it);
      } else {
        ++it;
      }
    }
  }
  st.recheck.clear();
  st.evaluated = set.version;
  if (DefersRemovals(t)) {
    st.removal_pending.insert(removed.begin(), removed.end());
    removed.clear();
  }
  for (const auto& r : parts) st.removal_pending.erase(r->name);
  if (count == 0 && removed.empty()) {
    // A reconnecting client that holds exactly the current versions (initial_resource_versions):
    // as good as an ACK of them (CSDS reports it SYNCED).
    if (st.info.answer == Answer::kNone && !st.held.empty()) {
      st.info.answer = Answer::kAcked;
      st.info.version_acked = set.version;
    }
    return std::nullopt;
  }
  // On ADS a (re)sent cluster is followed by its endpoints.
  // (A stream that has not asked for endpoints yet will be sent them all when it does.)
  if (!changed_clusters.empty() && types_[static_cast<size_t>(ResourceType::kEndpoint)]) {
    TypeState& eds = *types_[static_cast<size_t>(ResourceType::kEndpoint)];
    for (const auto& c : changed_clusters) {
      eds.held.erase(c);
      eds.recheck.push_back(c);
    }
  }
  return Finish(t, st, set.version, std::move(parts), "", count, removed);
}

namespace {
bool DomainMatches(const std::string& pattern, const std::string& host) {
  if (pattern == "*") return true;
  if (pattern.size() > 1 && pattern.front() == '*') {
    std::string suffix = pattern.substr(1);
    return host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  if (pattern.size() > 1 && pattern.back() == '*') {
    std::string prefix = pattern.substr(0, pattern.size() - 1);
    return host.size() > prefix.size() && host.compare(0, prefix.size(), prefix) == 0;
  }
  return pattern == host;
}

// Envoy's precedence: exact, then longest suffix wildcard, then longest prefix wildcard, then *.
int MatchRank(const std::string& pattern, const std::string& host) {
  if (!DomainMatches(pattern, host)) return -1;
  if (pattern == "*") return 0;
  if (pattern.front() == '*') return 2000000 + static_cast<int>(pattern.size());
  if (pattern.back() == '*') return 1000000 + static_cast<int>(pattern.size());
  return 3000000;
}
}  // namespace

cache::ResourcePtr ResolveVirtualHost(const cache::Snapshot& snapshot, const std::string& alias) {
  size_t slash = alias.rfind('/');  // hosts cannot contain '/', route config names can
  if (slash == std::string::npos) return nullptr;
  std::string rc = alias.substr(0, slash + 1);
  std::string host = alias.substr(slash + 1);
  std::string host_no_port = host;
  if (size_t colon = host.rfind(':'); colon != std::string::npos && host.find(']') == std::string::npos) {
    host_no_port = host.substr(0, colon);
  }
  const auto& vhosts = snapshot.Get(ResourceType::kVirtualHost).resources;
  cache::ResourcePtr best;
  int best_rank = -1;
  for (auto it = vhosts.lower_bound(rc); it != vhosts.end() && it->first.compare(0, rc.size(), rc) == 0; ++it) {
    for (const auto& d : it->second->domains) {
      int rank = std::max(MatchRank(d, host), MatchRank(d, host_no_port));
      if (rank > best_rank) {
        best_rank = rank;
        best = it->second;
      }
    }
  }
  return best;
}

std::optional<PendingResponse> DeltaState::NextVirtualHosts(TypeState& st, const cache::Snapshot& snapshot) {
  // A route configuration that changed since its virtual hosts were sent clears Envoy's table:
  // send them all again.
  const auto& routes = snapshot.Get(ResourceType::kRoute).resources;
  for (auto& [rc, version] : st.vhds_route_versions) {
    auto it = routes.find(rc);
    std::string now = it == routes.end() ? "" : it->second->version;
    if (now != version) {
      for (auto h = st.held.begin(); h != st.held.end();) {
        h = h->first.compare(0, rc.size() + 1, rc + "/") == 0 ? st.held.erase(h) : std::next(h);
      }
      version = now;
    }
  }

  // Group the subscribed aliases by the virtual host they resolve to.
  std::map<std::string, std::pair<cache::ResourcePtr, std::vector<std::string>>> found;
  std::vector<std::string> absent;
  for (const auto& alias : st.names) {
    cache::ResourcePtr r = ResolveVirtualHost(snapshot, alias);
    if (!r) {
      auto h = st.held.find(alias);
      if (!st.told_absent.contains(alias) || (h != st.held.end() && !h->second.empty())) absent.push_back(alias);
      continue;
    }
    auto h = st.held.find(alias);
    if (h != st.held.end() && h->second == r->version) continue;
    auto& slot = found[r->name];
    slot.first = r;
    slot.second.push_back(alias);
  }
  if (found.empty() && absent.empty()) return std::nullopt;

  std::string body;
  size_t count = 0;
  for (auto& [name, entry] : found) {
    const auto& [r, aliases] = entry;
    std::string res;  // envoy.service.discovery.v3.Resource
    wire::PutBytes(res, 3, r->name);
    wire::PutBytes(res, 1, r->version);
    res += r->sotw_field;  // Resource.resource is field 2, like DiscoveryResponse.resources
    for (const auto& a : aliases) wire::PutBytes(res, 4, a);
    wire::PutBytes(body, 2, res);
    count++;
    for (const auto& a : aliases) {
      st.held[a] = r->version;
      st.alias_resource[a] = r->name;
      st.told_absent.erase(a);
      std::string rc = a.substr(0, a.rfind('/'));
      if (!st.vhds_route_versions.contains(rc)) {
        auto it = routes.find(rc);
        st.vhds_route_versions[rc] = it == routes.end() ? "" : it->second->version;
      }
    }
  }
  std::vector<std::string> removed;
  for (const auto& a : absent) {
    std::string res;  // name and alias, no resource: "this host is unknown"
    wire::PutBytes(res, 3, a);
    wire::PutBytes(res, 4, a);
    wire::PutBytes(body, 2, res);
    count++;
    st.held.erase(a);
    st.told_absent.insert(a);
    // The host it was answered with is gone: name it in removed_resources, or Envoy keeps routing
    // with it. (A host that still exists but no longer matches the alias stays: other aliases
    // may use it.)
    if (auto it = st.alias_resource.find(a); it != st.alias_resource.end()) {
      if (!snapshot.Find(ResourceType::kVirtualHost, it->second) &&
          std::find(removed.begin(), removed.end(), it->second) == removed.end()) {
        removed.push_back(it->second);
      }
      st.alias_resource.erase(it);
    }
  }
  return Finish(ResourceType::kVirtualHost, st, snapshot.Get(ResourceType::kVirtualHost).version, {},
                std::move(body), count, removed);
}

PendingResponse DeltaState::Finish(ResourceType t, TypeState& st, const std::string& system_version,
                                   std::vector<cache::ResourcePtr> parts, std::string inline_resources, size_t count,
                                   const std::vector<std::string>& removed) {
  PendingResponse out;
  out.type = t;
  out.version = system_version;
  out.nonce = std::to_string(++nonce_);
  out.resources = count;
  out.parts = std::move(parts);  // resources (field 2), shared
  out.delta_parts = true;
  out.header = std::move(inline_resources);      // per-stream resources (VHDS aliases)
  wire::PutBytes(out.header, 1, system_version);  // system_version_info
  wire::PutBytes(out.header, 4, TypeUrl(t));      // type_url
  wire::PutBytes(out.header, 5, out.nonce);       // nonce
  for (const auto& r : removed) wire::PutBytes(out.header, 6, r);  // removed_resources
  std::string cp;
  wire::PutBytes(cp, 1, "tern");
  wire::PutBytes(out.header, 7, cp);  // control_plane
  st.info.version_sent = system_version;
  st.info.last_nonce = out.nonce;
  st.info.answer = Answer::kPending;
  st.info.last_sent_at = std::chrono::system_clock::now();
  st.info.responses++;
  return out;
}

}  // namespace tern::xds
