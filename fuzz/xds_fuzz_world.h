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
      const std::string body = name + "@v" + std::to_string((present >> 4) % 3 + i);
      const bool wildcard = !((present >> 6) & 1) || i != 3;
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
