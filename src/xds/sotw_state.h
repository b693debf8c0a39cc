#pragma once
// The state-of-the-world protocol state of one xDS stream, free of gRPC so that it can be
// reasoned about (and tested) on its own. The reactor feeds it requests and snapshots and writes
// whatever response it asks for, one at a time.
//
// Protocol rules (envoyproxy/envoy docs/root/api-docs/xds_protocol.rst):
//  * Each response carries a nonce, unique and increasing on the stream. A request whose
//    response_nonce is not the last nonce sent for its type is stale ("Resource updates ...
//    nonce"): it is neither an ACK nor a NACK, but its resource_names are honoured.
//  * A non-stale request with error_detail is a NACK of the response with that nonce; without,
//    it is an ACK of version_info.
//  * Wildcard: for LDS and CDS, a first request with no names is the legacy wildcard; "*" is
//    the explicit wildcard for any type. Once a client names resources without "*", it is no
//    longer a wildcard subscriber.
//  * LDS and CDS responses carry every subscribed resource ("full state"); the absence of a
//    resource means it was deleted. RDS, EDS and SDS responses carry only the resources that
//    changed or were newly subscribed.
//  * Names that do not exist yet stay subscribed and are sent when they appear.
//  * A client reconnecting with the version it already holds is sent nothing until something
//    changes (versions are content hashes, so this holds across tern replicas).
//  * On ADS, a cluster that was (re)sent is followed by its endpoints even when they did not
//    change: Envoy re-warms a changed cluster and waits for its ClusterLoadAssignment.
//  * On ADS, removals are make-before-break ("Eventual consistency considerations"): a cluster
//    the client holds that the new snapshot drops stays in the CDS responses until the
//    endpoints, listeners and routes of that snapshot have been sent; only then does a last CDS
//    response leave it out. Otherwise a client whose route still names the cluster fails its
//    calls until the new route arrives (gRPC reports the cluster as not existing at once).
//  * Cost: a stream whose client holds the type set this snapshot was derived from looks only at
//    the names the snapshot records as changed (and those it must re-send), not at everything it
//    subscribes to; a stream that fell further behind compares everything (same answer, slower).
#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cache/snapshot.h"
#include "xds/client_status.h"
#include "xds/name_list.h"
#include "xds/request_rules.h"
#include "xds/stream_info.h"

namespace envoy::service::discovery::v3 {
class DiscoveryRequest;
}

namespace tern::xds {

// A response ready to write: `header` (the per-stream fields) followed by each part's
// pre-encoded field (sotw_field or delta_field). Protobuf fields may come in any order on the
// wire, so the concatenation is the serialized response; the parts are shared, not copied.
struct PendingResponse {
  ResourceType type;
  std::string header;
  std::vector<cache::ResourcePtr> parts;
  bool delta_parts = false;  // parts contribute delta_field instead of sotw_field
  std::string version;
  std::string nonce;
  size_t resources = 0;
  size_t size() const {
    size_t n = header.size();
    for (const auto& p : parts) n += delta_parts ? p->delta_field.size() : p->sotw_field.size();
    return n;
  }
  std::string Serialize() const {  // for tests and tools; the server writes the parts as slices
    std::string out = header;
    for (const auto& p : parts) out += delta_parts ? p->delta_field : p->sotw_field;
    return out;
  }
};


// The names of a type set that may differ from a state the client holds, known from the
// snapshot alone: the set's recorded changes when they apply to `held_version` (the type version
// the client holds), none when the set is at that version. Lets a stream that kept up compute
// its next response in O(changes) instead of O(subscriptions).
struct ChangedNames {
  const std::vector<std::string>* updated;  // sorted
  const std::vector<std::string>* removed;  // sorted
};
// nullopt: the changes do not start at `held_version` (the client is further behind, or the
// set was built from scratch): compare with everything.
std::optional<ChangedNames> ChangesSince(const cache::TypeSet& set, const std::string& held_version);

class SotwState {
 public:
  // `fixed_type`: the per-type services accept only their own type; ADS accepts every type.
  explicit SotwState(std::optional<ResourceType> fixed_type) : fixed_type_(fixed_type) {}

  // Applies one request. An error means the request is malformed; the stream is then closed
  // with INVALID_ARGUMENT and this message.
  absl::Status OnRequest(const envoy::service::discovery::v3::DiscoveryRequest& req, RequestKind* kind,
                         ResourceType* type);

  // The next response to write for `snapshot`, in ADS order, or nullopt when the client is up
  // to date. Records what it returns as sent.
  std::optional<PendingResponse> NextResponse(const cache::SnapshotPtr& snapshot);

  const TypeInfo& info(ResourceType t) const {
    const auto& st = types_[static_cast<size_t>(t)];
    return st ? st->info : kNoInfo;
  }
  // A copy of what CSDS needs of type `t` (see client_status.h).
  TypeView View(ResourceType t) const;
  // How many type evaluations looked only at the snapshot's recorded changes (the rest compared
  // everything the client subscribes to).
  uint64_t incremental_evaluations() const { return incremental_; }

 private:
  // What the client holds is not stored resource by resource: it is `base`, the snapshot whose
  // versions the client has for every resource it can see (all visible ones were sent when base
  // was adopted), except the names in `force`. Snapshots are shared, so an up-to-date stream costs
  // one pointer per type, not a map of versions.
  struct TypeState {
    bool requested = false;
    bool wildcard = false;
    bool legacy_wildcard = false;
    NameList names;  // explicitly subscribed, sorted, unique; shared with streams naming the same
    cache::SnapshotPtr base;
    std::set<std::string> force;              // send these even if unchanged
    bool full_state_dirty = false;            // LDS/CDS: the subscription changed
    bool initial_pending = false;             // first request not answered yet
    std::optional<std::string> client_version;  // version the client said it holds on (re)connect
    // ADS, CDS: resources the client holds that the current snapshot no longer has; they are
    // still sent (make before break) until the later types are up to date. Never in `base`.
    std::map<std::string, cache::ResourcePtr> lingering;
    // The type version this state was last brought up to date with: while the snapshot's type
    // version stays the same and nothing is pending, there is nothing to compute (ACKs are O(1)).
    std::string evaluated;
    TypeInfo info;
    bool Named(const std::string& n) const { return names.contains(n); }
  };

  static bool IsFullState(ResourceType t) { return t == ResourceType::kListener || t == ResourceType::kCluster; }
  // Removals of this type wait until the rest of the snapshot was sent (ADS clusters only: the
  // per-type services have no order between streams).
  bool DefersRemovals(ResourceType t) const { return !fixed_type_ && t == ResourceType::kCluster; }
  static bool Subscribed(const TypeState& st, const cache::Resource& r) {
    return st.wildcard ? (r.wildcard || st.Named(r.name)) : st.Named(r.name);
  }
  std::vector<cache::ResourcePtr> Visible(const TypeState& st, const cache::TypeSet& set) const;
  std::optional<PendingResponse> Build(ResourceType t, TypeState& st, const cache::TypeSet& set,
                                       std::vector<cache::ResourcePtr> send, std::string version = {});

  std::optional<ResourceType> fixed_type_;
  static inline const TypeInfo kNoInfo{};
  // Only the types the client asked for (an Envoy asks for four of six): a TypeState is a few
  // hundred bytes per stream.
  std::array<std::unique_ptr<TypeState>, kNumResourceTypes> types_;
  uint64_t nonce_ = 0;
  uint64_t incremental_ = 0;
};

}  // namespace tern::xds
