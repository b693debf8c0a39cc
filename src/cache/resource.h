#pragma once
// One xDS resource, serialized once. Every stream that sends it copies these bytes; nothing
// re-serializes per stream.
#include <memory>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/type_urls.h"

namespace tern::cache {

struct Resource {
  ResourceType type;
  std::string name;
  std::string version;  // content hash of `body`
  std::string body;     // the serialized resource message
  // Pre-encoded wire fragments (protobuf fields concatenate on the wire):
  std::string sotw_field;   // DiscoveryResponse field 2: Any{type_url, body}
  std::string delta_field;  // DeltaDiscoveryResponse field 2: Resource{name, version, Any}
  // Visible to wildcard subscriptions. Proxyless API listeners and mesh resources are only
  // served to clients that name them.
  bool wildcard = true;
  // Virtual hosts only: the domains the host answers for, to resolve VHDS "<route config>/<host>"
  // requests.
  std::vector<std::string> domains;
  // Digest of (name, version, wildcard): summed into the type version of every snapshot that
  // holds it.
  Digest128 entry_digest;
};

using ResourcePtr = std::shared_ptr<const Resource>;

// Serializes the wire fragments and hashes the body.
ResourcePtr MakeResource(ResourceType type, std::string name, std::string body, bool wildcard = true,
                         std::vector<std::string> domains = {});

}  // namespace tern::cache
