#pragma once
// Shared by the xDS state machine targets: random snapshots over a small universe of names, so
// that subscriptions, versions and removals collide often.
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "cache/resource.h"
#include "cache/snapshot.h"
#include "fuzz_input.h"

namespace tern::fuzz {

inline constexpr std::array<const char*, 5> kNames = {"n0", "n1", "n2", "n3", "*"};

// Each type holds a random subset of n0..n3, each in one of three contents, each visible to
// wildcard subscribers or not. Virtual hosts are "rc/<name>" with a domain.
inline cache::SnapshotPtr RandomSnapshot(FuzzInput& in) {
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
  for (ResourceType t : kAdsOrder) {
    const uint8_t present = in.Byte();
    for (size_t i = 0; i < 4; ++i) {
      if (!(present & (1u << i))) continue;
      const std::string name = kNames[i];
      const bool wildcard = !((present >> 6) & 1) || i != 3;
      // The flag is in the body: a resource that changes it changes version, as the
      // translator's do (it is in no version: see DeriveTo).
      const std::string body = name + "@v" + std::to_string((present >> 4) % 3 + i) + (wildcard ? "" : "-named");
      if (t == ResourceType::kVirtualHost) {
        res[static_cast<size_t>(t)].push_back(
            cache::MakeResource(t, "rc/" + name, body, wildcard, {name + ".example.com"}));
      } else {
        res[static_cast<size_t>(t)].push_back(cache::MakeResource(t, name, body, wildcard));
      }
    }
  }
  return std::make_shared<cache::Snapshot>("edge", std::move(res));
}

// `to`'s contents derived from `from` (Snapshot::Derive), so that the result records per type
// what changed. Sets *flag_only when a resource changed only whether wildcards see it (that is
// in no version, so a stream fed `to` from scratch cannot see it: comparing the two is void).
inline cache::SnapshotPtr DeriveTo(const cache::Snapshot& from, const cache::Snapshot& to, bool* flag_only) {
  std::array<cache::TypeUpdate, kNumResourceTypes> updates;
  for (ResourceType t : kAdsOrder) {
    const auto& before = from.Get(t).resources;
    const auto& after = to.Get(t).resources;
    auto& u = updates[static_cast<size_t>(t)];
    for (const auto& [name, r] : before) {
      if (!after.contains(name)) u.erase.push_back(name);
    }
    for (const auto& [name, r] : after) {
      const cache::ResourcePtr* old = before.Lookup(name);
      if (old && (*old)->version == r->version && (*old)->wildcard != r->wildcard) *flag_only = true;
      if (!old || (*old)->version != r->version || (*old)->wildcard != r->wildcard) u.set.push_back(r);
    }
  }
  return cache::Snapshot::Derive(from, std::move(updates));
}

// The same contents built from scratch: no change lists (a stream compares everything).
inline cache::SnapshotPtr FromScratch(const cache::Snapshot& s) {
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
  for (ResourceType t : kAdsOrder) {
    for (const auto& [name, r] : s.Get(t).resources) res[static_cast<size_t>(t)].push_back(r);
  }
  return std::make_shared<cache::Snapshot>(s.node_cluster(), std::move(res));
}

// The next snapshot of a run: from scratch, derived from the current one (the stream holds its
// predecessor: the O(changes) path), or derived through a snapshot the stream never sees (it is
// two behind: the full comparison).
inline cache::SnapshotPtr NextSnapshot(FuzzInput& in, const cache::SnapshotPtr& current, bool* flag_only) {
  cache::SnapshotPtr next = RandomSnapshot(in);
  const size_t how = in.Below(3);
  if (how == 0) return next;
  cache::SnapshotPtr from = current;
  if (how == 2) from = DeriveTo(*from, *RandomSnapshot(in), flag_only);
  return DeriveTo(*from, *next, flag_only);
}

inline ResourceType RandomType(FuzzInput& in, bool with_vhds) {
  static constexpr std::array<ResourceType, 6> kTypes = {ResourceType::kCluster, ResourceType::kEndpoint,
                                                         ResourceType::kListener, ResourceType::kRoute,
                                                         ResourceType::kSecret, ResourceType::kVirtualHost};
  return kTypes[in.Below(with_vhds ? 6 : 5)];
}

inline uint64_t NonceNumber(const std::string& nonce) {
  uint64_t n = 0;
  for (char c : nonce) {
    FUZZ_CHECK(c >= '0' && c <= '9', "nonce is not a number: " + nonce);
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

}  // namespace tern::fuzz
