#pragma once
// The incremental (delta) xDS protocol state of one stream, free of gRPC.
//
// Rules (envoyproxy/envoy docs/root/api-docs/xds_protocol.rst, "Incremental xDS"):
//  * The client says what it gains and loses interest in (resource_names_subscribe /
//    _unsubscribe); the server sends only resources whose version differs from what the client
//    holds, and names the ones that went away in removed_resources, once.
//  * Wildcard: "*" in resource_names_subscribe; for LDS and CDS a first request with nothing to
//    subscribe is the legacy wildcard. Unsubscribing "*" ends it.
//  * On reconnect, initial_resource_versions says what the client holds: held resources at the
//    current version are not re-sent, held resources that no longer exist are removed.
//  * Subscribing to a resource the client already holds sends it again (the client may have
//    dropped it); unsubscribing an unknown name is ignored; a subscribed name that does not
//    exist is remembered and sent when it appears.
//  * Nonces and ACK/NACK/stale are as in state-of-the-world.
//  * On ADS, removed clusters and endpoints are named only after the rest of the snapshot
//    (listeners, routes) was sent: make before break, as in SotwState.
//  * VHDS (on-demand virtual hosts, envoy api/ondemand_vhds_rds_protocol.rst): names are
//    "<route config>/<host>"; the server resolves the host against the route configuration's
//    virtual hosts (exact, then "*.suffix", then "prefix.*", then "*") and answers with that
//    virtual host, the requested names as aliases; an unknown host gets at once an entry with
//    the requested name and alias and no resource, so Envoy does not wait. A changed route
//    configuration re-sends every subscribed virtual host of it.
//  * Cost: while the type version the stream was last brought up to date with is the one a
//    derived snapshot's changes start from, only the changed names (and the endpoints of re-sent
//    clusters) are looked at; otherwise everything in scope is compared (same answer, slower).
//    Virtual hosts are always resolved name by name.
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cache/snapshot.h"
#include "xds/sotw_state.h"
#include "xds/stream_info.h"

namespace envoy::service::discovery::v3 {
class DeltaDiscoveryRequest;
}

namespace tern::xds {

class DeltaState {
 public:
  explicit DeltaState(std::optional<ResourceType> fixed_type) : fixed_type_(fixed_type) {}

  absl::Status OnRequest(const envoy::service::discovery::v3::DeltaDiscoveryRequest& req, RequestKind* kind,
                         ResourceType* type);
  std::optional<PendingResponse> NextResponse(const cache::SnapshotPtr& snapshot);
  const TypeInfo& info(ResourceType t) const {
    const auto& st = types_[static_cast<size_t>(t)];
    return st ? st->info : kNoInfo;
  }
  // A copy of what CSDS needs of type `t` (see client_status.h).
  TypeView View(ResourceType t) const;
  // See SotwState::incremental_evaluations().
  uint64_t incremental_evaluations() const { return incremental_; }

 private:
  struct TypeState {
    bool requested = false;
    bool wildcard = false;
    std::set<std::string> names;
    // What the client holds: name → version ("" = told it does not exist: VHDS only).
    std::map<std::string, std::string> held;
    std::set<std::string> told_absent;  // subscribed names reported as absent (VHDS)
    // VHDS: the virtual host resource each subscribed alias was last answered with. Envoy drops an
    // on-demand host only when its name is in removed_resources.
    std::map<std::string, std::string> alias_resource;
    // VHDS: for each route configuration, the RDS version the held virtual hosts belong to.
    std::map<std::string, std::string> vhds_route_versions;
    std::string evaluated;  // type version last brought up to date with (see SotwState)
    // Names dropped from `held` since then to be sent again (ADS: the endpoints of a re-sent
    // cluster): evaluated with the snapshot's changes, not by comparing everything.
    std::vector<std::string> recheck;
    std::set<std::string> removal_pending;  // ADS CDS/EDS: removals not yet sent (make before break)
    TypeInfo info;
  };

  static bool LegacyWildcardType(ResourceType t) {
    return t == ResourceType::kListener || t == ResourceType::kCluster;
  }
  bool DefersRemovals(ResourceType t) const {
    return !fixed_type_ && (t == ResourceType::kCluster || t == ResourceType::kEndpoint);
  }
  std::optional<PendingResponse> NextFor(ResourceType t, TypeState& st, const cache::Snapshot& snapshot);
  std::optional<PendingResponse> NextVirtualHosts(TypeState& st, const cache::Snapshot& snapshot);
  PendingResponse Finish(ResourceType t, TypeState& st, const std::string& system_version,
                         std::vector<cache::ResourcePtr> parts, std::string inline_resources, size_t count,
                         const std::vector<std::string>& removed);

  std::optional<ResourceType> fixed_type_;
  static inline const TypeInfo kNoInfo{};
  std::array<std::unique_ptr<TypeState>, kNumResourceTypes> types_;  // only the requested types
  uint64_t nonce_ = 0;
  uint64_t incremental_ = 0;
};

// Resolves "<route config>/<host>" against the virtual hosts of the snapshot. Returns the
// virtual host resource or null.
cache::ResourcePtr ResolveVirtualHost(const cache::Snapshot& snapshot, const std::string& alias);

}  // namespace tern::xds
