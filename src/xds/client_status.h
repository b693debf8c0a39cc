#pragma once
// What a connected proxy holds, type by type and resource by resource, as tern sees it: the one
// place that turns a stream's protocol state into statuses. CSDS (csds_service.h) and
// /debug/proxies both read it.
//
// Nothing here is stored per resource. A stream keeps, per type, its subscription and either the
// snapshot it was last sent (state of the world: every visible resource of that snapshot was sent
// when it was adopted) or the versions the client holds (delta, which already tracks them); the
// per-resource view is computed from those, and from the stream's newest snapshot, only when asked.
//
// The mapping, in CSDS terms (envoy.service.status.v3.ConfigStatus for the server's view,
// envoy.admin.v3.ClientResourceStatus for the client's):
//  * A type's status follows the client's answer to the last response of that type: none sent
//    yet → NOT_SENT; sent, no ACK or NACK yet → STALE; ACKed → SYNCED; NACKed → ERROR. ACK and
//    NACK are per response in the protocol (a SotW version_info covers the whole type), so tern
//    does not guess which resource a NACK was about: every resource of the type the client was
//    sent carries the type's status.
//  * A resource the client was sent: that status; client status ACKED (SYNCED), NACKED (ERROR),
//    UNKNOWN (STALE: tern cannot know yet). A delta client that declared the resource in
//    initial_resource_versions and was sent nothing since holds it: SYNCED / ACKED. So does a SotW
//    client that reconnected with the current version_info.
//  * A name the client subscribed to, or a wildcard resource, that it was not sent yet: NOT_SENT;
//    REQUESTED if it exists in the newest snapshot (it is on its way) or no snapshot is known yet,
//    DOES_NOT_EXIST if the newest snapshot does not have it.
//  * The error state (the NACK's error detail, the rejected version, the time of the NACK) stays
//    on the type from a NACK until the next ACK, also while a newer response is pending.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/snapshot.h"
#include "xds/stream_info.h"

namespace tern::xds {

// The numbering is that of the protos (ConfigStatus, admin.v3.ClientResourceStatus).
enum class ConfigStatus { kUnknown = 0, kSynced = 1, kNotSent = 2, kStale = 3, kError = 4 };
enum class ClientStatus { kUnknown = 0, kRequested = 1, kDoesNotExist = 2, kAcked = 3, kNacked = 4 };

std::string_view ConfigStatusName(ConfigStatus s);  // "SYNCED", ...
std::string_view ClientStatusName(ClientStatus s);  // "ACKED", ...

// One type of one stream, copied under the stream's lock so that statuses are computed outside it.
struct TypeView {
  TypeInfo info;
  bool delta = false;
  bool wildcard = false;
  std::vector<std::string> names;  // explicitly subscribed, sorted
  // State of the world: the snapshot the client was last sent (null: nothing yet), and, on ADS
  // CDS, the resources it still holds that wait for their removal (make before break).
  cache::SnapshotPtr sent;
  std::vector<cache::ResourcePtr> lingering;
  // Delta: name → version the client holds ("" = told the name does not exist: VHDS).
  std::vector<std::pair<std::string, std::string>> held;
};

struct StreamView {
  uint64_t requests = 0;  // requests applied so far
  // Only `info` is filled unless details were asked for.
  std::array<TypeView, kNumResourceTypes> types;
  cache::SnapshotPtr latest;  // the newest snapshot the stream knows for its node cluster
};

struct ResourceStatus {
  ResourceType type;
  std::string name;
  std::string version;  // version_info of what the client was sent (SotW: the response's; delta: the resource's)
  ConfigStatus config_status = ConfigStatus::kUnknown;
  ClientStatus client_status = ClientStatus::kUnknown;
  bool failing = false;  // the type's last answer was a NACK: report its error state
  cache::ResourcePtr sent;  // the resource as sent, when known
};

// A type's status from its protocol state (the first rule above).
ConfigStatus TypeConfigStatus(const TypeInfo& info);

// The per-resource statuses of one subscribed type, sorted by name.
std::vector<ResourceStatus> ResourceStatuses(ResourceType t, const TypeView& view, const cache::Snapshot* latest);

// What /debug/proxies shows of a stream's node (StreamInfo::node): its metadata as JSON ("{}"
// when none) and its user agent ("envoy/1.28.0", "" when none).
struct NodeDetails {
  std::string metadata_json = "{}";
  std::string user_agent;
};
NodeDetails DescribeNode(const std::string& serialized_node);

// One stream as CSDS and /debug/proxies show it.
struct StreamStatus {
  StreamInfo info;
  std::vector<ResourceStatus> resources;  // every subscribed type, in ADS order
};

}  // namespace tern::xds
