#pragma once
// CDS: one EDS cluster per model cluster; its endpoints come over ADS under the same name.
#include <memory>
#include <string>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "model/model.h"

namespace tern::translate {

inline constexpr char kHttpProtocolOptionsKey[] = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

std::unique_ptr<envoy::config::cluster::v3::Cluster> BuildCluster(const model::Cluster& cluster,
                                                                  const std::string& config_source);

}  // namespace tern::translate
