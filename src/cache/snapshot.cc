#include "cache/snapshot.h"

#include "common/hash.h"

namespace tern::cache {

Snapshot::Snapshot(std::string node_cluster,
                   std::array<std::vector<ResourcePtr>, kNumResourceTypes> resources,
                   std::vector<Reference> references)
    : node_cluster_(std::move(node_cluster)), references_(std::move(references)) {
  Hasher all;
  for (size_t i = 0; i < kNumResourceTypes; ++i) {
    auto& set = types_[i];
    for (auto& r : resources[i]) set.resources[r->name] = std::move(r);
    Hasher h;
    for (const auto& [name, r] : set.resources) {
      h.Add(name);
      h.Add(r->version);
    }
    set.version = h.Finish();
    all.Add(set.version);
  }
  version_ = all.Finish();
}

ResourcePtr Snapshot::Find(ResourceType t, const std::string& name) const {
  const auto& m = Get(t).resources;
  auto it = m.find(name);
  return it == m.end() ? nullptr : it->second;
}

size_t Snapshot::size() const {
  size_t n = 0;
  for (const auto& t : types_) n += t.resources.size();
  return n;
}

absl::Status Snapshot::Consistent() const {
  for (const auto& ref : references_) {
    if (!Find(ref.to_type, ref.to_name)) {
      std::string msg = "snapshot for node cluster '" + node_cluster_ + "' is inconsistent: ";
      msg += std::string(ShortName(ref.from_type)) + " '" + ref.from_name + "' refers to " +
             std::string(ShortName(ref.to_type)) + " '" + ref.to_name + "' which is not in it";
      return absl::FailedPreconditionError(msg);
    }
  }
  return absl::OkStatus();
}

}  // namespace tern::cache
