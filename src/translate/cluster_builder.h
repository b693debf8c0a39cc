#pragma once
// CDS: one EDS cluster per model cluster; its endpoints come over ADS under the same name.
#include <memory>
#include <string>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "model/model.h"

namespace tern::translate {

inline constexpr char kHttpProtocolOptionsKey[] = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

// `cluster` as one gateway sends to it: each setting of `policy` replaces the cluster's own
// (circuit-breaker fields one by one; outlier detection and connect timeout whole).
model::Cluster WithUpstreamPolicy(const model::Cluster& cluster, const model::UpstreamPolicy& policy);

std::unique_ptr<envoy::config::cluster::v3::Cluster> BuildCluster(const model::Cluster& cluster,
                                                                  const std::string& config_source);

}  // namespace tern::translate
