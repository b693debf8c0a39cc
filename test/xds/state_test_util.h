#pragma once
// What sotw_state_test.cc and delta_state_test.cc share: snapshots built from a table of contents,
// and one stream driven the way the reactor drives it (requests in, responses out), without gRPC.
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "cache/snapshot.h"
#include "xds/sotw_state.h"  // PendingResponse, RequestKind, TypeInfo

namespace tern::xds {

// Resource contents by type and name; a body is "<name>@<content>", so a test can tell which
// resources, at which content, a response carried.
using Contents = std::map<ResourceType, std::map<std::string, std::string>>;
// VHDS: the domains of a virtual host, by its name.
using Domains = std::map<std::string, std::vector<std::string>>;

// A snapshot of node cluster "edge" holding `contents`. Virtual hosts are not wildcard resources
// (a client asks for them by domain), every other type is.
inline cache::SnapshotPtr Snap(const Contents& contents, const Domains& domains = {}) {
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
  for (const auto& [type, m] : contents) {
    for (const auto& [name, body] : m) {
      std::vector<std::string> d;
      if (auto it = domains.find(name); it != domains.end()) d = it->second;
      res[static_cast<size_t>(type)].push_back(
          cache::MakeResource(type, name, name + "@" + body, type != ResourceType::kVirtualHost, d));
    }
  }
  return std::make_shared<cache::Snapshot>("edge", std::move(res));
}

// `contents` with resource `name` of `type` set to `body` (added or changed): the next snapshot
// of a story, built from the one before.
inline Contents With(Contents contents, ResourceType type, const std::string& name, const std::string& body) {
  contents[type][name] = body;
  return contents;
}

// One stream of a protocol state (SotwState, DeltaState): requests in, responses out, as the
// reactor drives it. `Parse` turns a PendingResponse into what the test's proxy reads (`Seen`).
template <typename State, typename Request, typename Seen, Seen (*Parse)(const PendingResponse&)>
class StateStream {
 public:
  explicit StateStream(std::optional<ResourceType> fixed = std::nullopt) : state_(fixed) {}

  // Hands a request to the state; it must be accepted (a protocol error fails the test).
  RequestKind Send(const Request& req) {
    RequestKind kind{};
    ResourceType type{};
    absl::Status s = state_.OnRequest(req, &kind, &type);
    EXPECT_TRUE(s.ok()) << s;
    return kind;
  }
  // The response the state would send now for `snapshot`; nullopt: nothing is sent.
  std::optional<Seen> Next(const cache::SnapshotPtr& snapshot) {
    auto p = state_.NextResponse(snapshot);
    if (!p) return std::nullopt;
    return Parse(*p);
  }
  // Send, then Next: a request and the response it gets from `snapshot` (nullopt: none).
  std::optional<Seen> Exchange(const Request& req, const cache::SnapshotPtr& snapshot) {
    Send(req);
    return Next(snapshot);
  }
  const TypeInfo& info(ResourceType t) const { return state_.info(t); }

 private:
  State state_;
};

}  // namespace tern::xds
