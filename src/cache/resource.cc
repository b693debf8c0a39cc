#include "cache/resource.h"

#include "common/hash.h"
#include "common/wire.h"

namespace tern::cache {

ResourcePtr MakeResource(ResourceType type, std::string name, std::string body, bool wildcard,
                         std::vector<std::string> domains) {
  auto r = std::make_shared<Resource>();
  r->type = type;
  r->name = std::move(name);
  r->body = std::move(body);
  r->version = ContentHash(r->body);
  r->wildcard = wildcard;
  r->domains = std::move(domains);
  // The wildcard flag is part of what a stream sees: a resource that only changes it is a change.
  r->entry_digest = PartsDigest(r->name, r->wildcard ? r->version + "+w" : r->version);

  std::string any;
  wire::PutBytes(any, 1, TypeUrl(type));
  wire::PutBytes(any, 2, r->body);
  wire::PutBytes(r->sotw_field, 2, any);  // DiscoveryResponse.resources

  std::string res;  // envoy.service.discovery.v3.Resource
  wire::PutBytes(res, 3, r->name);
  wire::PutBytes(res, 1, r->version);
  wire::PutBytes(res, 2, any);
  wire::PutBytes(r->delta_field, 2, res);  // DeltaDiscoveryResponse.resources
  return r;
}

}  // namespace tern::cache
