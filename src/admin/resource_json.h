#pragma once
// Resources as JSON (proto3 JSON mapping, "@type" on every Any), for `tern render` and
// /debug/resources. Secrets are redacted unless asked for.
#include <string>

#include "absl/status/statusor.h"
#include "cache/snapshot.h"

namespace tern::admin {

// One resource as a JSON object with its "@type".
absl::StatusOr<std::string> ResourceToJson(const cache::Resource& r, bool reveal_secrets = false);

// A JSON object {"node_cluster", "version", "types":[DiscoveryResponse-shaped objects]} for the
// given types ("all" or a short name: listener, route, cluster, endpoint, secret, virtual_host;
// "all" lists virtual hosts only when there are some).
absl::StatusOr<std::string> SnapshotToJson(const cache::Snapshot& s, const std::string& node_cluster,
                                           const std::string& type, bool reveal_secrets = false);

}  // namespace tern::admin
