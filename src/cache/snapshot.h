#pragma once
// An immutable, versioned set of resources for one node cluster. Shared between streams as
// std::shared_ptr<const Snapshot>; resources are shared between snapshots.
#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cache/resource.h"

namespace tern::cache {

struct TypeSet {
  std::map<std::string, ResourcePtr> resources;  // by name, ordered (deterministic output)
  std::string version;  // hash over (name, version) of every resource
};

// Reference of one resource to another, recorded by the translator so that the snapshot can
// check it is consistent before it is published.
struct Reference {
  ResourceType from_type;
  std::string from_name;
  ResourceType to_type;
  std::string to_name;
};

class Snapshot {
 public:
  // Builds a snapshot; type versions are computed here.
  Snapshot(std::string node_cluster, std::array<std::vector<ResourcePtr>, kNumResourceTypes> resources,
           std::vector<Reference> references = {});

  const std::string& node_cluster() const { return node_cluster_; }
  const TypeSet& Get(ResourceType t) const { return types_[static_cast<size_t>(t)]; }
  ResourcePtr Find(ResourceType t, const std::string& name) const;
  // A version over all types: changes when anything in the snapshot changes.
  const std::string& version() const { return version_; }
  size_t size() const;

  // Every reference points at a resource present in this snapshot.
  absl::Status Consistent() const;

 private:
  std::string node_cluster_;
  std::array<TypeSet, kNumResourceTypes> types_;
  std::vector<Reference> references_;
  std::string version_;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace tern::cache
