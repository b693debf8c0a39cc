#pragma once
// The gRPC xDS bootstrap file a proxyless client (gRPC C++ or grpc-js-xds) reads from
// GRPC_XDS_BOOTSTRAP: where the xDS server is, and which node the client says it is.
#include <string>

#include "absl/status/statusor.h"

namespace tern::testing {

struct XdsBootstrapOptions {
  std::string server_uri;  // "127.0.0.1:18000"
  std::string node_id = "test-client";
  std::string node_cluster = "test";
};

// {"xds_servers":[{"server_uri":..., "channel_creds":[{"type":"insecure"}],
//   "server_features":["xds_v3"]}], "node":{"id":..., "cluster":..., "locality":{}}}
// (grpc-js-xds requires node.locality to be present.)
std::string XdsBootstrapJson(const XdsBootstrapOptions& options);

// Writes the bootstrap to dir/name and returns the file's path.
absl::StatusOr<std::string> WriteXdsBootstrap(const std::string& dir,
                                              const XdsBootstrapOptions& options,
                                              const std::string& name = "xds_bootstrap.json");

}  // namespace tern::testing
