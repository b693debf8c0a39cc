#include "xds/sotw_state.h"

#include "common/wire.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace tern::xds {

using envoy::service::discovery::v3::DiscoveryRequest;

absl::Status SotwState::OnRequest(const DiscoveryRequest& req, RequestKind* kind, ResourceType* type) {
  auto parsed = RequestType(req.type_url(), fixed_type_, "DiscoveryRequest");
  if (!parsed.ok()) return parsed.status();
  ResourceType t = *parsed;
  if (t == ResourceType::kVirtualHost) {
    return absl::InvalidArgumentError("virtual hosts are served on the delta protocol only (VHDS)");
  }
  *type = t;
  TypeState& st = types_[static_cast<size_t>(t)];
  const bool first = !st.requested;

  *kind = ClassifyRequest(first, req.response_nonce(), req.has_error_detail(), req.error_detail().message(),
                          req.version_info(), st.info);

  // Subscription.
  std::set<std::string> names;
  bool star = false;
  for (const auto& n : req.resource_names()) {
    if (n == "*") star = true;
    else names.insert(n);
  }
  bool wildcard;
  if (first) {
    st.legacy_wildcard = IsFullState(t) && req.resource_names().empty();
    wildcard = star || st.legacy_wildcard;
  } else if (star) {
    wildcard = true;
    st.legacy_wildcard = false;
  } else if (req.resource_names().empty() && st.legacy_wildcard) {
    wildcard = true;  // a legacy wildcard client keeps sending empty lists
  } else {
    wildcard = false;
    st.legacy_wildcard = false;
  }

  if (wildcard != st.wildcard || names != st.names) {
    for (const auto& n : names) {
      if (!st.names.contains(n)) st.force.insert(n);  // newly named: send even if unchanged
    }
    for (const auto& n : st.names) {
      if (!names.contains(n) && !wildcard) st.sent.erase(n);  // forget it: a re-subscribe sends again
    }
    if (st.wildcard && !wildcard) {
      for (auto it = st.sent.begin(); it != st.sent.end();) {
        it = names.contains(it->first) ? std::next(it) : st.sent.erase(it);
      }
    }
    st.full_state_dirty = true;
    st.evaluated.clear();
  }
  st.wildcard = wildcard;
  st.names = std::move(names);
  st.info.subscribed = true;
  st.info.wildcard = wildcard;
  st.info.names = st.names.size();

  if (first) {
    st.requested = true;
    st.initial_pending = true;
    if (!req.version_info().empty()) st.client_version = req.version_info();
  }
  return absl::OkStatus();
}

std::vector<cache::ResourcePtr> SotwState::Visible(const TypeState& st, const cache::TypeSet& set) const {
  std::vector<cache::ResourcePtr> out;
  if (st.wildcard) {
    for (const auto& [name, r] : set.resources) {
      if (r->wildcard || st.names.contains(name)) out.push_back(r);
    }
  } else {
    for (const auto& n : st.names) {
      auto it = set.resources.find(n);
      if (it != set.resources.end()) out.push_back(it->second);
    }
  }
  return out;
}

std::optional<PendingResponse> SotwState::NextResponse(const cache::Snapshot& snapshot) {
  for (ResourceType t : kAdsOrder) {
    TypeState& st = types_[static_cast<size_t>(t)];
    if (!st.requested) continue;
    const cache::TypeSet& set = snapshot.Get(t);
    if (st.evaluated == set.version && st.force.empty() && !st.full_state_dirty && !st.initial_pending &&
        !st.client_version) {
      continue;
    }
    std::vector<cache::ResourcePtr> visible = Visible(st, set);

    // Reconnect: the client already holds this exact version; adopt it without sending.
    if (st.client_version) {
      bool holds_current = *st.client_version == set.version;
      st.client_version.reset();
      if (holds_current) {
        for (const auto& r : visible) st.sent[r->name] = r->version;
        st.force.clear();
        st.full_state_dirty = false;
        st.initial_pending = false;
        st.info.version_sent = set.version;
        st.evaluated = set.version;
        continue;
      }
    }

    if (IsFullState(t)) {
      bool changed = st.full_state_dirty || st.initial_pending || visible.size() != st.sent.size();
      for (const auto& r : visible) {
        if (changed) break;
        auto it = st.sent.find(r->name);
        changed = it == st.sent.end() || it->second != r->version;
      }
      if (!changed) {
        st.evaluated = set.version;
        continue;
      }
      // Clusters that are new or changed are followed by their endpoints (ADS only matters,
      // but marking is harmless elsewhere).
      if (t == ResourceType::kCluster) {
        TypeState& eds = types_[static_cast<size_t>(ResourceType::kEndpoint)];
        for (const auto& r : visible) {
          auto it = st.sent.find(r->name);
          if (it == st.sent.end() || it->second != r->version) eds.force.insert(r->name);
        }
        if (!eds.force.empty()) eds.evaluated.clear();
      }
      st.sent.clear();
      for (const auto& r : visible) st.sent[r->name] = r->version;
      return Build(t, st, set, visible);
    }

    // Per-resource types: only what changed or was newly subscribed.
    std::vector<cache::ResourcePtr> send;
    std::set<std::string> present;
    for (const auto& r : visible) {
      present.insert(r->name);
      auto it = st.sent.find(r->name);
      if (it == st.sent.end() || it->second != r->version || st.force.contains(r->name)) send.push_back(r);
    }
    // Forget resources that disappeared, so that they are sent again if they come back.
    for (auto it = st.sent.begin(); it != st.sent.end();) {
      it = present.contains(it->first) ? std::next(it) : st.sent.erase(it);
    }
    // Names forced but absent stay remembered only through the subscription itself.
    for (auto it = st.force.begin(); it != st.force.end();) {
      it = present.contains(*it) ? std::next(it) : st.force.erase(it);
    }
    if (send.empty()) {
      st.evaluated = set.version;
      continue;
    }
    for (const auto& r : send) {
      st.sent[r->name] = r->version;
      st.force.erase(r->name);
    }
    return Build(t, st, set, send);
  }
  return std::nullopt;
}

std::optional<PendingResponse> SotwState::Build(ResourceType t, TypeState& st, const cache::TypeSet& set,
                                                const std::vector<cache::ResourcePtr>& send) {
  PendingResponse out;
  out.type = t;
  out.version = set.version;
  out.nonce = std::to_string(++nonce_);
  out.resources = send.size();
  out.parts = send;                             // resources (field 2), shared
  wire::PutBytes(out.header, 1, out.version);  // version_info
  wire::PutBytes(out.header, 4, TypeUrl(t));   // type_url
  wire::PutBytes(out.header, 5, out.nonce);    // nonce
  std::string cp;
  wire::PutBytes(cp, 1, "tern");               // ControlPlane.identifier
  wire::PutBytes(out.header, 6, cp);
  st.evaluated = set.version;

  st.full_state_dirty = false;
  st.initial_pending = false;
  st.info.version_sent = out.version;
  st.info.last_nonce = out.nonce;
  st.info.responses++;
  return out;
}

}  // namespace tern::xds
