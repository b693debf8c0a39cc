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
  auto& slot = types_[static_cast<size_t>(t)];
  if (!slot) slot = std::make_unique<TypeState>();
  TypeState& st = *slot;
  const bool first = !st.requested;

  *kind = ClassifyRequest(first, req.response_nonce(), req.has_error_detail(), req.error_detail().message(),
                          req.version_info(), st.info);

  // Subscription.
  std::vector<std::string> names;
  bool star = false;
  for (const auto& n : req.resource_names()) {
    if (n == "*") star = true;
    else names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
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

  if (wildcard != st.wildcard || names != st.names.names()) {
    // Newly named resources are sent even if unchanged: the client may have dropped them.
    std::vector<std::string> added;
    std::set_difference(names.begin(), names.end(), st.names.begin(), st.names.end(), std::back_inserter(added));
    st.force.insert(added.begin(), added.end());
    st.full_state_dirty = true;
    st.evaluated.clear();
    // Kept for the stream's life (an Envoy names every cluster it has): shared, not copied.
    if (names != st.names.names()) st.names = NameList::Intern(std::move(names));
  }
  st.wildcard = wildcard;
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

TypeView SotwState::View(ResourceType t) const {
  TypeView v;
  if (!types_[static_cast<size_t>(t)]) return v;
  const TypeState& st = *types_[static_cast<size_t>(t)];
  v.info = st.info;
  v.wildcard = st.wildcard;
  v.names = st.names.names();
  v.sent = st.base;
  for (const auto& [name, r] : st.lingering) v.lingering.push_back(r);
  return v;
}

std::vector<cache::ResourcePtr> SotwState::Visible(const TypeState& st, const cache::TypeSet& set) const {
  std::vector<cache::ResourcePtr> out;
  if (st.wildcard) {
    for (const auto& [name, r] : set.resources) {
      if (r->wildcard || st.Named(name)) out.push_back(r);
    }
  } else {
    for (const auto& n : st.names) {
      auto it = set.resources.find(n);
      if (it != set.resources.end()) out.push_back(it->second);
    }
  }
  return out;
}

namespace {
const std::vector<std::string> kNoNames;

// Calls f(name) for each name of the sorted ranges a and b, in order, once.
template <typename A, typename B, typename F>
void ForEachUnion(const A& a, const B& b, F&& f) {
  auto i = a.begin();
  auto j = b.begin();
  while (i != a.end() || j != b.end()) {
    if (j == b.end() || (i != a.end() && *i < *j)) {
      f(*i++);
    } else if (i == a.end() || *j < *i) {
      f(*j++);
    } else {
      f(*i++);
      ++j;
    }
  }
}
}  // namespace

std::optional<ChangedNames> ChangesSince(const cache::TypeSet& set, const std::string& held_version) {
  if (set.changes.known && set.changes.from_version == held_version) {
    return ChangedNames{&set.changes.updated, &set.changes.removed};
  }
  // Same type version: the same (name, version) pairs, whatever snapshot they came from.
  if (held_version == set.version) return ChangedNames{&kNoNames, &kNoNames};
  return std::nullopt;
}

std::optional<PendingResponse> SotwState::NextResponse(const cache::SnapshotPtr& snapshot) {
  for (ResourceType t : kAdsOrder) {
    if (!types_[static_cast<size_t>(t)]) continue;
    TypeState& st = *types_[static_cast<size_t>(t)];
    if (!st.requested) continue;
    const cache::TypeSet& set = snapshot->Get(t);
    if (st.evaluated == set.version && st.force.empty() && !st.full_state_dirty && !st.initial_pending &&
        !st.client_version) {
      continue;
    }
    const cache::TypeSet* base = st.base ? &st.base->Get(t) : nullptr;
    // The version the client holds of `r`, or null if it holds none.
    auto held = [&](const cache::Resource& r) -> const std::string* {
      if (!base || st.force.contains(r.name)) return nullptr;
      const cache::ResourcePtr* b = base->resources.Lookup(r.name);
      return b ? &(*b)->version : nullptr;
    };
    auto adopt = [&]() {
      st.base = snapshot;
      st.force.clear();
      st.full_state_dirty = false;
      st.initial_pending = false;
      st.evaluated = set.version;
    };

    // Reconnect: the client already holds this exact version; adopt it without sending.
    if (st.client_version) {
      bool holds_current = *st.client_version == set.version;
      st.client_version.reset();
      if (holds_current) {
        adopt();
        // The client said it holds this version: as good as an ACK of it.
        st.info.version_sent = set.version;
        st.info.version_acked = set.version;
        st.info.answer = Answer::kAcked;
        continue;
      }
    }

    // The fast path: when the client holds the predecessor of this type set (and no new
    // subscription is pending), only the names the snapshot says changed, and the forced ones,
    // can differ from what it holds. Otherwise (a stream that skipped a snapshot, a snapshot
    // built from scratch) compare everything visible with `base`.
    std::optional<ChangedNames> since;
    if (base && !st.initial_pending && st.lingering.empty() &&
        (!IsFullState(t) || (st.force.empty() && !st.full_state_dirty))) {
      since = ChangesSince(set, base->version);
      if (since) incremental_++;
    }

    if (IsFullState(t)) {
      // What the client holds but this snapshot drops: kept for now when removals wait.
      std::map<std::string, cache::ResourcePtr> dropped;
      bool changed = st.full_state_dirty || st.initial_pending || !base;
      std::vector<std::string> changed_names;
      if (since) {
        // As the full comparison below: a visible resource the client does not hold at its
        // version is a change; otherwise the response changes when the number of resources it
        // lists does (one that enters or leaves the client's view without changing version).
        long net = 0;  // resources visible now minus those visible in base (not counting dropped)
        for (const auto& n : *since->updated) {
          const cache::ResourcePtr* r = set.resources.Lookup(n);
          const cache::ResourcePtr* b = base->resources.Lookup(n);
          const bool now = r && Subscribed(st, **r);
          const bool before = b && Subscribed(st, **b);
          if (now) {
            const std::string* v = held(**r);
            if (!v || *v != (*r)->version) changed_names.push_back(n);
          }
          net += static_cast<long>(now) - static_cast<long>(before);
        }
        for (const auto& n : *since->removed) {
          const cache::ResourcePtr* b = base->resources.Lookup(n);
          if (!b || !Subscribed(st, **b)) continue;
          if (DefersRemovals(t)) dropped.emplace(n, *b);
          else net -= 1;
        }
        changed = !changed_names.empty() || net != 0;
      } else {
        if (DefersRemovals(t)) {
          if (base) {
            for (const auto& r : Visible(st, *base)) {
              if (!set.resources.contains(r->name)) dropped.emplace(r->name, r);
            }
          }
          for (const auto& [name, r] : st.lingering) {
            if (!set.resources.contains(name) && Subscribed(st, *r)) dropped.emplace(name, r);
          }
        }
        std::vector<cache::ResourcePtr> visible = Visible(st, set);
        for (const auto& r : visible) {
          const std::string* v = held(*r);
          if (!v || *v != r->version) changed_names.push_back(r->name);
        }
        if (!changed && changed_names.empty()) {
          // Same resources at the same versions; but one may have left the client's view. What
          // is sent now is a subset of what the client holds, so comparing sizes is enough.
          size_t held_before = Visible(st, *base).size();
          for (const auto& [name, r] : st.lingering) held_before += Subscribed(st, *r) ? 1 : 0;
          changed = held_before != visible.size() + dropped.size();
        }
        changed = changed || !changed_names.empty();
      }
      st.lingering = std::move(dropped);
      if (!changed) {
        adopt();
        continue;
      }
      // A cluster that is new or changed is followed by its endpoints.
      // (A stream that has not asked for endpoints yet will be sent them all when it does.)
      if (t == ResourceType::kCluster && !changed_names.empty() && types_[static_cast<size_t>(ResourceType::kEndpoint)]) {
        TypeState& eds = *types_[static_cast<size_t>(ResourceType::kEndpoint)];
        eds.force.insert(changed_names.begin(), changed_names.end());
        eds.evaluated.clear();
      }
      adopt();
      std::vector<cache::ResourcePtr> visible = Visible(st, set);
      std::string version;
      if (!st.lingering.empty()) {
        // Not the snapshot's version: the client does not hold that state yet.
        version = set.version + "+" + std::to_string(st.lingering.size()) + "-pending-removal";
        for (const auto& [name, r] : st.lingering) visible.push_back(r);
      }
      return Build(t, st, set, std::move(visible), std::move(version));
    }

    // Per-resource types: only what changed or was newly subscribed. Names that do not exist
    // are not sent; they stay subscribed, and will be sent when they appear (the adopted base
    // will not hold them). In name order either way (Visible() lists in name order).
    std::vector<cache::ResourcePtr> send;
    auto consider = [&](const cache::ResourcePtr& r) {
      const std::string* v = held(*r);
      if (!v || *v != r->version) send.push_back(r);
    };
    if (since) {
      ForEachUnion(*since->updated, st.force, [&](const std::string& n) {
        const cache::ResourcePtr* r = set.resources.Lookup(n);
        if (r && Subscribed(st, **r)) consider(*r);
      });
    } else {
      for (const auto& r : Visible(st, set)) consider(r);
    }
    adopt();
    if (send.empty()) continue;
    return Build(t, st, set, std::move(send));
  }
  // Everything of this snapshot was sent: now the held clusters it dropped can go.
  for (ResourceType t : kAdsOrder) {
    if (!types_[static_cast<size_t>(t)]) continue;
    TypeState& st = *types_[static_cast<size_t>(t)];
    if (st.lingering.empty()) continue;
    st.lingering.clear();
    const cache::TypeSet& set = snapshot->Get(t);
    return Build(t, st, set, Visible(st, set));
  }
  return std::nullopt;
}

std::optional<PendingResponse> SotwState::Build(ResourceType t, TypeState& st, const cache::TypeSet& set,
                                                std::vector<cache::ResourcePtr> send, std::string version) {
  PendingResponse out;
  out.type = t;
  out.version = version.empty() ? set.version : std::move(version);
  out.nonce = std::to_string(++nonce_);
  out.resources = send.size();
  out.parts = std::move(send);                  // resources (field 2), shared
  wire::PutBytes(out.header, 1, out.version);  // version_info
  wire::PutBytes(out.header, 4, TypeUrl(t));   // type_url
  wire::PutBytes(out.header, 5, out.nonce);    // nonce
  std::string cp;
  wire::PutBytes(cp, 1, "tern");               // ControlPlane.identifier
  wire::PutBytes(out.header, 6, cp);
  st.evaluated = set.version;

  st.info.version_sent = out.version;
  st.info.last_nonce = out.nonce;
  st.info.answer = Answer::kPending;
  st.info.last_sent_at = std::chrono::system_clock::now();
  st.info.responses++;
  return out;
}

}  // namespace tern::xds
