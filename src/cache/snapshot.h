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
#include "cache/resource_map.h"

namespace tern::cache {

// What changed in one type between the snapshot this one was derived from (the previous one
// published for the same node cluster) and this one. A stream that holds `from_version` can
// compute its next response from these names alone instead of from everything it subscribes to.
struct TypeChanges {
  bool known = false;                // false: built from scratch, compare with the whole set
  std::string from_version;          // the type version these changes apply to
  std::vector<std::string> updated;  // added, or whose resource changed; sorted, unique
  std::vector<std::string> removed;  // sorted, unique
};

struct TypeSet {
  ResourceMap resources;  // by name, ordered (deterministic output); shared between snapshots
  // Hash of the set of (name, version) pairs: the sum of the resources' entry digests, so that
  // a derived snapshot updates it in O(changes). Equal sets have equal versions in every replica.
  std::string version;
  Digest128 digest_sum;
  TypeChanges changes;
};

// Input of Snapshot::Derive for one type.
struct TypeUpdate {
  std::vector<ResourcePtr> set;     // added, or replacing the resource of the same name
  std::vector<std::string> erase;  // removed (absent names are ignored)
  bool empty() const { return set.empty() && erase.empty(); }
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

  // `previous` with `updates` applied: costs O(changes × log size); unchanged types and
  // resources are shared with `previous`. Records per type what changed (TypeSet::changes).
  // `references` are the references to check in Consistent() (those of what changed: the caller
  // vouches for the rest).
  static std::shared_ptr<const Snapshot> Derive(const Snapshot& previous,
                                                std::array<TypeUpdate, kNumResourceTypes> updates,
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
  Snapshot() = default;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace tern::cache
