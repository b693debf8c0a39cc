#include "support/xds_bootstrap.h"

#include <nlohmann/json.hpp>

#include "support/process.h"

namespace tern::testing {

std::string XdsBootstrapJson(const XdsBootstrapOptions& options) {
  nlohmann::json server = {
      {"server_uri", options.server_uri},
      {"channel_creds", nlohmann::json::array({{{"type", "insecure"}}})},
      {"server_features", nlohmann::json::array({"xds_v3"})},
  };
  nlohmann::json bootstrap = {
      {"xds_servers", nlohmann::json::array({server})},
      // grpc-js-xds rejects a bootstrap whose node has no locality; gRPC C++ does not mind.
      {"node",
       {{"id", options.node_id},
        {"cluster", options.node_cluster},
        {"locality", nlohmann::json::object()}}},
  };
  return bootstrap.dump(2) + "\n";
}

absl::StatusOr<std::string> WriteXdsBootstrap(const std::string& dir,
                                              const XdsBootstrapOptions& options,
                                              const std::string& name) {
  std::string path = dir + "/" + name;
  absl::Status st = WriteFile(path, XdsBootstrapJson(options));
  if (!st.ok()) return st;
  return path;
}

}  // namespace tern::testing
