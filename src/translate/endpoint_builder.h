#pragma once
// EDS: the ClusterLoadAssignment of one cluster, shaped so that gRPC's xDS client accepts it too.
#include <memory>

#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "model/model.h"

namespace tern::translate {

// Only passing and warning endpoints with weight > 0 are included; they are grouped by
// (priority, zone) into localities, and priorities are renumbered 0..n-1 in their order.
// A cluster with no usable endpoint still gets an (empty) assignment, so that a proxy
// waiting for it stops waiting.
std::unique_ptr<envoy::config::endpoint::v3::ClusterLoadAssignment> BuildLoadAssignment(
    const model::Cluster& cluster);

}  // namespace tern::translate
