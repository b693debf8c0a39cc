#pragma once
// Pure decoders for the Nomad native service discovery API (provider = "nomad"): JSON text in,
// plain structs out, and the mapping of what was read to model clusters. No I/O.
//
// Endpoints (https://developer.hashicorp.com/nomad/api-docs/services):
//   GET /v1/services[?namespace=NS|*]  → [{"Namespace": "default",
//                                          "Services": [{"ServiceName": "web", "Tags": ["a"]}]}]
//   GET /v1/service/:name[?namespace=NS] → [{"ID", "ServiceName", "Namespace", "NodeID",
//                                            "Datacenter", "JobID", "AllocID", "Tags", "Address",
//                                            "Port", "CreateIndex", "ModifyIndex"}, ...]
// Errors name the endpoint and the JSON path of the offending value
// ("/v1/service/web: [1].Port: expected an integer in 0..65535"). Fields tern does not use are
// ignored, so answers from newer Nomad versions still decode; Go's null for an empty list is an
// empty list.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"
#include "sources/tags/canary.h"

namespace tern::sources::nomad {

inline constexpr char kDefaultNamespace[] = "default";

// A service as Nomad lists it: the namespace it lives in and its name.
struct ServiceKey {
  std::string namespace_name;
  std::string name;
  auto operator<=>(const ServiceKey&) const = default;
};

// /v1/services: every service with the union of its registrations' tags.
using ServiceList = std::map<ServiceKey, std::vector<std::string>>;
absl::StatusOr<ServiceList> DecodeServiceList(const std::string& json, const std::string& endpoint);

// One entry of /v1/service/:name: one allocation's registration of the service.
struct Registration {
  std::string id;
  std::string service;
  std::string namespace_name;
  std::string node_id;
  std::string datacenter;
  std::string job_id;
  std::string alloc_id;
  std::vector<std::string> tags;
  std::string address;
  uint32_t port = 0;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  bool operator==(const Registration&) const = default;
};
absl::StatusOr<std::vector<Registration>> DecodeRegistrations(const std::string& json, const std::string& endpoint);

// The cluster name of a service: `<service>` in the default namespace, `<namespace>/<service>`
// elsewhere (Nomad allows the same service name in two namespaces; the cluster names must differ).
std::string ClusterName(const ServiceKey& key);

// The model endpoint of a registration. Nomad's service API has no health: a registration exists
// while its allocation runs, so every registration is passing, weight 1. Metadata carries where
// it comes from (alloc_id, job_id, node_id, datacenter, namespace).
model::Endpoint ToEndpoint(const Registration& r);

// The clusters of every service whose registrations are known. A registration naming another
// service or namespace than the one it was read for is left out (and reported). With a canary
// tag, a service some (not all) of whose registrations carry it gets `<cluster>-canary` and
// `<cluster>-stable` clusters and routes splitting its traffic (sources/tags/canary.h).
struct NomadView {
  ServiceList services;
  std::map<ServiceKey, std::vector<Registration>> registrations;  // only read services
  tags::CanaryOptions canary;
};
model::World BuildWorld(const NomadView& view, std::vector<model::Problem>* problems);

// The request paths tern watches. `namespace_name` "" means Nomad's default; "*" every namespace
// the token may read. `region` "" means the agent's own.
std::string ServiceListPath(const std::string& namespace_name, const std::string& region);
std::string ServicePath(const ServiceKey& key, const std::string& region);

std::string UrlEscape(const std::string& s);

}  // namespace tern::sources::nomad
