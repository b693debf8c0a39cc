#pragma once
// Envoy's own acceptance rules for a resource, read from the protoc-gen-validate annotations of
// its protos through descriptors and reflection (Envoy is not available to ask). A snapshot is
// never served with a resource that fails these: Envoy would NACK it.
#include <string>
#include <vector>

#include <google/protobuf/message.h>

namespace tern::translate {

// Every violation, each naming the resource and the field path:
//   "Cluster 'web': connect_timeout: must be greater than 0s"
// google.protobuf.Any values are unpacked (generated pool) and checked as well. Empty = valid.
std::vector<std::string> ValidateResource(const google::protobuf::Message& m);

}  // namespace tern::translate
