#include "cache/snapshot.h"

#include <algorithm>

#include "common/hash.h"

namespace tern::cache {

Snapshot::Snapshot(std::string node_cluster,
                   std::array<std::vector<ResourcePtr>, kNumResourceTypes> resources,
                   std::vector<Reference> references)
    : node_cluster_(std::move(node_cluster)), references_(std::move(references)) {
  Hasher all;
  for (size_t i = 0; i < kNumResourceTypes; ++i) {
    auto& set = types_[i];
    auto& list = resources[i];
    // By name; of two resources with the same name the later one wins.
    std::stable_sort(list.begin(), list.end(), [](const ResourcePtr& a, const ResourcePtr& b) { return a->name < b->name; });
    std::vector<ResourcePtr> unique;
    unique.reserve(list.size());
    for (auto& r : list) {
      if (!unique.empty() && unique.back()->name == r->name) unique.back() = std::move(r);
      else unique.push_back(std::move(r));
    }
    for (const auto& r : unique) set.digest_sum = Add(set.digest_sum, r->entry_digest);
    set.version = DigestHex(set.digest_sum, unique.size());
    set.resources = ResourceMap::FromSorted(unique);
    all.Add(set.version);
  }
  version_ = all.Finish();
}

std::shared_ptr<const Snapshot> Snapshot::Derive(const Snapshot& previous,
                                                 std::array<TypeUpdate, kNumResourceTypes> updates,
                                                 std::vector<Reference> references) {
  std::shared_ptr<Snapshot> out(new Snapshot());
  out->node_cluster_ = previous.node_cluster_;
  out->references_ = std::move(references);
  Hasher all;
  for (size_t i = 0; i < kNumResourceTypes; ++i) {
    const TypeSet& before = previous.types_[i];
    TypeSet& set = out->types_[i];
    set.resources = before.resources;
    set.digest_sum = before.digest_sum;
    set.changes.known = true;
    set.changes.from_version = before.version;
    TypeUpdate& u = updates[i];
    std::sort(u.erase.begin(), u.erase.end());
    u.erase.erase(std::unique(u.erase.begin(), u.erase.end()), u.erase.end());
    for (const auto& name : u.erase) {
      const ResourcePtr* old = set.resources.Lookup(name);
      if (!old) continue;
      set.digest_sum = Sub(set.digest_sum, (*old)->entry_digest);
      set.resources = set.resources.Erase(name);
      set.changes.removed.push_back(name);
    }
    for (auto& r : u.set) {
      const ResourcePtr* old = set.resources.Lookup(r->name);
      if (old && (*old == r || ((*old)->version == r->version && (*old)->wildcard == r->wildcard))) continue;
      if (old) set.digest_sum = Sub(set.digest_sum, (*old)->entry_digest);
      set.digest_sum = Add(set.digest_sum, r->entry_digest);
      set.changes.updated.push_back(r->name);
      set.resources = set.resources.Set(std::move(r));
    }
    std::sort(set.changes.updated.begin(), set.changes.updated.end());
    set.changes.updated.erase(std::unique(set.changes.updated.begin(), set.changes.updated.end()),
                              set.changes.updated.end());
    // A name both removed and set again is an update, not a removal.
    std::erase_if(set.changes.removed, [&](const std::string& n) { return set.resources.contains(n); });
    set.version = set.changes.updated.empty() && set.changes.removed.empty()
                      ? before.version
                      : DigestHex(set.digest_sum, set.resources.size());
    all.Add(set.version);
  }
  out->version_ = all.Finish();
  return out;
}

ResourcePtr Snapshot::Find(ResourceType t, const std::string& name) const {
  const ResourcePtr* r = Get(t).resources.Lookup(name);
  return r ? *r : nullptr;
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
